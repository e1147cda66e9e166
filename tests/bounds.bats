#!/usr/bin/env bats
# Time and size are bounded, whatever the server does (issue 14): a reply
# that trickles is cut off (man/popfetchrc.5, `timeout`), a message cannot
# grow past `max_message_bytes`, the summary counts the bytes really
# received, and memory follows the listing the server really sends, not
# the count STAT announces. Played by the scripted fake server from
# tests/transcripts/ (each transcript's header says what the server does
# and what the client must do).

load lib/common

T=$BATS_TEST_DIRNAME/transcripts

setup() { pf_setup; }
teardown() { pf_teardown; }

# timed_run [args...]: pf_run, with the seconds it took in ELAPSED. Prints
# what happened (bats shows it when the test fails).
timed_run() {
  local t0=$SECONDS
  pf_run "$@"
  ELAPSED=$((SECONDS - t0))
  printf 'popfetch: status %s after %s s, output:\n%s\n' "$status" "$ELAPSED" "$output"
}

# deleted: the message numbers the client sent DELE for, in order, e.g. "1 2".
deleted() {
  { grep -a '^C> DELE ' "$FAKE_LOG" || true; } | tr -d '\r' | awk '{print $3}' | paste -sd' ' -
}

# stored N: nothing half-written in tmp/, exactly N messages delivered.
stored() {
  local n
  mailcheck clean "$MD"
  n=$(find "$MD/new" "$MD/cur" -type f | wc -l)
  [ "$n" -eq "$1" ] || { echo "Maildir holds $n messages, expected $1"; return 1; }
}

# ---- time: a reply must keep coming ---------------------------------------

@test "RETR: a body trickled one byte per second: cut off after the 3 s timeout, exit 7" {
  FAKE_TIMEOUT=60 fake_start "$T/h-retr-trickle.txt" --implicit-tls
  pf_rc_fake implicit "timeout 3" "pipelining off"
  timed_run
  [ "$status" -eq 7 ]
  [ "$ELAPSED" -ge 2 ] || false
  [ "$ELAPSED" -le 8 ] || false
  [[ $output == *"did not answer within 3 seconds: less than 64 KiB of the reply came in that time"* ]]
  [[ $output == *"stalled"* ]]
  fake_stop
  # message 1 was whole and is kept; message 2 is nowhere; no DELE at all
  [ -z "$(deleted)" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "UIDL: a listing trickled line by line, each line within the timeout: cut off, exit 7" {
  FAKE_TIMEOUT=60 fake_start "$T/h-uidl-trickle.txt" --implicit-tls
  pf_rc_fake implicit "timeout 3" "pipelining off"
  timed_run
  [ "$status" -eq 7 ]
  [ "$ELAPSED" -ge 2 ] || false
  [ "$ELAPSED" -le 8 ] || false
  [[ $output == *"reading the UIDL listing"*"did not answer within 3 seconds"* ]]
  fake_stop
  [ -z "$(deleted)" ]
  stored 0
}

@test "RETR: a slow but steady body (40 KB/s: 64 KiB in less than 3 s) is not cut off" {
  fake_start "$T/h-retr-steady.txt" --implicit-tls
  proxy_start "$FAKE_PORT" 2 40000
  pf_rc_fake implicit "timeout 3" "pipelining off"
  sed -i "s/^port .*/port $PROXY_PORT/" "$RC"
  timed_run
  [ "$status" -eq 0 ]
  # 200 KB at 40 KB/s: far longer than the timeout, yet never cut off
  [ "$ELAPSED" -ge 4 ] || false
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  { printf 'Subject: steady\n\n'
    yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n 3200
  } >"$W/steady.eml"
  mailcheck same "$MD" "$W/steady.eml"
}

# ---- size: the server does not choose how much it may write ---------------

@test "RETR: LIST claims 2^62 bytes, the body passes max_message_bytes 1M: stopped, exit 10" {
  fake_start "$T/h-retr-past-ceiling.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off" "max_message_bytes 1M"
  timed_run -v
  [ "$status" -eq 10 ]
  [ "$ELAPSED" -le 5 ] || false
  [[ $output == *"message 2 is larger than max_message_bytes (1048576 bytes)"*"stays on the server"* ]]
  [[ $output == *"raise max_message_bytes"* ]]
  [[ $output == *"1 message (61 bytes) retrieved, 0 deleted, 1 failed"* ]]
  fake_stop
  # message 1 was whole and is kept; nothing of message 2 in tmp/ or new/;
  # no DELE at all
  [ -z "$(deleted)" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "LIST claims 2^62 bytes for small messages: delivered; -v counts the bytes received" {
  fake_start "$T/h-list-claims-huge.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off" "received_header off"
  timed_run -v
  [ "$status" -eq 0 ]
  fake_stop
  [ "$(deleted)" = "1 2" ]
  stored 2
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
  # the summary's byte count is what was written into the Maildir
  local written
  written=$(cat "$MD"/new/* | wc -c)
  [ "$written" -eq 82 ]
  [[ $output == *"2 messages (82 bytes) retrieved, 2 deleted, 0 failed"* ]]
}

# ---- memory: it follows what the server really sends ----------------------

# limited_run [args...]: pf_run under GNU time (peak RSS in RSS_KB) and,
# unless popfetch is built with AddressSanitizer (which reserves terabytes
# of address space), in an address space of 64 MiB, where a table sized
# for millions of messages (40 bytes each) cannot even be reserved.
limited_run() {
  local as=()
  ldd "$POPFETCH" | grep -q libasan || as=(prlimit --as=$((64 << 20)) --)
  run "${as[@]}" /usr/bin/time -f 'peak-rss-kb %M' "$POPFETCH" -f "$RC" --state-dir "$SD" "$@"
  RSS_KB=$(printf '%s\n' "$output" | sed -n 's/^peak-rss-kb //p')
  printf 'popfetch: status %s, peak RSS %s KiB, output:\n%s\n' "$status" "$RSS_KB" "$output"
}

@test "STAT claims 10,000,000 messages: refused at once, naming the ceiling, exit 4" {
  fake_start "$T/h-stat-ten-million.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  limited_run
  [ "$status" -eq 4 ]
  [[ $output == *"claims 10000000 messages, more than popfetch handles (at most 2000000)"* ]]
  [ "$RSS_KB" -le $((32 << 10)) ] || false
  fake_stop
  [ -z "$(deleted)" ]
  stored 0
}

@test "STAT claims 1,999,999 messages, LIST names 3: memory follows the listing, exit 4" {
  fake_start "$T/h-stat-claims-more.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  limited_run
  [ "$status" -eq 4 ]
  [[ $output == *"left message 4 out of LIST"* ]]
  [ "$RSS_KB" -le $((32 << 10)) ] || false
  fake_stop
  [ -z "$(deleted)" ]
  stored 0
}
