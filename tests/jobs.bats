#!/usr/bin/env bats
# -j/--jobs: accounts fetched side by side, each in its own process. Two
# scripted servers that take 3 s each, one real Dovecot account, and one
# account whose server is not there.

load lib/common

T=$BATS_TEST_DIRNAME/transcripts

setup() { pf_setup; }

teardown() {
  if [[ -n ${FAKE2_PID:-} ]]; then kill "$FAKE2_PID" 2>/dev/null || true; wait "$FAKE2_PID" 2>/dev/null || true; fi
  pf_teardown
}

# account NAME PORT USER PASSWORD TLSFILE MAILDIR: different servers behind
# one host name (127.0.0.1), so each gets its own state_key
account() {
  printf 'account %s\nhost 127.0.0.1\nport %s\nuser %s\npassword %s\ntls_trust_file %s\ndelivery maildir %s\nstate_key %s\n\n' \
    "$@" "$1" >>"$RC"
}

four_accounts() {
  dovecot_start
  local i
  for i in 1 2 3; do printf 'Subject: j%d\n\nbody\n' "$i" | dovecot_put alice; done
  fake_start "$T/slow-after-login.txt" --implicit-tls
  FAKE2_PID=$FAKE_PID
  local p1=$FAKE_PORT
  fake_start "$T/slow-after-login.txt" --implicit-tls
  : >"$RC"
  if [[ -n ${1:-} ]]; then printf 'defaults\n%s\n\n' "$1" >>"$RC"; fi
  account slow1 "$p1" alice secret "$FAKE_CA" "$W/md1"
  account slow2 "$FAKE_PORT" alice secret "$FAKE_CA" "$W/md2"
  account real "$DC_POP3S_PORT" alice secret "$DC_CA" "$MD"
  account gone 1 alice secret "$DC_CA" "$W/md4"
  chmod 600 "$RC"
}

@test "-j 4: accounts run side by side; one failing changes nobody else's result" {
  four_accounts
  local t0=$SECONDS
  pf_run -j 4 -v
  local took=$((SECONDS - t0))
  # the first failure in config order decides the status: gone cannot connect
  [ "$status" -eq 2 ]
  [ "$took" -lt 6 ] || { echo "took $took s: not in parallel"; false; }
  [ "$(mailcheck count "$MD")" -eq 3 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  [[ $output == *"popfetch: gone: cannot connect"* ]]
  [[ $output == *"popfetch: real: 3 messages"* ]]
  [[ $output == *"popfetch: slow1: 0 messages"* ]]
  [[ $output == *"popfetch: slow2: 0 messages"* ]]
  # every line is whole and names its account
  run grep -vE -e '^  \(' -e '^popfetch: (slow1|slow2|real|gone): ' <<<"$output"
  [ "$status" -eq 1 ] || { echo "lines that name no account: $output"; false; }
  fake_stop
  wait "$FAKE2_PID"
  FAKE2_PID=
}

@test "jobs in defaults works like -j; in an account it is an error" {
  four_accounts "jobs 4"
  local t0=$SECONDS
  pf_run real slow1 slow2
  [ "$status" -eq 0 ]
  [ $((SECONDS - t0)) -lt 6 ]
  [ "$(mailcheck count "$MD")" -eq 3 ]
  printf 'account x\nhost h\nuser u\njobs 2\ndelivery maildir %s\n' "$MD" >"$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"popfetchrc:4: \`jobs\` belongs in the \`defaults\` section"* ]]
}

@test "-j: SIGTERM reaches every running account, and the exit is not 0" {
  four_accounts
  "$POPFETCH" -q -j 4 -f "$RC" --state-dir "$SD" &
  local pid=$!
  sleep 1.5
  local kids k
  kids=$(pgrep -P "$pid")
  [ "$(echo "$kids" | wc -w)" -ge 2 ]
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 23 ] # stopped by a signal
  # no account process is left behind
  for k in $kids; do if kill -0 "$k" 2>/dev/null; then false; fi; done
}
