#!/usr/bin/env bats
# Where the password comes from when popfetch has to run or ask for it:
# passwordeval (its deadline, its process group under our signals, the
# first-line rule) and the prompt on a real terminal. Logins go to the real
# Dovecot; the processes are checked by pid and process group.

load lib/common

setup() { pf_setup; }

teardown() {
  # anything a failed test left behind, by the ids it wrote down
  local f
  for f in "$W"/*.pgid; do
    if [[ -s $f ]]; then kill -KILL -- "-$(<"$f")" 2>/dev/null || :; fi
  done
  for f in "$W"/*.pid; do
    if [[ -s $f ]]; then kill -KILL "$(<"$f")" 2>/dev/null || :; fi
  done
  pf_teardown
}

# rc_pe COMMAND [lines...]: account "t" whose password comes from COMMAND.
# Port 9 is never reached by the tests that fail before connecting.
rc_pe() {
  local cmd=$1
  shift
  cmd=${cmd//\\/\\\\}
  cmd=${cmd//\"/\\\"}
  {
    printf 'account t\nhost 127.0.0.1\nport 9\nuser alice\npasswordeval "%s"\n' "$cmd"
    printf 'tls implicit\ndelivery maildir %s\n' "$MD"
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } >"$RC"
  chmod 600 "$RC"
}

# rc_pe_dovecot COMMAND [lines...]: the same, on the private Dovecot.
rc_pe_dovecot() {
  rc_pe "$@"
  sed -i "s/^port .*/port $DC_POP3S_PORT/" "$RC"
  printf 'tls_trust_file %s\n' "$DC_CA" >>"$RC"
}

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# group_gone PGID: no process is left in that process group (waits up to 2 s
# for the kernel to finish with the killed ones).
group_gone() {
  local i
  for ((i = 0; i < 100; i++)); do
    pgrep -g "$1" >/dev/null || return 0
    sleep 0.02
  done
  echo "process group $1 is still there:" >&2
  ps -o pid,pgid,stat,args -g "$1" >&2
  return 1
}

# wait_for FILE: until it exists and is not empty (5 s at most).
wait_for() {
  local i
  for ((i = 0; i < 250; i++)); do
    if [[ -s $1 ]]; then return 0; fi
    sleep 0.02
  done
  return 1
}

@test "passwordeval_timeout: a command that hangs is killed with its process group; exit 3 naming the timeout" {
  rc_pe "echo \$\$ >'$W/pe.pgid'; sleep 30; echo pw" "passwordeval_timeout 2"
  local t0
  t0=$(date +%s%N)
  pf_run
  echo "$output"
  [ "$status" -eq 3 ]
  [ "$(ms_since "$t0")" -lt 6000 ]
  [[ $output == *"passwordeval did not finish within 2 s"* ]]
  [[ $output == *"passwordeval_timeout"* ]]
  group_gone "$(<"$W/pe.pgid")"
}

# pe_stop_round SIGNAL [OPTION]: the signal to popfetch (run with OPTION,
# e.g. --serverinfo) while passwordeval sleeps.
pe_stop_round() {
  rc_pe "echo \$\$ >'$W/pe.pgid'; sleep 30; echo pw"
  "$POPFETCH" -f "$RC" --state-dir "$SD" ${2:+"$2"} 2>"$W/err" &
  local pid=$! rc=0 t0
  wait_for "$W/pe.pgid"
  sleep 0.3 # into the sleep
  t0=$(date +%s%N)
  kill -s "$1" "$pid"
  wait "$pid" || rc=$?
  cat "$W/err"
  [ "$rc" -eq 23 ]
  [ "$(ms_since "$t0")" -lt 2000 ]
  grep -q "stopped by SIG$1 while passwordeval ran" "$W/err"
  group_gone "$(<"$W/pe.pgid")"
}

@test "SIGTERM while passwordeval runs: its process group is killed at once, exit 23" { pe_stop_round TERM; }
@test "SIGINT while passwordeval runs: its process group is killed at once, exit 23" { pe_stop_round INT; }
@test "--serverinfo: SIGTERM while passwordeval runs kills its group at once, exit 23" {
  pe_stop_round TERM --serverinfo
}

@test "passwordeval: only the first line is the secret; the lines after it are read and dropped" {
  dovecot_start
  dovecot_put alice - <<<$'Subject: one\n\nbody\n'
  # the rest comes later and is more than a pipe holds
  rc_pe_dovecot "printf 'secret\\nsecond\\n'; sleep 0.5; head -c 300000 /dev/zero"
  pf_run -vv
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
  [[ $output != *second* ]]
}

@test "passwordeval: more than 1 MiB after the first line is refused (exit 3), not read forever" {
  rc_pe "echo pw; exec cat /dev/zero" "passwordeval_timeout 20"
  local t0
  t0=$(date +%s%N)
  pf_run
  echo "$output"
  [ "$status" -eq 3 ]
  [[ $output == *"passwordeval printed more than 1048576 bytes after its first line"* ]]
  [ "$(ms_since "$t0")" -lt 10000 ]
}

@test "passwordeval: a program it leaves in the background holding its output does not hold up the login" {
  dovecot_start
  dovecot_put alice - <<<$'Subject: one\n\nbody\n'
  # (its stderr away from bats's output, which bats would wait for)
  rc_pe_dovecot "echo secret; sleep 30 2>/dev/null & echo \$! >'$W/bg.pid'"
  local t0
  t0=$(date +%s%N)
  pf_run
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(ms_since "$t0")" -lt 10000 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
}

# rc_prompt [lines...]: account "t" on the private Dovecot with no password
# anywhere (HOME=$W has no ~/.netrc): popfetch asks on the terminal.
rc_prompt() {
  pf_rc_dovecot implicit "$@"
  sed -i '/^password /d' "$RC"
}

@test "terminal prompt: the password and Enter log in, without Ctrl-D; nothing typed shows; echo is back after" {
  dovecot_start
  dovecot_put alice - <<<$'Subject: one\n\nbody\n'
  rc_prompt
  run on_pty --expect "Password for alice@127.0.0.1: " --send 'secret\r' \
    -- env HOME="$W" "$POPFETCH" -f "$RC" --state-dir "$SD"
  cat "$W/pty.log" "$W/pty.state"
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
  [ "$(grep -c secret "$W/pty.log")" -eq 0 ]
  grep -qx "at-expect 1 echo off" "$W/pty.state"
  grep -qx "after echo on" "$W/pty.state"
}

@test "terminal prompt: Ctrl-C stops popfetch at once (exit 23) and echo is back" {
  dovecot_start
  rc_prompt
  run on_pty --expect "Password for alice@127.0.0.1: " --send '\x03' \
    -- env HOME="$W" "$POPFETCH" -f "$RC" --state-dir "$SD"
  cat "$W/pty.log" "$W/pty.state"
  [ "$status" -eq 23 ]
  grep -q "stopped by SIGINT at the password prompt" "$W/pty.log"
  grep -qx "after echo on" "$W/pty.state"
}

@test "terminal prompt: with -j, accounts running side by side never ask (two prompts raced for one keyboard and hung): exit 3 each" {
  printf 'account a\nhost 127.0.0.1\nport 1\nuser alice\ndelivery maildir %s\n\naccount b : a\nuser carol\n' "$MD" >"$RC"
  chmod 600 "$RC"
  run on_pty -- env HOME="$W" "$POPFETCH" -f "$RC" --state-dir "$SD" -t 2 -j 2
  cat "$W/pty.log" "$W/pty.state"
  [ "$status" -eq 3 ]
  [ "$(grep -c 'Password for' "$W/pty.log")" -eq 0 ]
  grep -q "a: no password for alice@127.0.0.1" "$W/pty.log"
  grep -q "b: no password for carol@127.0.0.1" "$W/pty.log"
  grep -qx "after echo on" "$W/pty.state"
}

@test "passwordeval on a terminal: it has the terminal while it runs, so it may ask there" {
  dovecot_start
  dovecot_put alice - <<<$'Subject: one\n\nbody\n'
  rc_pe_dovecot "printf 'Vault password: ' >&2; read -r p; echo \"\$p\""
  run on_pty --expect "Vault password: " --send 'secret\r' \
    -- env HOME="$W" "$POPFETCH" -f "$RC" --state-dir "$SD"
  cat "$W/pty.log" "$W/pty.state"
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
  grep -qx "after echo on" "$W/pty.state"
}

@test "passwordeval on a terminal: Ctrl-C there stops it and popfetch (exit 23); the terminal's mode is put back" {
  rc_pe "echo \$\$ >'$W/pe.pgid'; stty -echo; printf 'Vault password: ' >&2; read -r p; echo \"\$p\""
  run on_pty --expect "Vault password: " --send '\x03' \
    -- env HOME="$W" "$POPFETCH" -f "$RC" --state-dir "$SD"
  cat "$W/pty.log" "$W/pty.state"
  [ "$status" -eq 23 ]
  grep -q "stopped by SIGINT while passwordeval ran" "$W/pty.log"
  grep -qx "at-expect 1 echo off" "$W/pty.state"
  grep -qx "after echo on" "$W/pty.state"
  group_gone "$(<"$W/pe.pgid")"
}
