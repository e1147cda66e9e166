#!/usr/bin/env bats
# -d/--daemon against the real Dovecot: polls on its own, SIGUSR1 polls at
# once, SIGHUP re-reads the config (a broken one is kept out), SIGTERM ends
# it cleanly; --logfile gets timestamped lines; LOGIN-DELAY is honoured.

load lib/common

T=$BATS_TEST_DIRNAME/transcripts

setup() { pf_setup; }

teardown() {
  if [[ -n ${DPID:-} ]]; then kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
  pf_teardown
}

# wait_for CMD...: up to 10 s for CMD to succeed
wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

count_is() { [ "$(mailcheck count "$1")" -eq "$2" ]; }

@test "daemon: polls, SIGUSR1 polls now, SIGHUP re-reads, SIGTERM stops with 0" {
  dovecot_start
  printf 'Subject: d1\n\nbody\n' | dovecot_put alice
  pf_rc_dovecot implicit
  "$POPFETCH" -d 3600 -v -f "$RC" --state-dir "$SD" --logfile "$W/log" &
  DPID=$!
  # the first poll happens at once
  wait_for count_is "$MD" 1
  # a new message waits for the next poll ... or for SIGUSR1
  printf 'Subject: d2\n\nbody\n' | dovecot_put alice
  sleep 1
  count_is "$MD" 1
  kill -USR1 "$DPID"
  wait_for count_is "$MD" 2
  # SIGHUP with a broken config: the old one stays in use
  cp "$RC" "$W/rc.good"
  echo 'bogus_key 1' >>"$RC"
  kill -HUP "$DPID"
  wait_for grep -q "going on with the configuration read before" "$W/log"
  printf 'Subject: d3\n\nbody\n' | dovecot_put alice
  kill -USR1 "$DPID"
  wait_for count_is "$MD" 3
  # a good config is taken: now deliver into another Maildir
  sed "s|^delivery .*|delivery maildir $W/md2|" "$W/rc.good" >"$RC"
  kill -HUP "$DPID"
  wait_for grep -q "re-read" "$W/log"
  printf 'Subject: d4\n\nbody\n' | dovecot_put alice
  kill -USR1 "$DPID"
  wait_for count_is "$W/md2" 1
  kill -TERM "$DPID"
  local rc=0
  wait "$DPID" || rc=$?
  DPID=
  [ "$rc" -eq 0 ]
  # every log line has a timestamp and names popfetch
  run grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4} popfetch: ' "$W/log"
  [ "$status" -eq 1 ] || { echo "lines without a timestamp: $output"; false; }
  grep -q "popfetch: polling every 3600 s" "$W/log"
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "daemon: LOGIN-DELAY in CAPA keeps the next polls away, per account also with -j" {
  fake_start "$T/login-delay-capa.txt" --implicit-tls --connections 1
  pf_rc_fake implicit
  # a second account, so that -j runs them side by side (its server is not
  # there: it fails at every poll)
  printf '\naccount other\nhost 127.0.0.1\nport 1\nuser bob\npassword pw\ntls off\nallow_plaintext on\ndelivery maildir %s/other\n' "$W" >>"$RC"
  "$POPFETCH" -d 1 -j 4 -v -f "$RC" --state-dir "$SD" --logfile "$W/log" &
  DPID=$!
  wait_for grep -q "LOGIN-DELAY" "$W/log"
  sleep 2.5
  kill -TERM "$DPID"
  wait "$DPID"
  DPID=
  fake_stop
  # one login only, and later polls said why they were skipped
  [ "$(grep -c '^C> USER' "$FAKE_LOG")" -eq 1 ]
  [ "$(grep -c 'not polled: the server asks for' "$W/log")" -ge 2 ]
}

@test "--syslog: lines go to syslog, facility mail, tagged popfetch" {
  if [[ -e /dev/log ]]; then skip "a syslog daemon owns /dev/log here"; fi
  [[ -w /dev ]] || skip "cannot create /dev/log"
  "$DC_PYTHON" - "$W/syslog.out" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(10)
try:
    data = s.recv(4096)
    open(sys.argv[1], "wb").write(data)
finally:
    os.unlink("/dev/log")
PY
  local lpid=$!
  local i
  for ((i = 0; i < 50; i++)); do if [[ -S /dev/log ]]; then break; fi; sleep 0.1; done
  printf 'account t\nhost 127.0.0.1\nport 1\nuser u\npassword p\ndelivery maildir %s\n' "$MD" >"$RC"
  chmod 600 "$RC"
  pf_run --syslog
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  wait "$lpid"
  # <19> = facility mail (2) * 8 + LOG_ERR (3)
  grep -q '^<19>.*popfetch\[[0-9]*\]: t: cannot connect' "$W/syslog.out"
}
