#!/usr/bin/env bats
# --metrics FILE: Prometheus text format (node_exporter's textfile
# collector convention), parsed here by python3-prometheus-client's own
# text parser (tests/lib/promcheck.py); its values checked against the real
# Dovecot's counts and the status files.

load lib/common

bats_require_minimum_version 1.5.0

setup() { pf_setup; }
teardown() {
  local p
  for p in ${DPID:-} ${WPID:-}; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pf_teardown
}

# prom: the samples of the metrics file, one line each (promcheck.py)
prom() { "$DC_PYTHON" "$PF_TOP/tests/lib/promcheck.py" "$W/prom/popfetch.prom"; }

# value NAME LABELS: the sample's value ("" when absent)
value() { prom | awk -v want="$1 $2" '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == want) print v }'; }

# secs ACCOUNT FIELD: a time field of the account's status file, in seconds
secs() {
  jq -r ".$2 | (sub(\"\\\\.[0-9]+Z$\"; \"Z\") | fromdateiso8601) + (capture(\"\\\\.(?<f>[0-9]+)Z$\").f | tonumber / 1000)" \
    "$SD/$1.status"
}

# same A B: two numbers within a millisecond
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && d < 0.0011 && d > -0.0011) }'; }

@test "--metrics: parsed by prometheus_client, every value as the runs and the server had it" {
  dovecot_start
  put_generated 3 4 prom
  {
    printf 'defaults\ntls_trust_file %s\nhost 127.0.0.1\n\n' "$DC_CA"
    printf 'account good\nport %s\nuser alice\npassword secret\ndelivery maildir %s\n\n' \
      "$DC_POP3S_PORT" "$W/good"
    printf 'account bad\nport %s\nuser bob\npassword nope\ndelivery maildir %s\n\n' \
      "$DC_POP3S_PORT" "$W/bad"
    printf 'account idle\nport %s\nuser bob\npassword hunter2\ndelivery maildir %s\ntls starttls\n' \
      "$DC_POP3_PORT" "$W/idle"
  } >"$RC"
  chmod 600 "$RC"
  mkdir -p "$W/prom"
  # idle has never run: it has no status, so no metrics
  pf_run --metrics "$W/prom/popfetch.prom" good bad
  [ "$status" -eq 3 ]
  [ -f "$W/prom/popfetch.prom" ]
  [ "$(stat -c %a "$W/prom/popfetch.prom")" = 644 ]
  [ ! -e "$W/prom/popfetch.prom.tmp" ]
  prom >"$W/samples"
  [ "$(value popfetch_runs_total "account=good outcome=mail")" = 1.0 ]
  [ "$(value popfetch_runs_total "account=good outcome=auth")" = 0.0 ]
  [ "$(value popfetch_runs_total "account=bad outcome=auth")" = 1.0 ]
  [ "$(value popfetch_messages_fetched_total account=good)" = 3.0 ]
  [ "$(mailcheck count "$W/good")" -eq 3 ]
  [ "$(value popfetch_bytes_fetched_total account=good)" = "$(cat "$W/orig"/* | wc -c).0" ]
  [ "$(value popfetch_messages_fetched_total account=bad)" = 0.0 ]
  [ "$(value popfetch_consecutive_failures account=bad)" = 1.0 ]
  [ "$(value popfetch_consecutive_failures account=good)" = 0.0 ]
  [ "$(value popfetch_last_run_exit_status account=bad)" = 3.0 ]
  [ "$(value popfetch_last_run_exit_status account=good)" = 0.0 ]
  # the times are the status files', in seconds
  same "$(value popfetch_last_success_timestamp_seconds account=good)" "$(secs good last_success)"
  same "$(value popfetch_last_run_timestamp_seconds account=bad)" "$(secs bad started)"
  [ "$(value popfetch_last_success_timestamp_seconds account=bad)" = "" ]
  same "$(value popfetch_last_run_duration_seconds account=good)" "$(jq -r .duration "$SD/good.status")"
  [ "$(value popfetch_next_poll_timestamp_seconds account=good)" = "" ]
  run ! grep -q 'account=idle' "$W/samples"
  local now
  now=$(date +%s)
  awk -v now="$now" '$1 == "popfetch_metrics_timestamp_seconds" { d = now - $2; exit !(d >= 0 && d < 30) }' "$W/samples"

  # a second run: the counters go on
  printf 'Subject: again 1\n\nbody\n' | dovecot_put alice
  printf 'Subject: again 2\n\nbody\n' | dovecot_put alice
  pf_run --metrics "$W/prom/popfetch.prom"
  [ "$status" -eq 3 ]
  [ "$(value popfetch_runs_total "account=good outcome=mail")" = 2.0 ]
  [ "$(value popfetch_messages_fetched_total account=good)" = 5.0 ]
  [ "$(value popfetch_runs_total "account=bad outcome=auth")" = 2.0 ]
  [ "$(value popfetch_consecutive_failures account=bad)" = 2.0 ]
  [ "$(value popfetch_runs_total "account=idle outcome=no-mail")" = 1.0 ]
}

@test "--metrics: a symbolic link at FILE is replaced, never written through; a missing directory is reported" {
  dovecot_start
  pf_rc_dovecot implicit
  mkdir -p "$W/prom"
  echo precious >"$W/target"
  ln -s "$W/target" "$W/prom/popfetch.prom"
  pf_run --metrics "$W/prom/popfetch.prom"
  [ "$status" -eq 1 ]
  [ "$(cat "$W/target")" = precious ]
  [ ! -L "$W/prom/popfetch.prom" ]
  [ "$(value popfetch_runs_total "account=t outcome=no-mail")" = 1.0 ]
  pf_run --metrics "$W/nowhere/popfetch.prom"
  [ "$status" -eq 1 ]
  [[ $output == *"--metrics: cannot open the metrics directory $W/nowhere"* ]]
}

# sample NAME LABELS FILE: a sample's value in a saved promcheck.py listing
sample() { awk -v want="$1${2:+ $2}" '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == want) print v }' "$3"; }

# at_least NAME LABELS N: the metrics file's sample is at least N now
at_least() {
  prom >"$W/now" 2>/dev/null || return 1
  awk -v v="$(sample "$1" "$2" "$W/now")" -v n="$3" 'BEGIN { exit !(v != "" && v + 0 >= n) }'
}

# wait_until CMD...: up to 30 s for CMD to succeed
wait_until() {
  local i
  for ((i = 0; i < 300; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

@test "--metrics in the daemon: rewritten at most once a second, never read half-written, values advance" {
  local k
  for k in 1 2 3 4 5 6; do
    _DC_USERS+=("m$k")
    _DC_PASSWORDS[m$k]=pw$k
  done
  dovecot_start
  for k in 1 2 3 4 5; do
    printf 'Subject: first %s\n\nbody\n' "$k" | dovecot_put "m$k"
    printf 'Subject: second %s\n\nbody\n' "$k" | dovecot_put "m$k"
  done
  {
    printf 'defaults\ntls_trust_file %s\nhost 127.0.0.1\nport %s\n\n' "$DC_CA" "$DC_POP3S_PORT"
    for k in 1 2 3 4 5; do
      printf 'account a%s\nuser m%s\npassword pw%s\ndelivery maildir %s\n\n' "$k" "$k" "$k" "$W/md$k"
    done
    printf 'account bad\nuser m6\npassword wrong\ndelivery maildir %s\n' "$W/md6"
  } >"$RC"
  chmod 600 "$RC"
  mkdir -p "$W/prom"
  "$DC_PYTHON" "$PF_TOP/tests/lib/promwatch.py" "$W/prom/popfetch.prom" "$W/stop" >"$W/watch" &
  WPID=$!
  # six polls at once end within the same second or two: each ends with
  # the metrics due for a rewrite
  "$POPFETCH" -f "$RC" --state-dir "$SD" -d 2 -j 6 --metrics "$W/prom/popfetch.prom" \
    2>"$W/log" &
  DPID=$!
  wait_until at_least popfetch_runs_total "account=a5 outcome=mail" 1
  wait_until at_least popfetch_runs_total "account=a1 outcome=mail" 1
  prom >"$W/first"
  for k in 1 2 3 4 5; do
    [ "$(sample popfetch_messages_fetched_total "account=a$k" "$W/first")" = 2.0 ]
  done
  # the values advance with the next polls: new mail for a3, another
  # failure for bad, a poll without mail for a1
  printf 'Subject: third 3\n\nbody\n' | dovecot_put m3
  wait_until at_least popfetch_messages_fetched_total account=a3 3
  wait_until at_least popfetch_consecutive_failures account=bad 2
  wait_until at_least popfetch_runs_total "account=a1 outcome=no-mail" 1
  prom >"$W/later"
  [ "$(sample popfetch_runs_total "account=a3 outcome=mail" "$W/later")" = 2.0 ]
  [ "$(sample popfetch_runs_total "account=a1 outcome=mail" "$W/later")" = 1.0 ]
  awk -v a="$(sample popfetch_last_run_timestamp_seconds account=a1 "$W/first")" \
    -v b="$(sample popfetch_last_run_timestamp_seconds account=a1 "$W/later")" \
    'BEGIN { exit !(b > a) }'
  awk -v a="$(sample popfetch_metrics_timestamp_seconds "" "$W/first")" \
    -v b="$(sample popfetch_metrics_timestamp_seconds "" "$W/later")" 'BEGIN { exit !(b > a) }'
  # (the watch ends before the daemon: at its stop, the daemon writes what
  # the last polls changed at once, however recent the version before)
  touch "$W/stop"
  local rc=0
  wait "$WPID" || rc=$?
  WPID=
  cat "$W/watch"
  [ "$rc" -eq 0 ]
  kill -TERM "$DPID"
  rc=0
  wait "$DPID" || rc=$?
  DPID=
  [ "$rc" -eq 0 ]
  # it was read many times while it changed, always whole, and no two
  # versions were written within a second (by their own timestamps, taken
  # after the daemon's check and the reading of six status files, which a
  # busy machine may slow down: 100 ms of slack; without the limit, the
  # versions come tens of milliseconds apart)
  [ "$(awk '$1 == "reads" { print $2 }' "$W/watch")" -gt 100 ]
  [ "$(awk '$1 == "rewrites" { print $2 }' "$W/watch")" -ge 3 ]
  [ "$(awk '$1 == "min_gap_ms" { print $2 }' "$W/watch")" -ge 900 ]
  # the file the daemon left: what was delivered, and what the status files say
  prom >"$W/last"
  local total=0
  for k in 1 2 3 4 5; do
    total=$((total + $(sample popfetch_messages_fetched_total "account=a$k" "$W/last" | cut -d. -f1)))
    [ "$(sample popfetch_consecutive_failures "account=a$k" "$W/last")" = 0.0 ]
  done
  [ "$total" -eq 11 ]
  [ "$(($(mailcheck count "$W/md1") + $(mailcheck count "$W/md2") + $(mailcheck count "$W/md3") +
    $(mailcheck count "$W/md4") + $(mailcheck count "$W/md5")))" -eq 11 ]
  [ "$(sample popfetch_consecutive_failures account=bad "$W/last")" = \
    "$(jq -r .consecutive_failures "$SD/bad.status").0" ]
  [ "$(sample popfetch_runs_total "account=bad outcome=auth" "$W/last")" = \
    "$(jq -r .consecutive_failures "$SD/bad.status").0" ]
}
