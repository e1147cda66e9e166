#!/usr/bin/env bats
# SIGTERM, SIGINT and SIGHUP in the middle of a run against the real Dovecot
# (through a slow link so that the signal lands mid-transfer): the message
# in progress is abandoned cleanly, what was delivered whole is recorded,
# no QUIT is sent (so nothing is deleted), the exit status is not 0, and
# the next run delivers the rest exactly once.

load lib/common

setup() {
  pf_setup
  dovecot_start
}

teardown() { pf_teardown; }

stop_round() { # SIGNAL
  put_generated 40 400 sig
  proxy_start "$DC_POP3S_PORT" 2 100000
  pf_rc_dovecot implicit
  sed -i "s/^port .*/port $PROXY_PORT/" "$RC"
  "$POPFETCH" -f "$RC" --state-dir "$SD" 2>"$W/err" &
  local pid=$! rc=0
  sleep 1.5
  kill -s "$1" "$pid"
  wait "$pid" || rc=$?
  cat "$W/err"
  [ "$rc" -eq 23 ]
  grep -q "stopped by SIG$1" "$W/err"
  # nothing half-written, nothing deleted (no QUIT), some mail delivered
  mailcheck clean "$MD"
  [ "$(dovecot_count alice)" -eq 40 ]
  local got
  got=$(mailcheck count "$MD")
  [ "$got" -ge 1 ] || { echo "nothing was delivered before SIG$1"; false; }
  [ "$got" -lt 40 ]
  if grep -q 'Logged out' "$DC_LOG"; then false; fi
  # the next run delivers the rest, once
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 0 ]
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "SIGTERM mid-run: clean stop, exit 23, the rest next time" { stop_round TERM; }
@test "SIGINT mid-run: clean stop, exit 23, the rest next time" { stop_round INT; }
@test "SIGHUP mid-run: clean stop, exit 23, the rest next time" { stop_round HUP; }
