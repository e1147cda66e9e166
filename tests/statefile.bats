#!/usr/bin/env bats
# The state file on disk (issue 20): version 2 (a status and time said once
# for a group of UIDLs) written by every compaction, version 1 from an
# older popfetch still read and rewritten, and --dump-state showing either
# as one "STATUS TIME UIDL" line a message.

load lib/common

setup() {
  pf_setup
  dovecot_start
  mkdir -p "$W/msg"
  local i
  for ((i = 1; i <= 3; i++)); do
    printf 'Subject: old %d\n\nfetched before the upgrade\n' "$i" >"$W/msg/$i"
    dovecot_put alice "$W/msg/$i"
  done
  pf_rc_dovecot implicit "keep on"
}

teardown() { pf_teardown; }

# dump_entries: --dump-state's entry lines (the comments left out), sorted.
dump_entries() {
  "$POPFETCH" -f "$RC" --state-dir "$SD" --dump-state t | grep -v '^#' | sort
}

@test "a version 1 state from an older popfetch: nothing old fetched again, rewritten as version 2" {
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 3 ]
  local st=$SD/alice@127.0.0.1.state
  # what the older popfetch wrote: "popfetch-state 1", then "D TIME UIDL"
  # a line (--dump-state's own look)
  local v1
  v1=$(dump_entries)
  [ "$(wc -l <<<"$v1")" -eq 3 ]
  grep -Eqx 'D [0-9]+ [[:graph:]]+' <<<"$v1" || false
  { echo "popfetch-state 1"; echo "$v1"; } >"$st"
  [ ! -e "$SD/alice@127.0.0.1.journal" ]
  local before after
  before=$(dovecot_retr_del_counts)
  pf_run
  [ "$status" -eq 1 ]
  after=$(dovecot_retr_del_counts)
  [ "$before" = "$after" ] || { echo "server counted RETRs: $before -> $after"; false; }
  [ "$(mailcheck count "$MD")" -eq 3 ]
  # the clean run rewrote it: version 2, the same entries (status and time
  # each said once, on the group's header line)
  [ "$(head -n 1 "$st")" = "popfetch-state 2" ]
  [ "$(dump_entries)" = "$v1" ]
  # a header line per second the three were first seen in, a UIDL a line
  local times uidl
  times=$(cut -d' ' -f2 <<<"$v1" | sort -u | wc -l)
  [ "$(wc -l <"$st")" -eq $((1 + times + 3)) ] || { cat "$st"; false; }
  [ "$(grep -c '^D [0-9]*$' "$st")" -eq "$times" ] || { cat "$st"; false; }
  for uidl in $(cut -d' ' -f3 <<<"$v1"); do
    [ "$(grep -cxF "$uidl" "$st")" -eq 1 ] || { cat "$st"; false; }
  done
  # a later run: only the new message
  printf 'Subject: new\n\nafter the upgrade\n' >"$W/new"
  dovecot_put alice "$W/new"
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 4 ]
  pf_run
  [ "$status" -eq 1 ]
  [ "$(mailcheck count "$MD")" -eq 4 ]
  [ "$(dump_entries | wc -l)" -eq 4 ]
}

@test "--dump-state: the entries, the journal's records, a count; creates nothing" {
  # an account that never ran: nothing to show, nothing created
  run "$POPFETCH" -f "$RC" --state-dir "$SD" --dump-state t
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "# account t: $SD/alice@127.0.0.1.state" ]
  [ "${lines[1]}" = "# 0 UIDLs, 0 intents, 0 recipient records, 0 Maildir renames to finish, 0 damaged lines skipped" ]
  [ ! -e "$SD" ]
  # a state file and a journal, with a damaged line and an intent
  mkdir -m 700 "$SD"
  printf 'popfetch-state 2\nD 1733500000\nuid-a\nuid-b\nS 1733500007\nuid-c\nX 1\nlost\n' \
    >"$SD/alice@127.0.0.1.state"
  printf 'popfetch-journal 1\nD 1733500100 uid-d 1.M2P3.host\nI 1733500101 uid-e 0:12\n' \
    >"$SD/alice@127.0.0.1.journal"
  chmod 600 "$SD"/*
  local sum
  sum=$(cat "$SD"/* | md5sum)
  run "$POPFETCH" -f "$RC" --state-dir "$SD" --dump-state
  [ "$status" -eq 0 ]
  [ "$output" = "# account t: $SD/alice@127.0.0.1.state
D 1733500000 uid-a
D 1733500000 uid-b
S 1733500007 uid-c
D 1733500100 uid-d
I 1733500101 uid-e 0:12
# 4 UIDLs, 1 intent, 0 recipient records, 1 Maildir rename to finish, 2 damaged lines skipped" ] ||
    { echo "$output"; false; }
  [ "$(cat "$SD"/* | md5sum)" = "$sum" ]
  [ "$(ls "$SD")" = "$(printf 'alice@127.0.0.1.journal\nalice@127.0.0.1.state')" ]
}

@test "--dump-state of a newer version's state: exit 10 and the file untouched" {
  mkdir -m 700 "$SD"
  printf 'popfetch-state 3\nwhatever it holds\n' >"$SD/alice@127.0.0.1.state"
  chmod 600 "$SD"/*
  run "$POPFETCH" -f "$RC" --state-dir "$SD" --dump-state t
  [ "$status" -eq 10 ]
  [[ $output == *"another popfetch version"* ]]
  [ "$(cat "$SD/alice@127.0.0.1.state")" = "$(printf 'popfetch-state 3\nwhatever it holds')" ]
}

@test "--dump-state while a run holds the account: exit 8 naming the holder, then the entries" {
  fake_start "$BATS_TEST_DIRNAME/transcripts/slow-after-login.txt" --implicit-tls
  pf_rc_fake implicit
  "$POPFETCH" -q -f "$RC" --state-dir "$SD" &
  local first=$!
  sleep 1
  run "$POPFETCH" -f "$RC" --state-dir "$SD" --dump-state t
  [ "$status" -eq 8 ]
  [[ $output == *"another popfetch (pid $first)"* ]]
  local rc=0
  wait "$first" || rc=$?
  [ "$rc" -eq 1 ] # the run finds no mail
  fake_stop
  run "$POPFETCH" -f "$RC" --state-dir "$SD" --dump-state t
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "# 0 UIDLs, 0 intents, 0 recipient records, 0 Maildir renames to finish, 0 damaged lines skipped" ]
}
