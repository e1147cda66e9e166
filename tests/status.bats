#!/usr/bin/env bats
# Status files (ACCOUNT.status in status_dir, by default the state
# directory) and `popfetch --status`: after a mix of succeeding and failing
# accounts on the real Dovecot, the table says what happened, the exit
# status names the first failure, the files keep their history (last
# success, failures in a row, totals) and pass the shipped JSON Schema.

load lib/common

bats_require_minimum_version 1.5.0

SCHEMA=$BATS_TEST_DIRNAME/../contrib/popfetch-result.schema.json

setup() {
  pf_setup
  export TZ=UTC
}
teardown() {
  if [[ -n ${HOLDER:-} ]]; then kill "$HOLDER" 2>/dev/null || true; wait "$HOLDER" 2>/dev/null || true; fi
  pf_teardown
}

valid() { "$DC_PYTHON" "$PF_TOP/tests/lib/jsonvalid.py" "$SCHEMA" "$@"; }

# sf ACCOUNT FILTER: jq FILTER on the account's status file
sf() { jq -r "$2" "$SD/$1.status"; }

# mixed_config: good (mail waits), quiet (no mail), bad (wrong password),
# gone (nothing listens), in that order.
mixed_config() {
  dovecot_start
  put_generated 2 3 st
  {
    printf 'defaults\ntls_trust_file %s\nhost 127.0.0.1\nport %s\n\n' "$DC_CA" "$DC_POP3S_PORT"
    printf 'account good\nuser alice\npassword secret\ndelivery maildir %s\n\n' "$W/good"
    printf 'account quiet\nuser bob\npassword hunter2\ndelivery maildir %s\n\n' "$W/quiet"
    printf 'account bad\nport %s\ntls starttls\nuser alice\npassword nope\ndelivery maildir %s\n\n' \
      "$DC_POP3_PORT" "$W/bad"
    printf 'account gone\nport 1\nuser alice\npassword x\ndelivery maildir %s\n' "$W/gone"
  } >"$RC"
  chmod 600 "$RC"
}

# row NAME: the --status table's line for NAME, words separated by one space
row() { grep -E "^$1 " <<<"$output" | tr -s ' '; }

@test "--status after a mix of succeeding and failing accounts; its exit status" {
  mixed_config
  # before any run: every account "never", exit 1
  pf_run --status
  [ "$status" -eq 1 ]
  [ "$(row good)" = "good never - - - -" ]
  pf_run
  [ "$status" -eq 3 ] # bad is the first failure in config order
  [ "$(mailcheck count "$W/good")" -eq 2 ]
  for a in good quiet bad gone; do
    [ -f "$SD/$a.status" ]
    [ "$(stat -c %a "$SD/$a.status")" = 600 ]
  done
  valid "$SD"/*.status
  [ "$(sf good .outcome)" = mail ]
  [ "$(sf good .messages.fetched)" = 2 ]
  [ "$(sf good .consecutive_failures)" = 0 ]
  [ "$(sf good .last_success)" = "$(sf good .started)" ]
  [ "$(sf quiet .outcome)" = no-mail ]
  [ "$(sf bad .outcome)" = auth ]
  [ "$(sf bad .consecutive_failures)" = 1 ]
  [ "$(sf bad .last_success)" = null ]
  [ "$(sf bad .failing_since)" = "$(sf bad .started)" ]
  [ "$(sf gone .outcome)" = connect ]

  pf_run --status
  [ "$status" -eq 3 ]
  local head
  head=$(head -n 1 <<<"$output" | tr -s ' ')
  [ "$head" = "ACCOUNT LAST RUN OUTCOME LAST SUCCESS FAILURES NEXT POLL" ]
  # the times are the status files' own, in local time (TZ=UTC here)
  local t
  t=$(sf good .started | sed -E 's/T/ /; s/\.[0-9]+Z$//')
  [ "$(row good)" = "good $t mail $t 0 -" ]
  t=$(sf bad .started | sed -E 's/T/ /; s/\.[0-9]+Z$//')
  [ "$(row bad)" = "bad $t auth never 1 -" ]
  [[ $(row quiet) == "quiet "*" no-mail "*" 0 -" ]]
  [[ $(row gone) == "gone "*" connect never 1 -" ]]

  # only the accounts named: the good ones pass, one failing fails
  pf_run --status good quiet
  [ "$status" -eq 0 ]
  [ "$(wc -l <<<"$output")" -eq 3 ]
  pf_run --status quiet gone
  [ "$status" -eq 2 ]

  # failures count up and keep their start; a success resets them
  local since
  since=$(sf bad .failing_since)
  pf_run bad
  [ "$status" -eq 3 ]
  [ "$(sf bad .consecutive_failures)" = 2 ]
  [ "$(sf bad .failing_since)" = "$since" ]
  sed -i 's/password nope/password secret/' "$RC"
  pf_run bad
  [ "$status" -eq 1 ]
  [ "$(sf bad .consecutive_failures)" = 0 ]
  [ "$(sf bad .failing_since)" = null ]
  [ "$(sf bad .last_success)" = "$(sf bad .started)" ]
  [ "$(sf bad '.totals.runs | "\(.auth) \(."no-mail")"')" = "2 1" ]
  valid "$SD/bad.status"
  pf_run --status bad good quiet
  [ "$status" -eq 0 ]
  # gone still fails: the whole table says 2
  pf_run --status
  [ "$status" -eq 2 ]
  # contrib/stack's health check says the same
  POPFETCH_CONFIG=$RC POPFETCH_UNIT='' POPFETCH=$POPFETCH \
    run "$PF_TOP/contrib/stack/popfetch-healthcheck" --state-dir "$SD"
  [ "$status" -eq 2 ]
  [[ $(row gone) == "gone "*" connect never 1 -" ]]
  POPFETCH_CONFIG=$RC POPFETCH_UNIT='' POPFETCH=$POPFETCH \
    run "$PF_TOP/contrib/stack/popfetch-healthcheck" --state-dir "$SD" bad good quiet
  [ "$status" -eq 0 ]
}

@test "--status --json prints each status file's object; totals add up" {
  mixed_config
  pf_run good
  [ "$status" -eq 0 ]
  put_generated 3 3 more
  pf_run good
  [ "$status" -eq 0 ]
  [ "$(sf good .totals.fetched)" = 5 ]
  [ "$(sf good '.totals.runs.mail')" = 2 ]
  [ "$(sf good .totals.bytes)" -gt 0 ]
  run --separate-stderr "$POPFETCH" -f "$RC" --state-dir "$SD" --status --json
  # quiet, bad and gone never ran
  [ "$status" -eq 1 ]
  [ "$(wc -l <<<"$output")" -eq 1 ]
  valid <(printf '%s\n' "$output")
  [ "$(jq -r .account <<<"$output")" = good ]
  [ "$(jq -r .totals.fetched <<<"$output")" = 5 ]
}

@test "status_dir: its own directory, made 0700; --check and a locked run leave the file alone" {
  dovecot_start
  pf_rc_dovecot implicit "status_dir $W/status/here"
  pf_run
  [ "$status" -eq 1 ]
  [ -f "$W/status/here/t.status" ]
  [ ! -e "$SD/t.status" ]
  [ "$(stat -c %a "$W/status/here")" = 700 ]
  cp "$W/status/here/t.status" "$W/before"
  printf 'Subject: c\n\nbody\n' | dovecot_put alice
  pf_run -c
  [ "$status" -eq 0 ]
  cmp "$W/before" "$W/status/here/t.status"
  # --status reads it from there
  pf_run --status
  [ "$status" -eq 0 ]
  [[ $(row t) == "t "*" no-mail "* ]]
  # another process holds the account: exit 8, the status is the holder's to write
  "$DC_PYTHON" - "$SD/alice@127.0.0.1:$DC_POP3S_PORT.lock" "$W/held" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(30)
PY
  HOLDER=$!
  local i
  for ((i = 0; i < 100; i++)); do if [[ -e $W/held ]]; then break; fi; sleep 0.05; done
  pf_run
  [ "$status" -eq 8 ]
  cmp "$W/before" "$W/status/here/t.status"
}

@test "status files: a symbolic link is refused, a damaged file starts afresh, the run's status stands" {
  dovecot_start
  pf_rc_dovecot implicit
  mkdir -p "$SD"
  chmod 700 "$SD"
  echo precious >"$W/target"
  ln -s "$W/target" "$SD/t.status"
  pf_run
  [ "$status" -eq 1 ]
  [[ $output == *"the status file was not written"*"symbolic link"* ]]
  [ "$(cat "$W/target")" = precious ]
  [ -L "$SD/t.status" ]
  rm "$SD/t.status"
  echo '{"version": 1, "outcome": "mail"' >"$SD/t.status"
  pf_run
  [ "$status" -eq 1 ]
  [[ $output == *"t.status was not a status file; it starts afresh"* ]]
  valid "$SD/t.status"
  [ "$(sf t .totals.runs.\"no-mail\")" = 1 ]
  [ ! -e "$SD/t.status.tmp" ]
}
