#!/usr/bin/env bats
# Exactly once into Maildir, proven by killing popfetch (SIGKILL, from the
# fault-injection build) at every named crash point, for several message
# numbers, in delete and keep mode; then rerunning to completion and reading
# back with Python's mailbox module: every message arrived exactly once, and
# nothing ever left the server before it was safely in the Maildir.

load lib/common

FAULTS=$PF_TOP/${FAULTS_BIN:-build/popfetch-faults}

setup() {
  pf_setup
  [ -x "$FAULTS" ] || { echo "$FAULTS is not built: make build/popfetch-faults"; false; }
  dovecot_start
  mkdir -p "$W/orig"
  local i
  for ((i = 1; i <= 6; i++)); do
    printf 'From: s%d@example.org\nSubject: crash test %d\n\nline one of %d\n.dot line\nlast\n' \
      "$i" "$i" "$i" >"$W/orig/$i"
  done
  # message 4 is big enough to arrive in several chunks
  "$DC_PYTHON" -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("y" * 99 + "\n") * 4000)' >"$W/orig/4"
}

teardown() { pf_teardown; }

# fresh_round: empty both sides and put the six messages on the server.
fresh_round() {
  local smd
  smd=$(dovecot_maildir alice)
  rm -rf "$MD" "$SD"
  find "$smd/new" "$smd/cur" -maxdepth 1 -type f -delete 2>/dev/null || true
  local f
  for f in "$W"/orig/{1..6}; do dovecot_put alice "$f"; done
}

# crash_round KEEP POINT N: crash at POINT:N, check, rerun, check.
crash_round() {
  local keep=$1 point=$2 n=$3 smd
  smd=$(dovecot_maildir alice)
  fresh_round
  pf_rc_dovecot implicit "keep $keep"
  POPFETCH_CRASH_AT=$point:$n run "$FAULTS" -q -f "$RC" --state-dir "$SD"
  if [ "$status" -ne 137 ]; then
    echo "keep $keep: expected a crash at $point:$n, got status $status: $output"
    return 1
  fi
  # nothing left the server before it was delivered
  mailcheck gone-are-delivered "$MD" "$smd" "$W"/orig/{1..6} ||
    { echo "after crash at $point:$n (keep $keep)"; return 1; }
  local mark after want
  mark=$(dovecot_log_mark)
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  after=$(dovecot_retr_del_since "$mark") || return 1 # this run's session alone
  want=1 # no new mail, unless the server counted a RETR of this run: then 0
  if [ "${after% *}" -gt 0 ]; then want=0; fi
  if [ "$status" -ne "$want" ]; then
    echo "rerun after $point:$n: status $status, expected $want (its RETR DELE: $after): $output"
    return 1
  fi
  mailcheck same "$MD" "$W"/orig/{1..6} || { echo "after crash at $point:$n (keep $keep)"; return 1; }
  mailcheck clean "$MD" || return 1
  if [ "$keep" = off ]; then
    [ "$(dovecot_count alice)" -eq 0 ] || { echo "server not emptied ($point:$n)"; return 1; }
  else
    [ "$(dovecot_count alice)" -eq 6 ] || { echo "keep mode lost mail ($point:$n)"; return 1; }
  fi
  # and a third run finds nothing new and duplicates nothing
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 1 ] || { echo "third run after $point:$n: $status $output"; return 1; }
  mailcheck same "$MD" "$W"/orig/{1..6}
}

@test "delete mode: a kill at any crash point neither loses nor duplicates" {
  local point n
  for point in mid-message after-tmp after-journal after-publish after-dele; do
    for n in 1 4 6; do
      crash_round off "$point" "$n"
    done
  done
  crash_round off after-quit 0
  crash_round off after-compact 0
}

@test "keep mode: a kill at any crash point neither loses nor duplicates" {
  local point n
  for point in mid-message after-tmp after-journal after-publish; do
    for n in 1 4 6; do
      crash_round on "$point" "$n"
    done
  done
  crash_round on after-quit 0
  crash_round on after-compact 0
}

# crash_round_mbox POINT N: as crash_round in delete mode, delivering into
# an mbox. The journal's intent (where the message goes, how long it is)
# lets the next start tell a message the killed run appended whole (it is
# recorded, never appended again) from a part of one (it is cut off, and
# fetched again).
crash_round_mbox() {
  local point=$1 n=$2 smd
  smd=$(dovecot_maildir alice)
  fresh_round
  rm -f "$W/mbox" "$W/mbox.lock"
  pf_rc_dovecot implicit
  sed -i "s|^delivery .*|delivery mbox $W/mbox|" "$RC"
  POPFETCH_CRASH_AT=$point:$n run "$FAULTS" -q -f "$RC" --state-dir "$SD"
  if [ "$status" -ne 137 ]; then
    echo "mbox: expected a crash at $point:$n, got status $status: $output"
    return 1
  fi
  mailcheck gone-are-delivered "$W/mbox" "$smd" "$W"/orig/{1..6} ||
    { echo "mbox: after crash at $point:$n"; return 1; }
  run "$POPFETCH" -f "$RC" --state-dir "$SD"
  if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    echo "mbox: rerun after $point:$n: status $status: $output"
    return 1
  fi
  mailcheck mbox-same "$W/mbox" "$W"/orig/{1..6} || { echo "mbox: after crash at $point:$n: $output"; return 1; }
  [ "$(dovecot_count alice)" -eq 0 ] || { echo "mbox: server not emptied ($point:$n)"; return 1; }
  [ ! -e "$W/mbox.lock" ] || { echo "mbox: lock left ($point:$n)"; return 1; }
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 1 ] || { echo "mbox: third run after $point:$n: $status $output"; return 1; }
  mailcheck mbox-same "$W/mbox" "$W"/orig/{1..6}
}

@test "mbox: a kill at any crash point neither loses nor duplicates" {
  local point n
  # mid-append: killed after the first write of the message (the whole of
  # a small one, a part of the large message 4), before its fsync;
  # after-tmp: appended and fsynced, its record not yet written
  for point in mid-append after-tmp; do
    for n in 1 4 6; do
      crash_round_mbox "$point" "$n"
    done
  done
  crash_round_mbox mid-message 4
  # after-intent: the intent written and fsynced, nothing appended yet
  crash_round_mbox after-intent 1
  crash_round_mbox after-intent 4
  crash_round_mbox after-record 1
  crash_round_mbox after-journal 6
  crash_round_mbox after-dele 3
}

@test "a journaled delivery still in tmp/ is finished at the next start" {
  fresh_round
  pf_rc_dovecot implicit "keep on"
  POPFETCH_CRASH_AT=after-journal:2 run "$FAULTS" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 137 ]
  # message 2 (and the rest of its commit group) is journaled but still in tmp/
  local f n
  n=$(ls "$MD/tmp" | wc -l)
  [ "$n" -ge 1 ]
  [ "$(mailcheck count "$MD")" -eq 0 ]
  for f in "$MD"/tmp/*; do grep -q "${f##*/}" "$SD"/*.journal; done
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD" -c  # --check changes nothing
  [ "$status" -eq 1 ] # the group with message 2 is journaled: nothing new
  [ "$(ls "$MD/tmp" | wc -l)" -eq "$n" ]
  # the next start finishes those deliveries (nothing is left to fetch: 1)
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 1 ]
  mailcheck clean "$MD"
  mailcheck same "$MD" "$W"/orig/{1..6}
  [ "$(dovecot_retr_del_counts)" = "6 0" ]   # nothing was fetched twice
}

@test "large messages are made durable as they arrive, not all after the last one" {
  # Three messages of 4.5 MiB: a commit group ends at 4 MiB, so when the
  # third is interrupted the first two are already in new/ and recorded,
  # and the next run fetches only the third.
  local smd i
  smd=$(dovecot_maildir alice)
  find "$smd/new" "$smd/cur" -maxdepth 1 -type f -delete 2>/dev/null || true
  rm -rf "$W/big" && mkdir -p "$W/big"
  for i in 1 2 3; do
    "$DC_PYTHON" -c 'import sys; n = sys.argv[1]; sys.stdout.write("Subject: big %s\n\n" % n + ("%s" % n * 89 + "\n") * 47186)' "$i" >"$W/big/$i"
    dovecot_put alice "$W/big/$i"
  done
  pf_rc_dovecot implicit "keep on"
  POPFETCH_CRASH_AT=mid-message:3 run "$FAULTS" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 137 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
  mailcheck same "$MD" "$W"/big/{1,2}
  # the killed session may or may not have been counted as sending the
  # third (its RETR was pipelined): compare the server's counts around the rerun
  local mark after
  mark=$(dovecot_log_mark)
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 0 ]
  mailcheck same "$MD" "$W"/big/{1..3}
  mailcheck clean "$MD"
  after=$(dovecot_retr_del_since "$mark") # the rerun's session alone
  [ "$after" = "1 0" ] || { echo "the rerun: RETR DELE $after"; false; } # only the third
}

@test "our own orphans in tmp/ are removed; other programs' files are left alone" {
  fresh_round
  pf_rc_dovecot implicit "keep on"
  POPFETCH_CRASH_AT=after-tmp:3 run "$FAULTS" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 137 ]
  # messages 1-3 are written but not yet made durable nor journaled
  [ "$(ls "$MD/tmp" | wc -l)" -eq 3 ]
  echo "someone else's" >"$MD/tmp/1700000000.M1P1.otherhost"
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 0 ]
  [ "$(ls "$MD/tmp")" = "1700000000.M1P1.otherhost" ]
  mailcheck same "$MD" "$W"/orig/{1..6}
}

# kill_loop SINK [KILLS]: 300 messages through a slow link, KILLS (12)
# runs killed with SIGKILL at random moments, delivering into SINK
# (maildir, mbox, or lmtp: Dovecot's LMTP into bob's Maildir); then a run
# to the end: every message exactly once (lmtp: at least once, the
# duplicates counted in $W/dups), nothing left the server before it was
# delivered.
kill_loop() {
  local sink=$1 rounds=${2:-12} smd i box check=gone-are-delivered
  smd=$(dovecot_maildir alice)
  find "$smd/new" "$smd/cur" -maxdepth 1 -type f -delete 2>/dev/null || true
  rm -rf "$W/orig"
  mkdir -p "$W/orig"
  "$DC_PYTHON" - "$W/orig" <<'PY'
import os, random, sys
random.seed(7)
for i in range(1, 301):
    body = "\n".join("kill %d line %d %s" % (i, j, "k" * random.randint(0, 70))
                      for j in range(random.randint(1, 60)))
    with open(os.path.join(sys.argv[1], str(i)), "w") as f:
        f.write("Subject: kill %d\n\n%s\n" % (i, body))
PY
  dovecot_put_dir alice "$W/orig"
  # slow enough (60 kB/s) that no run finishes before it is killed
  proxy_start "$DC_POP3S_PORT" 2 60000
  pf_rc_dovecot implicit
  sed -i "s/^port .*/port $PROXY_PORT/" "$RC"
  box=$MD
  if [ "$sink" = mbox ]; then
    box=$W/mbox
    sed -i "s|^delivery .*|delivery mbox $box|" "$RC"
  elif [ "$sink" = lmtp ]; then
    box=$(dovecot_maildir bob)
    check=gone-are-forwarded
    sed -i "s|^delivery .*|delivery lmtp $DC_LMTP_SOCKET|" "$RC"
    echo "recipient bob" >>"$RC"
  fi
  local kills=0 pid
  for ((i = 0; i < rounds; i++)); do
    "$POPFETCH" -q -f "$RC" --state-dir "$SD" 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
    # nothing ever leaves the server before it is delivered
    mailcheck "$check" "$box" "$smd" "$W"/orig/* || return 1
  done
  echo "killed $kills runs mid-flight"
  echo "$kills" >"$W/kills"
  [ "$kills" -ge 6 ] || return 1
  local mark after want=1
  # mbox: 0 if something is still missing (or cut short) in the mbox, else
  # 1 (a whole message a killed run appended is recorded, not fetched; its
  # RETR may have gone out ahead of the listing all the same)
  if [ "$sink" = mbox ] && ! mailcheck mbox-same "$box" "$W"/orig/* >/dev/null; then want=0; fi
  mark=$(dovecot_log_mark)
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  after=$(dovecot_retr_del_since "$mark") || return 1 # this run's session alone
  # Maildir: 0 if it retrieved what the killed runs left (the server counted a RETR), else 1
  if [ "$sink" != mbox ] && [ "${after% *}" -gt 0 ]; then want=0; fi
  [ "$status" -eq "$want" ] || { echo "last run: status $status, expected $want: $output"; return 1; }
  if [ "$sink" = mbox ]; then
    mailcheck mbox-same "$box" "$W"/orig/* || return 1
  elif [ "$sink" = lmtp ]; then
    mailcheck forwarded-dups "$box" "$W"/orig/* >"$W/dups" || { cat "$W/dups"; return 1; }
  else
    mailcheck same "$box" "$W"/orig/* || return 1
    mailcheck clean "$box" || return 1
  fi
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "real SIGKILLs at random moments through a slow link: exactly once" {
  kill_loop maildir
}

@test "mbox: real SIGKILLs at random moments through a slow link: exactly once" {
  kill_loop mbox
}

@test "lmtp: real SIGKILLs at random moments through a slow link: nothing lost, at most one duplicate per connection per kill" {
  dovecot_stop
  DC_LMTP=1 dovecot_start
  kill_loop lmtp 20
  local dups kills
  dups=$(<"$W/dups")
  kills=$(<"$W/kills")
  echo "duplicates: $dups for $kills kills"
  # the bound popfetchrc(5) documents: a kill between the end of a message
  # and the journal's write() after the LMTP server's reply delivers that
  # message again, one in flight on each of smtp_connections (4 by default)
  [ "$dups" -le $((kills * 4)) ] || false
  # a run after the end fetches nothing and delivers nothing twice
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 1 ] || { echo "$output"; false; }
  run mailcheck forwarded-dups "$(dovecot_maildir bob)" "$W"/orig/*
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$dups" ] || { echo "$output"; false; }
}

@test "slow link: small messages are recorded while a large one behind them is still arriving" {
  # 20 small messages, then 500 kB at 100 kB/s (about 5 s): the small
  # ones' group is committed about a second after they ended, not when
  # the large one ends, so a kill while it arrives keeps that progress.
  local smd i pid
  smd=$(dovecot_maildir alice)
  find "$smd/new" "$smd/cur" -maxdepth 1 -type f -delete 2>/dev/null || true
  rm -rf "$W/orig" && mkdir -p "$W/orig"
  for ((i = 1; i <= 20; i++)); do
    printf 'Subject: small %d\n\nsmall body %d\n' "$i" "$i" >"$W/orig/$i"
  done
  "$DC_PYTHON" -c 'import sys; sys.stdout.write("Subject: large\n\n" + ("L" * 99 + "\n") * 5000)' >"$W/orig/21"
  for ((i = 1; i <= 21; i++)); do dovecot_put alice "$W/orig/$i"; done
  proxy_start "$DC_POP3S_PORT" 2 100000
  pf_rc_dovecot implicit
  sed -i "s/^port .*/port $PROXY_PORT/" "$RC"
  local t0=$SECONDS
  "$POPFETCH" -q -f "$RC" --state-dir "$SD" 2>/dev/null &
  pid=$!
  for ((i = 0; i < 70; i++)); do
    if [ "$(ls "$MD/new" 2>/dev/null | wc -l)" -ge 20 ]; then break; fi
    sleep 0.05
  done
  local got
  got=$(ls "$MD/new" 2>/dev/null | wc -l)
  local alive=0
  if kill -9 "$pid" 2>/dev/null; then alive=1; fi
  wait "$pid" || true
  [ "$got" -eq 20 ] || { echo "$got messages durable after $((SECONDS - t0)) s, not the 20 small ones alone"; false; }
  # ... while the large one was still arriving: the run had not ended
  [ "$alive" -eq 1 ]
  [ "$(grep -c '^D ' "$SD"/*.journal)" -eq 20 ]
  mailcheck same "$MD" "$W"/orig/{1..20}
  # the next run (through the proxy: the state is the account's at its
  # port) fetches only the large one
  local mark after
  mark=$(dovecot_log_mark)
  run "$POPFETCH" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 0 ]
  after=$(dovecot_retr_del_since "$mark") # the rerun's session alone
  [ "${after% *}" -eq 1 ] || { echo "the rerun: RETR DELE $after"; false; }
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}
