#!/usr/bin/env bats
# --metrics FILE: Prometheus text format (node_exporter's textfile
# collector convention), parsed here by python3-prometheus-client's own
# text parser (tests/lib/promcheck.py); its values checked against the real
# Dovecot's counts and the status files.

load lib/common

bats_require_minimum_version 1.5.0

setup() { pf_setup; }
teardown() { pf_teardown; }

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
