#!/usr/bin/env bats
# End-to-end fetches from a real Dovecot: POP3S and STLS into Maildir, keep
# and delete, awkward message bytes, wrong password. What arrived is read
# back with Python's mailbox module and compared byte for byte.

load lib/common

setup() {
  pf_setup
  dovecot_start
}

teardown() { pf_teardown; }

# put_samples N: N small distinct messages, also kept in $W/orig/.
put_samples() {
  mkdir -p "$W/orig"
  local i
  for ((i = 1; i <= $1; i++)); do
    printf 'From: s%d@example.org\nTo: alice@example.org\nSubject: sample %d\n\nbody %d\nline two\n' \
      "$i" "$i" "$i" >"$W/orig/$i"
    dovecot_put alice "$W/orig/$i"
  done
}

@test "POP3S: fetches every message byte for byte and deletes them" {
  put_samples 5
  pf_rc_dovecot implicit
  pf_run
  [ "$status" -eq 0 ]
  [ -z "$output" ]                      # silent on success
  mailcheck same "$MD" "$W"/orig/*
  mailcheck clean "$MD"
  [ "$(dovecot_count alice)" -eq 0 ]
  [ "$(dovecot_retr_del_counts)" = "5 5" ]
}

@test "70 messages, committed as a group of 64 and one of 6 (syncfs and fsync each): all whole, once" {
  put_samples 70
  pf_rc_dovecot implicit
  pf_run
  [ "$status" -eq 0 ]
  mailcheck same "$MD" "$W"/orig/*
  mailcheck clean "$MD"
  [ "$(dovecot_count alice)" -eq 0 ]
  [ "$(dovecot_retr_del_counts)" = "70 70" ]
}

@test "STLS on the plain port: fetches every message" {
  put_samples 3
  pf_rc_dovecot starttls
  pf_run -vv
  [ "$status" -eq 0 ]
  [[ $output == *"> STLS"* ]]
  [[ $output == *"TLSv1."* ]]
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "keep on: messages stay; a second run fetches nothing and exits 1" {
  put_samples 3
  pf_rc_dovecot implicit "keep on"
  pf_run -vv
  [ "$status" -eq 0 ]
  grep -qx 'popfetch: t: > LIST' <<<"$output" # no state yet: every size at once
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 3 ]
  pf_run
  [ "$status" -eq 1 ]
  [ "$(mailcheck count "$MD")" -eq 3 ]
  # a new message arrives: only it is fetched
  printf 'Subject: later\n\nnew one\n' >"$W/orig/4"
  dovecot_put alice "$W/orig/4"
  pf_run -vv
  [ "$status" -eq 0 ]
  # with a state: no LIST of the whole mailbox, the size of the new one only
  if grep -qx 'popfetch: t: > LIST' <<<"$output"; then echo "LIST of the whole mailbox sent"; false; fi
  [ "$(grep -x 'popfetch: t: > \(LIST\|RETR\) 4' <<<"$output" | cut -d' ' -f4)" = "LIST
RETR" ]
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_retr_del_counts)" = "4 0" ]
}

@test "-k and -K override keep from the command line" {
  put_samples 2
  pf_rc_dovecot implicit "keep off"
  pf_run -k
  [ "$status" -eq 0 ]
  [ "$(dovecot_count alice)" -eq 2 ]
  pf_run -K
  [ "$status" -eq 1 ]                   # nothing new, but the seen ones go
  [ "$(dovecot_count alice)" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
}

@test "awkward bytes survive: dots, NUL, 8-bit, 1 MiB line, no final newline, empty body" {
  mkdir -p "$W/orig"
  "$DC_PYTHON" - "$W/orig" <<'PY'
import os, sys
d = sys.argv[1]
msgs = {
    "dots": b"Subject: dots\n\n.\n..\n...\n.leading\n. space\nend\n",
    "nul": b"Subject: nul\n\nbefore\x00after\n\x00\n",
    "8bit": "Subject: 8bit\n\nGr\u00fc\u00dfe \u2014 \u65e5\u672c\n".encode() + b"\xff\xfe latin \xe9\n",
    "longline": b"Subject: long\n\n" + b"x" * (1024 * 1024) + b"\n",
    "nofinal": b"Subject: nofinal\n\nlast line without newline",
    "empty": b"Subject: empty\n\n",
    "crlfish": b"Subject: cr\n\nbare\rcr inside\n",
}
for name, data in msgs.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
PY
  for f in "$W"/orig/*; do dovecot_put alice "$f"; done
  pf_rc_dovecot implicit
  pf_run
  [ "$status" -eq 0 ]
  mailcheck same "$MD" "$W"/orig/*
  mailcheck clean "$MD"
}

@test "wrong password: exit 3, nothing fetched, nothing deleted" {
  put_samples 1
  pf_rc_dovecot implicit
  sed -i 's/^password .*/password wrong/' "$RC"
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"popfetch: t:"*"[AUTH]"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "passwordeval: the first line of the command's output is the password" {
  put_samples 1
  pf_rc_dovecot implicit
  sed -i 's/^password .*/passwordeval "printf '"'"'secret\\\\nignored\\\\n'"'"'"/' "$RC"
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
}

@test "passwordeval failing: exit 3 naming the exit status" {
  pf_rc_dovecot implicit
  sed -i 's/^password .*/passwordeval "exit 4"/' "$RC"
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"exit status 4"* ]]
}

@test "-v prints one summary line; -vv masks the password" {
  put_samples 2
  pf_rc_dovecot implicit "auth user"
  pf_run -vv
  [ "$status" -eq 0 ]
  [[ $output == *"> PASS ****"* ]]
  [[ $output != *secret* ]]
  [[ $output == *"2 messages"*"retrieved, 2 deleted"* ]]
}

@test "untrusted certificate on the real server: exit 2 and no login attempted" {
  put_samples 1
  pf_rc_dovecot implicit
  sed -i '/^tls_trust_file/d' "$RC"
  pf_run
  [ "$status" -eq 2 ]
  [[ $output == *"cannot trust the certificate"* ]]
  [[ $output == *"fingerprint"* ]]
  if grep -q 'Login: user=' "$DC_LOG"; then false; fi
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "no account names: every account runs; a name picks one" {
  put_samples 1
  pf_rc_dovecot implicit "keep on"
  printf 'account u : t\nuser bob\npassword hunter2\ndelivery maildir %s\n' "$W/bobmd" >>"$RC"
  printf 'Subject: for bob\n\nhi bob\n' | dovecot_put bob
  pf_run u
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$W/bobmd")" -eq 1 ]
  [ ! -d "$MD" ]
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
  [ "$(mailcheck count "$W/bobmd")" -eq 1 ]
  pf_run nosuch
  [ "$status" -eq 5 ]
}

@test "PIPELINING: RETRs go out ahead of their replies, DELEs after the group is durable, QUIT behind them" {
  put_samples 5
  pf_rc_dovecot implicit
  pf_run -vv
  [ "$status" -eq 0 ]
  expect_wire "RETR RETR RETR RETR RETR msg msg msg msg msg DELE DELE DELE DELE DELE QUIT deleted deleted deleted deleted deleted bye"
  mailcheck same "$MD" "$W"/orig/*
  # pipelining off: one command, one reply
  put_samples 2
  pf_rc_dovecot implicit "pipelining off"
  pf_run -vv
  [ "$status" -eq 0 ]
  expect_wire "RETR msg RETR msg DELE deleted DELE deleted QUIT bye"
  # keep on: nothing to delete, so QUIT follows the last RETR at once
  put_samples 3
  pf_rc_dovecot implicit "keep on"
  pf_run -vv
  [ "$status" -eq 0 ]
  expect_wire "RETR RETR RETR QUIT msg msg msg bye"
  [ "$(mailcheck count "$MD")" -eq 10 ]  # 5 + 2 + 3
  [ "$(dovecot_count alice)" -eq 3 ]
}
