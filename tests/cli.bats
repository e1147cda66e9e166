#!/usr/bin/env bats
# An account given on the command line, with no config file at all.

load lib/common

setup() {
  pf_setup
  dovecot_start
  export HOME=$W/home XDG_CONFIG_HOME=$W/home/.config
  mkdir -p "$HOME"
}

teardown() { pf_teardown; }

@test "--host --user --passwordeval --maildir: fetches without any config file" {
  local i
  mkdir -p "$W/orig"
  for i in 1 2 3; do printf 'Subject: cli %d\n\nbody\n' "$i" >"$W/orig/$i"; dovecot_put alice "$W/orig/$i"; done
  run "$POPFETCH" --host 127.0.0.1 --port "$DC_POP3S_PORT" --user alice --tls implicit \
    --tls-trust-file "$DC_CA" --passwordeval "echo secret" --maildir "$MD" --state-dir "$SD" -v
  [ "$status" -eq 0 ]
  [[ $output == *"popfetch: 127.0.0.1: 3 messages"* ]]
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
  # STLS on the plain port, into an mbox
  printf 'Subject: cli 4\n\nbody\n' | dovecot_put alice
  run "$POPFETCH" --host 127.0.0.1 --port "$DC_POP3_PORT" --user alice --tls starttls \
    --tls-trust-file "$DC_CA" --passwordeval "echo secret" --mbox "$W/mbox" --state-dir "$SD"
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$W/mbox")" -eq 1 ]
}

@test "command-line account: missing pieces and bad values are exit 5; no --password" {
  run "$POPFETCH" --host 127.0.0.1 --user alice
  [ "$status" -eq 5 ]
  [[ $output == *"needs --maildir, --mbox or --mda"* ]]
  run "$POPFETCH" --user alice --maildir "$MD"
  [ "$status" -eq 5 ]
  [[ $output == *"needs --host"* ]]
  run "$POPFETCH" --host h --user alice --tls sometimes --maildir "$MD"
  [ "$status" -eq 5 ]
  [[ $output == *"--tls: bad value \`sometimes\`"* ]]
  # a password on the command line would be visible in ps: not offered
  run "$POPFETCH" --host h --user alice --password secret --maildir "$MD"
  [ "$status" -eq 5 ]
  [[ $output == *"--password is not offered"* ]]
}
