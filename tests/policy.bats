#!/usr/bin/env bats
# Leave-on-server policies and run control seen from outside: --check,
# --all, max_size, max_messages (exit 13), keep durations, servers without
# UIDL or with duplicate UIDLs, EXPIRE, and the per-account lock (exit 8).

load lib/common

T=$BATS_TEST_DIRNAME/transcripts

setup() { pf_setup; }
teardown() { pf_teardown; }

put_n() { # put_n N: N small messages, kept in $W/orig
  mkdir -p "$W/orig"
  local i
  for ((i = 1; i <= $1; i++)); do
    printf 'Subject: policy %d\n\nbody %d\n' "$i" "$i" >"$W/orig/$i"
    dovecot_put alice "$W/orig/$i"
  done
}

@test "--check counts new mail, fetches nothing, changes nothing on disk (no state dir, no lock file)" {
  dovecot_start
  put_n 3
  pf_rc_dovecot implicit "keep on"
  pf_run -c
  [ "$status" -eq 0 ]
  [[ $output == *"t: 3 new messages (3 on the server)"* ]]
  [ ! -e "$MD" ]
  [ ! -e "$SD" ] || { ls -la "$SD"; false; }
  [ "$(dovecot_retr_del_counts)" = "0 0" ]
  pf_run
  [ "$status" -eq 0 ]
  rm -f "$SD"/*.lock
  find "$SD" -printf '%p %s %T@\n' | sort >"$W/before"
  pf_run --check
  [ "$status" -eq 1 ]
  [[ $output == *"t: 0 new messages (3 on the server)"* ]]
  find "$SD" -printf '%p %s %T@\n' | sort >"$W/after"
  diff "$W/before" "$W/after" # not even a lock file
  # a state an older popfetch kept under user@host:port is read, not moved
  local f old=$SD/alice@127.0.0.1:$DC_POP3S_PORT
  for f in "$SD"/alice@127.0.0.1.*; do mv "$f" "$old.${f##*.}"; done
  pf_run --check
  [ "$status" -eq 1 ]
  [[ $output == *"t: 0 new messages (3 on the server)"* ]]
  [ ! -e "$SD/alice@127.0.0.1.state" ]
}

@test "-a fetches messages seen before again" {
  dovecot_start
  put_n 2
  pf_rc_dovecot implicit "keep on"
  pf_run
  [ "$status" -eq 0 ]
  pf_run -a
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 4 ]
}

@test "max_size leaves big messages on the server and says so once" {
  dovecot_start
  put_n 2
  "$DC_PYTHON" -c 'print("Subject: big\n\n" + "z" * 20000)' >"$W/orig/big"
  dovecot_put alice "$W/orig/big"
  pf_rc_dovecot implicit "max_size 10k"
  pf_run
  [ "$status" -eq 0 ]
  [[ $output == *"message 3 is 20"*"bytes, more than max_size"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
  pf_run
  [ "$status" -eq 1 ]
  [ -z "$output" ]                       # reported once, not every run
  pf_run -l 100k                         # the command line wins
  [ "$status" -eq 0 ]
  mailcheck same "$MD" "$W"/orig/*
}

@test "max_messages: stops after N, exit 13 while more mail waits" {
  dovecot_start
  put_n 5
  pf_rc_dovecot implicit "max_messages 2"
  pf_run
  [ "$status" -eq 13 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
  pf_run
  [ "$status" -eq 13 ]
  pf_run
  [ "$status" -eq 0 ]
  pf_run -B 1
  [ "$status" -eq 1 ]
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "keep DURATION: kept until that long after first seen, then deleted" {
  dovecot_start
  put_n 2
  pf_rc_dovecot implicit "keep 1d"
  pf_run
  [ "$status" -eq 0 ]
  [ "$(dovecot_count alice)" -eq 2 ]
  pf_run
  [ "$status" -eq 1 ]
  [ "$(dovecot_count alice)" -eq 2 ]
  # age the state: first seen two days ago
  local two_days_ago=$(( $(date +%s) - 2 * 86400 ))
  for f in "$SD"/*.state "$SD"/*.journal; do
    # a journal record "D TIME UIDL NAME", a state file's group header "D TIME"
    if [ -f "$f" ]; then sed -i -E "s/^D [0-9]+( |\$)/D $two_days_ago\1/" "$f"; fi
  done
  pf_run
  [ "$status" -eq 1 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
}

@test "server without UIDL: delete mode works" {
  fake_start "$T/no-uidl-delete.txt" --implicit-tls
  pf_rc_fake implicit
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
}

@test "server without UIDL: keep is refused with exit 4, nothing fetched" {
  fake_start "$T/no-uidl-keep.txt" --implicit-tls
  pf_rc_fake implicit "keep on"
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *"does not support UIDL"* ]]
  [[ $output == *"keep off"* ]]
  fake_stop
}

@test "keep on with PIPELINING: QUIT goes out behind the last RETR, before any reply to them" {
  fake_start "$T/keep-quit-pipelined.txt" --implicit-tls
  pf_rc_fake implicit "keep on" "timeout 5"
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
  cat "$SD"/*.state "$SD"/*.journal 2>/dev/null | grep -qw 'uid-one'
  cat "$SD"/*.state "$SD"/*.journal 2>/dev/null | grep -qw 'uid-two'
}

@test "keep on with EXPIRE 0: QUIT waits until the RETRed messages are durable; nothing is guessed" {
  fake_start "$T/keep-expire0.txt" --implicit-tls
  pf_rc_fake implicit "keep on" "timeout 5"
  pf_run -vv
  [ "$status" -eq 0 ]
  fake_stop
  expect_wire "RETR RETR msg msg QUIT"
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
}

@test "RETRs of the messages the state suggests are new go out before the listing; a wrong guess is dropped" {
  fake_start "$T/guess-first-run.txt" --implicit-tls
  pf_rc_fake implicit "keep on" "timeout 5"
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
  # the same port again (the state is the mailbox's, whatever the port)
  fake_start "$T/guess-wrong.txt" --implicit-tls --port "$FAKE_PORT"
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml" "$T/messages/three.eml"
}

# first_run_then TRANSCRIPT: guess-first-run.txt delivers messages 1 and 2
# and leaves a state; then TRANSCRIPT plays the second run on the same port.
first_run_then() {
  fake_start "$T/guess-first-run.txt" --implicit-tls
  pf_rc_fake implicit "keep on" "timeout 5"
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  fake_start "$T/$1" --implicit-tls --port "$FAKE_PORT"
  pf_run -v
}

@test "with a state, no LIST of the whole mailbox: LIST n before each RETR n; a refused LIST n still fetches" {
  first_run_then list-n-refused.txt
  [ "$status" -eq 0 ]
  # the size it could not list is counted as delivered
  [[ $output == *"1 message ($(wc -c <"$T/messages/three.eml") bytes) retrieved"* ]]
  fake_stop
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml" "$T/messages/three.eml"
}

@test "LIST n answered with another message's number: exit 4, nothing more delivered" {
  first_run_then list-n-wrong.txt
  [ "$status" -eq 4 ]
  [[ $output == *'impossible LIST line: "2 30"'* ]]
  fake_stop
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
}

@test "duplicate UIDLs: each message fetched once, the UIDL recorded once; EXPIRE 0 warned" {
  fake_start "$T/duplicate-uidls.txt" --implicit-tls
  pf_rc_fake implicit "keep on"
  pf_run
  [ "$status" -eq 0 ]
  [[ $output == *"EXPIRE 0"* ]]
  fake_stop
  [ "$(mailcheck count "$MD")" -eq 3 ]
  [ "$(cat "$SD"/*.state | grep -cx 'same-uid')" -eq 1 ]
}

@test "a second popfetch on the same account exits 8 naming the holder" {
  fake_start "$T/slow-after-login.txt" --implicit-tls
  pf_rc_fake implicit
  "$POPFETCH" -q -f "$RC" --state-dir "$SD" &
  local first=$!
  sleep 1
  pf_run
  [ "$status" -eq 8 ]
  [[ $output == *"another popfetch (pid $first)"* ]]
  local rc=0
  wait "$first" || rc=$?
  [ "$rc" -eq 1 ] # the first one finds no mail
  fake_stop
}

@test "state files are private (0600) whatever the umask" {
  dovecot_start
  printf 'Subject: p\n\nbody\n' | dovecot_put alice
  pf_rc_dovecot implicit "keep on"
  umask 022
  pf_run
  [ "$status" -eq 0 ]
  local f
  for f in "$SD"/*; do
    [ "$(stat -c %a "$f")" = 600 ] || { echo "$f is $(stat -c %a "$f")"; false; }
  done
}

@test "the state is the mailbox's (user@host): switching between 995 and 110 fetches nothing twice" {
  dovecot_start
  put_n 3
  pf_rc_dovecot implicit "keep on"
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 3 ]
  [ -f "$SD/alice@127.0.0.1.state" ] || [ -f "$SD/alice@127.0.0.1.journal" ] || { ls "$SD"; false; }
  pf_rc_dovecot starttls "keep on"
  pf_run
  [ "$status" -eq 1 ]
  [ "$(mailcheck count "$MD")" -eq 3 ]
}

@test "a state kept under user@host:port is moved to user@host on first use, nothing fetched again" {
  dovecot_start
  put_n 2
  pf_rc_dovecot implicit "keep on"
  pf_run
  [ "$status" -eq 0 ]
  # make the state look like one an older popfetch left: user@host:port
  local f old=$SD/alice@127.0.0.1:$DC_POP3S_PORT
  for f in "$SD"/alice@127.0.0.1.*; do mv "$f" "$old.${f##*.}"; done
  put_n 1 # a third message, new
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"t: state $old.* moved to $SD/alice@127.0.0.1.state"* ]] || { echo "$output"; false; }
  [ "$(mailcheck count "$MD")" -eq 3 ] # only the new one was fetched
  [ ! -e "$old.state" ]
  [ ! -e "$old.journal" ]
  [ ! -e "$old.lock" ]
  pf_run
  [ "$status" -eq 1 ]
}

@test "state_key keeps two servers behind one host name apart" {
  dovecot_start
  put_n 2
  pf_rc_dovecot implicit "keep on" "state_key tunnel-a"
  pf_run
  [ "$status" -eq 0 ]
  [ -e "$SD/tunnel-a.state" ] || [ -e "$SD/tunnel-a.journal" ] || { ls "$SD"; false; }
  # the same user@host under another key is another mailbox: fetched again
  pf_rc_dovecot starttls "keep on" "state_key tunnel-b"
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 4 ]
  [ -e "$SD/tunnel-b.state" ] || [ -e "$SD/tunnel-b.journal" ] || { ls "$SD"; false; }
}

@test "max_size under -q: the message left behind is still reported once, where someone can read it" {
  dovecot_start
  put_n 1
  "$DC_PYTHON" -c 'print("Subject: big\n\n" + "z" * 20000)' >"$W/orig/big"
  dovecot_put alice "$W/orig/big"
  pf_rc_dovecot implicit "max_size 10k" "keep on"
  # output that goes nowhere (cron's >/dev/null, a closed stderr): not
  # reported, so it is said again next time
  run bash -c '"$0" -f "$1" --state-dir "$2" -q 2>/dev/null' "$POPFETCH" "$RC" "$SD"
  [ "$status" -eq 0 ]
  run bash -c '"$0" -f "$1" --state-dir "$2" -q 2>&-' "$POPFETCH" "$RC" "$SD"
  [ "$status" -eq 1 ]
  pf_run -q
  [ "$status" -eq 1 ]
  [[ $output == *"t: warning: message 2 is 20"*"bytes, more than max_size; it stays on the server"* ]]
  # once seen, once only
  pf_run -q
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
}
