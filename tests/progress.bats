#!/usr/bin/env bats
# The live progress line, on a real terminal (tmux), fetching from Dovecot
# through a slow link: it redraws in place while mail arrives and ends as
# one summary line; without a terminal nothing at all is printed.

load lib/common

setup() {
  command -v tmux >/dev/null || skip "tmux is not installed"
  pf_setup
  dovecot_start
  TM="pf$$"
}

teardown() {
  tmux -L "$TM" kill-server 2>/dev/null || true
  pf_teardown
}

@test "progress on a terminal: n/N, bytes, rate and a bar, then one summary line" {
  mkdir -p "$W/orig"
  "$DC_PYTHON" - "$W/orig" <<'PY'
import os, sys
for i in range(1, 31):
    with open(os.path.join(sys.argv[1], str(i)), "w") as f:
        f.write("Subject: p %d\n\n%s\n" % (i, ("progress line %d\n" % i) * 300))
PY
  dovecot_put_dir alice "$W/orig"
  proxy_start "$DC_POP3S_PORT" 2 150000
  pf_rc_dovecot implicit
  sed -i "s/^port .*/port $PROXY_PORT/" "$RC"
  tmux -L "$TM" new-session -d -x 120 -y 20 \
    "$POPFETCH -f $RC --state-dir $SD; echo EXIT=\$?; sleep 30"
  local i screen mid=""
  for ((i = 0; i < 100; i++)); do
    screen=$(tmux -L "$TM" capture-pane -p)
    if [[ $screen == *"messages "*"/s  ["*"#"*"]"* && $screen != *"retrieved"* ]]; then mid=$screen; fi
    [[ $screen == *EXIT=* ]] && break
    sleep 0.1
  done
  echo "mid-run: $mid"
  echo "end: $screen"
  # seen while running: "t: 7/30 messages  27.4 KiB  80.1 KiB/s  [####....]"
  [[ $mid =~ t:\ [0-9]+/30\ messages\ \ [0-9.]+\ (B|KiB|MiB)\ \ [0-9.]+\ (B|KiB|MiB)/s\ \ \[#*\.*\] ]]
  # at the end: one line, the summary, in place of the progress line
  [[ $screen == *"t: 30 messages ("*" bytes) retrieved, 30 deleted in "* ]]
  [[ $screen == *"EXIT=0"* ]]
  [ "$(echo "$screen" | grep -c 'messages')" -eq 1 ]
  mailcheck same "$MD" "$W"/orig/*
}

@test "a run with a state (no LIST of every size): the bar counts messages" {
  printf 'Subject: first\n\nbody\n' | dovecot_put alice
  proxy_start "$DC_POP3S_PORT" 2 150000
  pf_rc_dovecot implicit "keep on"
  sed -i "s/^port .*/port $PROXY_PORT/" "$RC" # the state belongs to host:port
  pf_run
  [ "$status" -eq 0 ]
  mkdir -p "$W/orig"
  "$DC_PYTHON" - "$W/orig" <<'PY'
import os, sys
for i in range(1, 31):
    with open(os.path.join(sys.argv[1], str(i)), "w") as f:
        f.write("Subject: p %d\n\n%s\n" % (i, ("progress line %d\n" % i) * 300))
PY
  dovecot_put_dir alice "$W/orig"
  tmux -L "$TM" new-session -d -x 120 -y 20 \
    "$POPFETCH -f $RC --state-dir $SD; echo EXIT=\$?; sleep 30"
  local i screen mid=""
  for ((i = 0; i < 100; i++)); do
    screen=$(tmux -L "$TM" capture-pane -p)
    if [[ $screen =~ t:\ ([0-9]+)/30\ messages && $screen != *"retrieved"* ]] &&
      ((BASH_REMATCH[1] >= 5 && BASH_REMATCH[1] <= 20)); then mid=$screen; fi
    [[ $screen == *EXIT=* ]] && break
    sleep 0.1
  done
  echo "mid-run: $mid"
  echo "end: $screen"
  # between 5 and 20 of 30 done: the bar is partly filled, not full
  [[ $mid =~ \[#+\.+\] ]]
  [[ $screen == *"t: 30 messages ("*" bytes) retrieved, 0 deleted in "* ]]
  [[ $screen == *"EXIT=0"* ]]
}

@test "not on a terminal: silent on success" {
  printf 'Subject: q\n\nbody\n' | dovecot_put alice
  pf_rc_dovecot implicit
  pf_run
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}
