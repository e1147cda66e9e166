#!/usr/bin/env bats
# Configuration from a program: the config on standard input (-f -), a
# directory of *.conf files (-f DIR), and drop-ins in
# ~/.config/popfetch/config.d read after the config file, in name order;
# an account defined twice is refused naming both places. Fetches go to the
# real Dovecot.

load lib/common

setup() {
  pf_setup
  mkdir -p "$W/home"
  export HOME=$W/home
  unset XDG_CONFIG_HOME
}
teardown() {
  if [[ -n ${DPID:-} ]]; then kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
  pf_teardown
}

# server_defaults: the lines every account here shares
server_defaults() {
  printf 'defaults\nhost 127.0.0.1\nport %s\ntls_trust_file %s\n' "$DC_POP3S_PORT" "$DC_CA"
}

@test "-f -: the config from standard input, password and all; errors name stdin" {
  dovecot_start
  put_generated 2 3 stdin
  {
    server_defaults
    printf 'account s\nuser alice\npassword secret\ndelivery maildir %s\n' "$MD"
  } >"$W/gen"
  # as a stack would: no file holding the password, not even a private one
  run "$POPFETCH" -f - --state-dir "$SD" <"$W/gen"
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  # a mistake names stdin and the line
  run "$POPFETCH" -f - --state-dir "$SD" < <(printf 'account s\nhots x\n')
  [ "$status" -eq 5 ]
  [[ $output == *"stdin:2: unknown key \`hots\`"* ]]
  # nothing on standard input: no accounts
  run "$POPFETCH" -f - --state-dir "$SD" </dev/null
  [ "$status" -eq 5 ]
  [[ $output == *"stdin defines no accounts"* ]]
}

@test "-f DIR: every *.conf in name order, defaults and parents carry over; others ignored" {
  dovecot_start
  printf 'Subject: one\n\nbody\n' | dovecot_put alice
  printf 'Subject: two\n\nbody\n' | dovecot_put bob
  mkdir -m 700 "$W/conf.d"
  server_defaults >"$W/conf.d/00-defaults.conf"
  printf 'account a\nuser alice\npassword secret\ndelivery maildir %s\n' "$W/a" >"$W/conf.d/10-alice.conf"
  # inherits from a, defined in an earlier file
  printf 'account b : a\nuser bob\npassword hunter2\ndelivery maildir %s\n' "$W/b" >"$W/conf.d/20-bob.conf"
  # not read: not *.conf, or hidden
  printf 'account x\nbroken\n' >"$W/conf.d/30-notes.txt"
  printf 'account y\nbroken\n' >"$W/conf.d/.40-hidden.conf"
  chmod 600 "$W/conf.d"/*
  run "$POPFETCH" -f "$W/conf.d" --state-dir "$SD" -v
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$W/a")" -eq 1 ]
  [ "$(mailcheck count "$W/b")" -eq 1 ]
  # config order is the files' order: a before b
  [[ $output == *"popfetch: a: "*"popfetch: b: "* ]]
  # an account defined twice: both places named
  printf '\naccount a\nuser alice\ndelivery maildir %s\n' "$W/z" >>"$W/conf.d/20-bob.conf"
  run "$POPFETCH" -f "$W/conf.d" --state-dir "$SD"
  [ "$status" -eq 5 ]
  [[ $output == *"$W/conf.d/20-bob.conf:6: account a is defined twice (first at $W/conf.d/10-alice.conf:1)"* ]]
}

@test "drop-ins in ~/.config/popfetch/config.d after the config file; twice is refused" {
  dovecot_start
  printf 'Subject: d\n\nbody\n' | dovecot_put alice
  mkdir -p "$HOME/.config/popfetch/config.d"
  server_defaults >"$HOME/.config/popfetch/config"
  printf 'account main\nuser bob\npassword hunter2\ndelivery maildir %s\n' "$W/main" \
    >>"$HOME/.config/popfetch/config"
  printf 'account drop\nuser alice\npassword secret\ndelivery maildir %s\n' "$W/drop" \
    >"$HOME/.config/popfetch/config.d/alice.conf"
  chmod 600 "$HOME/.config/popfetch/config" "$HOME/.config/popfetch/config.d/alice.conf"
  run "$POPFETCH" --state-dir "$SD" drop
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$W/drop")" -eq 1 ]
  run "$POPFETCH" --state-dir "$SD" main
  [ "$status" -eq 1 ]
  # without the config file, the drop-ins alone
  mv "$HOME/.config/popfetch/config" "$W/config.saved"
  run "$POPFETCH" --state-dir "$SD" -c
  [ "$status" -eq 5 ] # the drop-in alone has no host: the defaults were in the file
  [[ $output == *"$HOME/.config/popfetch/config.d/alice.conf:1: account drop has no \`host\`"* ]]
  mv "$W/config.saved" "$HOME/.config/popfetch/config"
  printf 'account main\nhost h\nuser u\ndelivery maildir %s\n' "$W/x" >"$HOME/.config/popfetch/config.d/zz.conf"
  chmod 600 "$HOME/.config/popfetch/config.d/zz.conf"
  run "$POPFETCH" --state-dir "$SD"
  [ "$status" -eq 5 ]
  [[ $output == *"config.d/zz.conf:1: account main is defined twice (first at $HOME/.config/popfetch/config:5)"* ]]
}

@test "the permission rules hold for config directories and drop-ins, not for stdin" {
  mkdir -m 700 "$W/conf.d"
  printf 'account a\nhost h\nuser u\npassword p\ndelivery maildir %s\n' "$MD" >"$W/conf.d/a.conf"
  chmod 644 "$W/conf.d/a.conf"
  run "$POPFETCH" -f "$W/conf.d" --state-dir "$SD" -c
  [ "$status" -eq 6 ]
  [[ $output == *"$W/conf.d/a.conf holds a password but others can read it"* ]]
  chmod 600 "$W/conf.d/a.conf"
  chmod 770 "$W/conf.d"
  run "$POPFETCH" -f "$W/conf.d" --state-dir "$SD" -c
  [ "$status" -eq 6 ]
  [[ $output == *"config directory $W/conf.d"* ]]
  # the same text on stdin: nobody else wrote it (the host h does not resolve: 11)
  run "$POPFETCH" -f - --state-dir "$SD" -c <"$W/conf.d/a.conf"
  [ "$status" -eq 11 ]
}

@test "daemon with -f -: SIGHUP says there is nothing to re-read and goes on" {
  dovecot_start
  {
    server_defaults
    printf 'account s\nuser alice\npassword secret\ndelivery maildir %s\n' "$MD"
  } >"$W/gen"
  "$POPFETCH" -d 3600 -f - --state-dir "$SD" --logfile "$W/log" <"$W/gen" &
  DPID=$!
  local i
  for ((i = 0; i < 100; i++)); do if [[ -f $SD/s.status ]]; then break; fi; sleep 0.1; done
  [ -f "$SD/s.status" ]
  kill -HUP "$DPID"
  for ((i = 0; i < 100; i++)); do if grep -q "nothing to re-read" "$W/log"; then break; fi; sleep 0.1; done
  grep -q "SIGHUP: the configuration came from standard input; nothing to re-read" "$W/log"
  printf 'Subject: later\n\nbody\n' | dovecot_put alice
  kill -USR1 "$DPID"
  for ((i = 0; i < 100; i++)); do if [[ -d $MD/new ]] && [ "$(mailcheck count "$MD")" -eq 1 ]; then break; fi; sleep 0.1; done
  [ "$(mailcheck count "$MD")" -eq 1 ]
  kill -TERM "$DPID"
  local rc=0
  wait "$DPID" || rc=$?
  DPID=
  [ "$rc" -eq 0 ]
}
