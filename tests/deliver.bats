#!/usr/bin/env bats
# Delivery into mbox and through an MDA, against the real Dovecot: what
# arrived is read back by independent readers (Python's mailbox module,
# procmail's formail), the MDA is real procmail or a small script, and the
# server's own Maildir says what was left there.

load lib/common

setup() {
  pf_setup
  dovecot_start
}

teardown() {
  if [[ -n ${HOLDER_PID:-} ]]; then kill "$HOLDER_PID" 2>/dev/null || true; fi
  if [[ -n ${SMALLFS:-} ]] && mountpoint -q "$SMALLFS"; then umount "$SMALLFS" || true; fi
  pf_teardown
}

# put_samples N: N distinct messages with awkward bodies, kept in $W/orig/.
put_samples() {
  mkdir -p "$W/orig"
  local i
  for ((i = 1; i <= $1; i++)); do
    printf 'Return-Path: <s%d@example.org>\nFrom: s%d@example.org\nSubject: msg %d\n\nFrom the start of a line\n>From quoted once\n>>From twice\nbody %d\n' \
      "$i" "$i" "$i" "$i" >"$W/orig/$i"
    dovecot_put alice "$W/orig/$i"
  done
}

# rc_delivery KIND VALUE [lines...]: an account on Dovecot delivering there.
rc_delivery() {
  local kind=$1 value=$2
  shift 2
  pf_rc_dovecot implicit "$@"
  sed -i '/^delivery /d' "$RC"
  value=${value//\\/\\\\}
  value=${value//\"/\\\"}
  printf 'delivery %s "%s"\n' "$kind" "$value" >>"$RC"
}

@test "mbox: mboxrd read back intact by Python and formail, From_ lines from Return-Path" {
  put_samples 4
  printf 'Subject: no final newline\n\nlast line' >"$W/orig/5"
  printf 'Subject: empty body\n\n' >"$W/orig/6"
  dovecot_put alice "$W/orig/5"
  dovecot_put alice "$W/orig/6"
  rc_delivery mbox "$W/mbox"
  pf_run
  [ "$status" -eq 0 ]
  mailcheck mbox-same "$W/mbox" "$W"/orig/*
  mailcheck received "$W/mbox" POP3S
  [ "$(formail -s echo x <"$W/mbox" | wc -l)" -eq 6 ]
  grep -q '^From s1@example.org ... ... .. ..:..:.. [0-9]\{4\}$' "$W/mbox"
  grep -q '^From MAILER-DAEMON ' "$W/mbox"
  [ "$(stat -c %a "$W/mbox")" = 600 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  # a second run appends after what is there
  put_samples 1
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$W/mbox")" -eq 7 ]
}

@test "mbox: a file that is not an mbox is refused, left alone, nothing deleted" {
  put_samples 2
  printf 'this is not a mailbox\n' >"$W/mbox"
  cp "$W/mbox" "$W/mbox.before"
  rc_delivery mbox "$W/mbox"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"not an mbox"* ]] || [[ $output == *"does not start with"* ]]
  cmp "$W/mbox" "$W/mbox.before"
  [ "$(dovecot_count alice)" -eq 2 ]
}

@test "mbox: a writer holding the dotlock is waited for, never interleaved" {
  put_samples 3
  printf 'From other@example.org Mon Nov 23 10:00:00 2026\nSubject: theirs\n\nfirst half\n' >"$W/mbox"
  chmod 600 "$W/mbox"
  # another program holds FILE.lock for 2 s while it appends a message in two parts
  "$DC_PYTHON" - "$W/mbox" <<'EOF' &
import os, sys, time
p = sys.argv[1]
fd = os.open(p + ".lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
with open(p + ".held", "w"):
    pass
with open(p, "ab") as f:
    time.sleep(1)
    f.write(b"second half\n\n")
    f.flush()
    time.sleep(1)
os.unlink(p + ".lock")
EOF
  HOLDER_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do if [[ -e $W/mbox.held ]]; then break; fi; sleep 0.02; done
  rc_delivery mbox "$W/mbox"
  local t0=$SECONDS
  pf_run
  [ "$status" -eq 0 ]
  [ $((SECONDS - t0)) -ge 1 ]
  wait "$HOLDER_PID"
  HOLDER_PID=
  [ "$(mailcheck count "$W/mbox")" -eq 4 ]
  # their message is whole and first, ours follow whole
  head -n 5 "$W/mbox" | grep -q '^second half$'
  mailcheck mbox-same "$W/mbox" "$W"/orig/* <(printf 'Subject: theirs\n\nfirst half\nsecond half\n')
  [ ! -e "$W/mbox.lock" ]
}

@test "mbox: a full disk leaves the mbox exactly as it was; the next run delivers once" {
  SMALLFS=$W/small
  mkdir -p "$SMALLFS"
  mount -t tmpfs -o size=256k tmpfs "$SMALLFS" 2>/dev/null || skip "cannot mount a small tmpfs here"
  # two small messages, then one that cannot fit
  put_samples 2
  head -c 400000 /dev/zero | tr '\0' 'x' | fold -w 76 >"$W/big.body"
  { printf 'Subject: too big\n\n'; cat "$W/big.body"; } >"$W/orig/3"
  dovecot_put alice "$W/orig/3"
  rc_delivery mbox "$SMALLFS/mbox"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"message 3 was not delivered"* ]]
  [ "$(mailcheck count "$SMALLFS/mbox")" -eq 2 ]
  mailcheck mbox-same "$SMALLFS/mbox" "$W/orig/1" "$W/orig/2"
  [ "$(dovecot_count alice)" -eq 1 ]
  # room again (a bigger filesystem): the next run delivers it, once
  cp "$SMALLFS/mbox" "$W/mbox"
  umount "$SMALLFS"
  SMALLFS=
  rc_delivery mbox "$W/mbox"
  pf_run
  [ "$status" -eq 0 ]
  mailcheck mbox-same "$W/mbox" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "MDA: real procmail files every message intact into a Maildir" {
  put_samples 5
  mkdir -p "$W/pm"
  printf 'MAILDIR=%s/\nDEFAULT=%s/\nLOGFILE=%s/pm/log\nVERBOSE=off\n' "$W/pm/Maildir" "$W/pm/Maildir" "$W" >"$W/pm/rc"
  chmod 600 "$W/pm/rc"
  rc_delivery mda "/usr/bin/procmail -p -m $W/pm/rc"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; cat "$W/pm/log"; false; }
  mailcheck same "$W/pm/Maildir" "$W"/orig/*
  mailcheck received "$W/pm/Maildir" POP3S
  [ "$(dovecot_count alice)" -eq 0 ]
}

# a recording MDA: its argv one per line to $W/argv.N, the environment it
# was given to $W/env.N, the message to $W/in.N; exit status from $W/exit.N
make_recorder() {
  cat >"$W/rec" <<EOF
#!/bin/sh
n=\$(( \$(cat "$W/n" 2>/dev/null || echo 0) + 1 ))
echo \$n >"$W/n"
for a in "\$@"; do printf '%s\n' "\$a"; done >"$W/argv.\$n"
env | grep '^POPFETCH_' | sort >"$W/env.\$n"
cat >"$W/in.\$n"
[ -f "$W/exit.\$n" ] && exit \$(cat "$W/exit.\$n")
exit 0
EOF
  chmod 755 "$W/rec"
}

@test "MDA: %F %T %U %H with hostile header values stay one word and run nothing" {
  make_recorder
  printf 'Return-Path: <$(touch %s/pwned)@x.org;rm -rf /`id`>\nFrom: "a\\" ; touch %s/pwned2" <b@c>\nSubject: evil\n\nbody\n' \
    "$W" "$W" >"$W/evil"
  dovecot_put alice "$W/evil"
  rc_delivery mda "$W/rec -f %F -t %T --user=%U 'host %H'"
  pf_run
  [ "$status" -eq 0 ]
  [ ! -e "$W/pwned" ]
  [ ! -e "$W/pwned2" ]
  [ "$(wc -l <"$W/argv.1")" -eq 6 ]
  [ "$(sed -n 1p "$W/argv.1")" = -f ]
  local sender
  sender=$(sed -n 2p "$W/argv.1")
  [[ $sender != *'$('* && $sender != *';'* && $sender != *'`'* && $sender != *' '* ]]
  [[ $sender == *x.org* ]]
  [ "$(sed -n 4p "$W/argv.1")" = "$(id -un)" ]
  [ "$(sed -n 5p "$W/argv.1")" = --user=alice ]
  [ "$(sed -n 6p "$W/argv.1")" = "host 127.0.0.1" ]
  grep -qx 'POPFETCH_ACCOUNT=t' "$W/env.1"
  grep -qx 'POPFETCH_SERVER=127.0.0.1' "$W/env.1"
  grep -q '^POPFETCH_UIDL=.' "$W/env.1"
  grep -qx "POPFETCH_SIZE=$(stat -c %s "$W/in.1")" "$W/env.1"
  # the MDA saw the whole message after the Received: field
  tail -n +5 "$W/in.1" | cmp - "$W/evil"
}

@test "MDA: exit 75 on message 3 of 5 leaves exactly it on the server; the next run delivers it" {
  put_samples 5
  make_recorder
  echo 75 >"$W/exit.3"
  rc_delivery mda "$W/rec"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"message 3 was not delivered"* ]]
  [[ $output == *"retried"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
  grep -q 'Subject: msg 3' "$(dovecot_maildir alice)"/*/*
  # the next run delivers it (the recorder now exits 0 for call 6)
  pf_run
  [ "$status" -eq 0 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  grep -q 'Subject: msg 3' "$W/in.6"
  for i in 1 2 4 5; do if grep -q 'Subject: msg 3' "$W/in.$i"; then false; fi; done
}

@test "MDA: other exit codes and signals are permanent failures named with their meaning" {
  put_samples 3
  make_recorder
  echo 67 >"$W/exit.1"
  rc_delivery mda "$W/rec"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"exit status 67"* ]]
  [[ $output == *"addressee unknown"* ]] || [[ $output == *"NOUSER"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
  # killed by a signal
  rc_delivery mda "/bin/sh -c 'cat >/dev/null; kill -9 \$\$'"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"signal 9"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "MDA: one that sleeps past mda_timeout is killed; the message stays" {
  put_samples 1
  rc_delivery mda "/bin/sh -c 'cat >/dev/null; sleep 30'" "mda_timeout 1"
  local t0=$SECONDS
  pf_run
  [ "$status" -eq 10 ]
  [ $((SECONDS - t0)) -lt 15 ]
  [[ $output == *"did not finish within 1 s"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "MDA: SIGTERM to popfetch stops the MDA's process group at once; exit 23, the message stays" {
  put_samples 2
  printf '#!/bin/sh\ncat >/dev/null\nsleep 30 &\necho $! >"%s"\nwait\n' "$W/sleep.pid" >"$W/mda.sh"
  chmod 755 "$W/mda.sh"
  rc_delivery mda "$W/mda.sh"
  "$POPFETCH" -f "$RC" --state-dir "$SD" 2>"$W/err" &
  local pid=$! rc=0 i t0
  for ((i = 0; i < 500; i++)); do
    if [[ -s $W/sleep.pid ]]; then break; fi
    sleep 0.02
  done
  HOLDER_PID=$(<"$W/sleep.pid") # teardown kills the MDA's sleep if it is left
  t0=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  cat "$W/err"
  [ "$rc" -eq 23 ]
  [ $((($(date +%s%N) - t0) / 1000000)) -lt 3000 ]
  grep -q "message 1 was not delivered (it stays on the server): stopped by SIGTERM while the MDA ran" "$W/err"
  # the MDA's own child went with it
  for ((i = 0; i < 100; i++)); do
    kill -0 "$HOLDER_PID" 2>/dev/null || break
    sleep 0.02
  done
  run kill -0 "$HOLDER_PID"
  [ "$status" -eq 1 ]
  [ "$(dovecot_count alice)" -eq 2 ]
  [ "$(find "$MD" -type f | wc -l)" -eq 0 ]
}

@test "MDA: one that exits without reading its input has failed" {
  put_samples 1
  head -c 300000 /dev/zero | tr '\0' 'y' | fold -w 70 >"$W/orig/2"
  dovecot_put alice "$W/orig/2"
  rc_delivery mda "/bin/true"
  pf_run
  [ "$status" -eq 10 ]
  [ "$(dovecot_count alice)" -eq 2 ]
  [[ $output == *"did not read"* ]] || [[ $output == *"was stopped"* ]]
}

@test "MDA: its stderr reaches ours, named and made safe" {
  put_samples 1
  rc_delivery mda "/bin/sh -c 'cat >/dev/null; printf \"bad\\033[2Jthing\\n\" >&2'"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"popfetch: t: MDA: bad\\x1b[2Jthing"* ]]
}

@test "--mbox, --maildir and -m on the command line replace delivery" {
  put_samples 1
  pf_rc_dovecot implicit "keep on"
  pf_run --mbox "$W/cli.mbox"
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$W/cli.mbox")" -eq 1 ]
  [ ! -d "$MD" ]
  pf_run -a --maildir "$W/cli.md"
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$W/cli.md")" -eq 1 ]
  make_recorder
  pf_run -a -m "$W/rec %U"
  [ "$status" -eq 0 ]
  [ "$(cat "$W/argv.1")" = alice ]
  pf_run -m "$W/rec ; reboot"
  [ "$status" -eq 5 ]
  [[ $output == *"--mda"* ]]
}

@test "received_header: off delivers the bytes unchanged; STLS says POP3S, clear text POP3" {
  put_samples 2
  pf_rc_dovecot implicit "received_header off"
  pf_run
  [ "$status" -eq 0 ]
  for f in "$MD"/new/*; do if head -n 1 "$f" | grep -q '^Received:'; then false; fi; done
  mailcheck same "$MD" "$W"/orig/*
  rm -rf "$MD"
  put_samples 1
  pf_rc_dovecot starttls
  pf_run
  [ "$status" -eq 0 ]
  mailcheck received "$MD" POP3S
  rm -rf "$MD"
  put_samples 1
  pf_rc_dovecot off "allow_plaintext on"
  sed -i "s/^port .*/port $DC_POP3_PORT/" "$RC"
  pf_run
  [ "$status" -eq 0 ]
  mailcheck received "$MD" POP3
}

# gen_msg FILE SUBJECT KBYTES: a message of about KBYTES KiB.
gen_msg() {
  { printf 'Subject: %s\n\n' "$2"; head -c $(($3 * 1024)) /dev/zero | tr '\0' 'z' | fold -w 63; } >"$1"
}

@test "a file-size limit (ulimit -f): the message over it fails cleanly, the others are delivered" {
  # Maildir: message 3 (300 KiB) cannot be written under a 200 KiB limit
  mkdir -p "$W/orig"
  gen_msg "$W/orig/1" one 2
  gen_msg "$W/orig/2" two 2
  gen_msg "$W/orig/3" three 300
  gen_msg "$W/orig/4" four 2
  local i
  for i in 1 2 3 4; do dovecot_put alice "$W/orig/$i"; done
  pf_rc_dovecot implicit
  run bash -c 'ulimit -f 200 && exec "$@"' sh "$POPFETCH" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 10 ] || { echo "status $status: $output"; false; }
  [[ $output == *"message 3 was not delivered"* ]]
  [[ $output == *"File too large"* ]] || { echo "$output"; false; }
  mailcheck same "$MD" "$W/orig/1" "$W/orig/2" "$W/orig/4"
  mailcheck clean "$MD"
  [ "$(dovecot_count alice)" -eq 1 ]
  # mbox: the third message of 90 KiB would take the file past 200 KiB; it
  # is rolled back, the fourth still fits
  local smd
  smd=$(dovecot_maildir alice)
  find "$smd/new" "$smd/cur" -maxdepth 1 -type f -delete
  rm -rf "$SD"
  gen_msg "$W/orig/1" one 90
  gen_msg "$W/orig/2" two 90
  gen_msg "$W/orig/3" three 90
  for i in 1 2 3 4; do dovecot_put alice "$W/orig/$i"; done
  rc_delivery mbox "$W/mbox"
  run bash -c 'ulimit -f 200 && exec "$@"' sh "$POPFETCH" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 10 ] || { echo "status $status: $output"; false; }
  [[ $output == *"message 3 was not delivered"* ]]
  [[ $output == *"File too large"* ]] || { echo "$output"; false; }
  mailcheck mbox-same "$W/mbox" "$W/orig/1" "$W/orig/2" "$W/orig/4"
  [ ! -e "$W/mbox.lock" ]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "mbox: the lock of a process of this host that no longer runs is removed at once, with a warning" {
  put_samples 2
  # what a popfetch killed while appending leaves: FILE.lock saying "PID HOST"
  sleep 0 &
  local dead=$!
  wait "$dead"
  printf '%s %s\n' "$dead" "$(hostname)" >"$W/mbox.lock"
  rc_delivery mbox "$W/mbox"
  local t0=$SECONDS
  pf_run
  [ "$status" -eq 0 ] || { echo "status $status: $output"; false; }
  [ $((SECONDS - t0)) -lt 10 ]
  [[ $output == *"removed the lock file $W/mbox.lock left by process $dead, which no longer runs"* ]]
  mailcheck mbox-same "$W/mbox" "$W"/orig/*
  [ ! -e "$W/mbox.lock" ]
}

@test "MDA: a program that does not exist or cannot run stops the account before any RETR: one error, exit 10" {
  put_samples 3
  printf '#!/bin/sh\ncat >/dev/null\n' >"$W/not-exec"
  chmod 644 "$W/not-exec"
  local cmd
  for cmd in "$W/no-such-mda -d %T" "no-such-mda-anywhere -d %T" "$W/not-exec" "$W"; do
    rc_delivery mda "$cmd"
    pf_run
    [ "$status" -eq 10 ] || { echo "$cmd: exit $status: $output"; false; }
    # one error (its hint on the next line), nothing fetched
    [ "$(grep -c 'popfetch: t: ' <<<"$output")" -eq 1 ] || { echo "$cmd: $output"; false; }
    [[ $output == *"before fetching anything: cannot run the MDA "* ]] || { echo "$output"; false; }
    [ "$(dovecot_retr_del_counts)" = "0 0" ]
    [ "$(dovecot_count alice)" -eq 3 ]
  done
  [[ $output == *"Permission denied"* ]]
  # found on PATH: runs (the usual case, a bare name)
  rc_delivery mda "cat"
  pf_run
  [ "$status" -eq 0 ]
}

@test "a journal that cannot be written (disk full): said once, the messages failed, nothing left in tmp/, the next run fetches them once" {
  SMALLFS=$W/small
  mkdir -p "$SMALLFS"
  mount -t tmpfs -o size=64k tmpfs "$SMALLFS" 2>/dev/null || skip "cannot mount a small tmpfs here"
  put_samples 3
  rc_delivery maildir "$MD"
  mkdir -m 700 "$SMALLFS/state"
  touch "$SMALLFS/state/alice@127.0.0.1.lock"
  dd if=/dev/zero of="$SMALLFS/fill" bs=4k 2>/dev/null || true # the disk is full
  run "$POPFETCH" -f "$RC" --state-dir "$SMALLFS/state" -v
  [ "$status" -eq 10 ]
  [ "$(grep -c '^popfetch: t: cannot write journal' <<<"$output")" -eq 1 ] || { echo "$output"; false; }
  [[ $output == *"0 messages (0 bytes) retrieved, 0 deleted, 3 failed, in "* ]] || { echo "$output"; false; }
  [ -z "$(ls -A "$MD/tmp")" ] || { ls -l "$MD/tmp"; false; }
  [ -z "$(ls -A "$MD/new")" ]
  [ "$(dovecot_count alice)" -eq 3 ]
  # room again: the next run fetches each message once
  rm "$SMALLFS/fill"
  run "$POPFETCH" -f "$RC" --state-dir "$SMALLFS/state"
  [ "$status" -eq 0 ]
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}
