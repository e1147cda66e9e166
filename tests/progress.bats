#!/usr/bin/env bats
# The live progress line, on a real terminal (tmux), fetching from Dovecot
# through a slow link: it redraws in place while mail arrives and ends as
# one summary line; without a terminal nothing at all is printed.

load lib/common

setup() {
  command -v tmux >/dev/null || { echo "tmux is not installed: make deps"; false; }
  pf_setup
  dovecot_start
  TM="pf$$"
}

teardown() {
  tmux -L "$TM" kill-server 2>/dev/null || true
  pf_teardown
}

# on_terminal IS_MID: run popfetch in a tmux terminal until it exits;
# SCREEN is the last screen, MID the last one while running for which the
# function IS_MID (given the screen) succeeds.
on_terminal() {
  local i
  tmux -L "$TM" new-session -d -x "${COLS:-120}" -y 20 \
    "$POPFETCH -f $RC --state-dir $SD; echo EXIT=\$?; sleep 30"
  MID=""
  for ((i = 0; i < 100; i++)); do
    SCREEN=$(tmux -L "$TM" capture-pane -p)
    if [[ $SCREEN != *"retrieved"* ]] && "$1" "$SCREEN"; then MID=$SCREEN; fi
    if [[ $SCREEN == *EXIT=* ]]; then break; fi
    sleep 0.1
  done
  echo "mid-run: $MID"
  echo "end: $SCREEN"
}

# through a slow proxy, whose port the config names
slow_rc() {
  proxy_start "$DC_POP3S_PORT" 2 150000
  pf_rc_dovecot implicit "$@"
  sed -i "s/^port .*/port $PROXY_PORT/" "$RC"
}

has_bar() { [[ $1 == *"messages "*"/s  ["*"#"*"]"* ]]; }
has_count() { [[ $1 =~ t:\ [0-9]+/30\ messages ]]; }

@test "progress on a terminal: n/N, bytes, rate and a bar, then one summary line" {
  put_generated 30 300 progress
  slow_rc
  on_terminal has_bar
  # seen while running: "t: 7/30 messages  27.4 KiB  80.1 KiB/s  [####....]"
  [[ $MID =~ t:\ [0-9]+/30\ messages\ \ [0-9.]+\ (B|KiB|MiB)\ \ [0-9.]+\ (B|KiB|MiB)/s\ \ \[#*\.*\] ]]
  # at the end: one line, the summary, in place of the progress line
  [[ $SCREEN == *"t: 30 messages ("*" bytes) retrieved, 30 deleted in "* ]]
  [[ $SCREEN == *"EXIT=0"* ]]
  [ "$(echo "$SCREEN" | grep -c 'messages')" -eq 1 ]
  mailcheck same "$MD" "$W"/orig/*
}

# between 5 and 20 of the 30 done
one_third_to_two() {
  [[ $1 =~ t:\ ([0-9]+)/30\ messages ]] || return 1
  ((BASH_REMATCH[1] >= 5 && BASH_REMATCH[1] <= 20))
}

@test "a run with a state (no LIST of every size): the bar counts messages" {
  printf 'Subject: first\n\nbody\n' | dovecot_put alice
  slow_rc "keep on" # through the proxy from the start
  pf_run
  [ "$status" -eq 0 ]
  put_generated 30 300 progress
  on_terminal one_third_to_two
  [[ $MID =~ \[#+\.+\] ]] # partly filled, not full
  [[ $SCREEN == *"t: 30 messages ("*" bytes) retrieved, 0 deleted in "* ]]
  [[ $SCREEN == *"EXIT=0"* ]]
}

@test "not on a terminal: silent on success" {
  printf 'Subject: q\n\nbody\n' | dovecot_put alice
  pf_rc_dovecot implicit
  pf_run
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "no new mail: one line on a terminal, nothing off it" {
  put_generated 2 300 seen
  pf_rc_dovecot implicit "keep on"
  pf_run
  [ "$status" -eq 0 ]
  on_terminal false
  [[ $SCREEN == *"EXIT=1"* ]]
  [ "$(echo "$SCREEN" | grep -cx 't: no new mail')" -eq 1 ] || { echo "$SCREEN"; false; }
  [ "$(echo "$SCREEN" | grep -cv '^$')" -eq 2 ] # that line and EXIT=1
  pf_run
  [ "$status" -eq 1 ]
  [ -z "$output" ]
}

@test "a 40-column terminal: the progress line fits, no wrapped debris; no \"0 B/s\" rate" {
  put_generated 30 300 progress
  slow_rc
  COLS=40 on_terminal has_count
  [[ $SCREEN == *"EXIT=0"* ]]
  # every redraw stayed on one row: the only row naming messages is the summary's
  [ "$(echo "$SCREEN" | grep -c 'messages')" -eq 1 ] || { echo "$SCREEN"; false; }
  [[ $MID =~ t:\ [0-9]+/30\ messages ]]
  [ "$(echo "$MID" | grep -cv '^$')" -eq 1 ] || { echo "$MID"; false; } # one row: it did not wrap
  [[ $MID != *" 0 B/s"* ]]
}
