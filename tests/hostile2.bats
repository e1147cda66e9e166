#!/usr/bin/env bats
# More misbehaving servers, from the hostile-server issue list: greetings,
# CAPA, STAT/LIST/UIDL, RETR, STLS and timing. Each is played by the
# scripted fake server from tests/transcripts/h-*.txt (the header of each
# transcript says what the server does and what the client must do).
#
# Every test checks: the exit status (man/popfetch.1, EXIT STATUS), that the
# run ended within the configured timeout, an error message saying what the
# server did wrong, that nothing was deleted that was not delivered (the
# DELEs in the fake's log), and that nothing partial is left in the Maildir.

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

# client_sent: every line the client sent.
client_sent() { grep -a '^C> ' "$FAKE_LOG" || true; }

# not_sent GREP-ARGS...: the client sent no line matching (a function, so
# that under bats a match fails the test wherever the check stands).
not_sent() {
  if client_sent | grep -a -q "$@"; then echo "the client sent: $(client_sent | grep -a "$@")"; return 1; fi
}

# stored N: nothing half-written in tmp/, exactly N messages delivered.
stored() {
  local n
  mailcheck clean "$MD"
  n=$(find "$MD/new" "$MD/cur" -type f | wc -l)
  [ "$n" -eq "$1" ] || { echo "Maildir holds $n messages, expected $1"; return 1; }
}

# nothing_done: no DELE sent, no message delivered, nothing in tmp/.
nothing_done() {
  [ -z "$(deleted)" ] || { echo "DELE sent: $(deleted)"; return 1; }
  stored 0
}

# harmless_output: no raw control bytes (escape, BEL) reached the terminal.
harmless_output() {
  [[ $output != *$'\e'* && $output != *$'\a'* ]] || { echo "raw control bytes in output"; return 1; }
}

# timed_out: the run waited for the timeout (5 s) and no longer than that plus
# a margin.
timed_out() {
  [ "$ELAPSED" -ge 4 ] || { echo "gave up after $ELAPSED s, before the timeout"; return 1; }
  [ "$ELAPSED" -le 8 ] || { echo "took $ELAPSED s, well past the timeout"; return 1; }
}

# ---- greeting ------------------------------------------------------------

@test "greeting: none (silent after TLS): timeout, exit 7, nothing sent" {
  fake_start "$T/h-greeting-silent.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5"
  timed_run
  [ "$status" -eq 7 ]
  timed_out
  [[ $output == *"greeting"* ]]
  [[ $output == *"did not answer within 5 seconds"* ]]
  fake_stop
  [ -z "$(client_sent)" ]
  nothing_done
}

@test "greeting: -ERR: exit 7, quotes the server, nothing sent" {
  fake_start "$T/h-greeting-err.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5"
  timed_run
  [ "$status" -eq 7 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"greeting"* ]]
  [[ $output == *"-ERR [SYS/TEMP] service unavailable"* ]]
  fake_stop
  [ -z "$(client_sent)" ]
  nothing_done
}

@test "greeting: binary garbage: exit 4, quoted harmlessly, nothing sent" {
  fake_start "$T/h-greeting-binary.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5"
  timed_run
  [ "$status" -eq 4 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"did not greet like a POP3 server"* ]]
  harmless_output
  fake_stop
  [ -z "$(client_sent)" ]
  nothing_done
}

@test "greeting: a bare +OK is enough: exit 0, message fetched" {
  fake_start "$T/h-greeting-bare-ok.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "greeting: LF-only line ends everywhere: works, exit 0" {
  fake_start "$T/h-greeting-lf.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  printf 'Subject: lf\n\nbody line\n.dotted\n' >"$W/lf.eml"
  mailcheck same "$MD" "$W/lf.eml"
}

# ---- CAPA ----------------------------------------------------------------

@test "CAPA: 10,000 lines: bounded, exit 4 naming CAPA, no credentials" {
  fake_start "$T/h-capa-many-lines.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5"
  timed_run
  [ "$status" -eq 4 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"CAPA"* ]]
  fake_stop
  not_sent -e USER -e PASS -e AUTH
  nothing_done
}

@test "CAPA: a 100 KiB line: bounded, exit 4 naming CAPA, no credentials" {
  fake_start "$T/h-capa-long-line.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5"
  timed_run
  [ "$status" -eq 4 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"longer than"* ]]
  [[ $output == *"CAPA"* ]]
  fake_stop
  not_sent -e USER -e PASS -e AUTH
  nothing_done
}

@test "CAPA: binary bytes in capability lines are ignored: exit 0" {
  fake_start "$T/h-capa-binary.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run -vv # the trace shows the CAPA lines: they must be made harmless
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  harmless_output
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "CAPA: -ERR: falls back to USER/PASS, exit 0" {
  fake_start "$T/h-capa-err.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "SASL: unknown mechanisms around PLAIN: auth auto picks PLAIN" {
  fake_start "$T/h-sasl-unknown-plain.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 1 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  client_sent | grep -q '^C> AUTH PLAIN '
  nothing_done
}

@test "SASL: only unknown mechanisms, USER listed: auth auto uses USER" {
  fake_start "$T/h-sasl-unknown-user.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 1 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  client_sent | grep -q '^C> USER alice'
  nothing_done
}

@test "SASL: only unknown mechanisms, USER not listed: auth auto tries USER" {
  fake_start "$T/h-sasl-unknown-only.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 1 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  client_sent | grep -q '^C> USER alice'
  nothing_done
}

# ---- STAT, LIST, UIDL ----------------------------------------------------

# listing_refused TRANSCRIPT WORDS...: the listing is impossible: exit 4,
# quickly, with each of WORDS in the message; nothing fetched or deleted.
listing_refused() {
  local transcript=$1 w
  shift
  fake_start "$T/$transcript" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 4 ]
  [ "$ELAPSED" -le 5 ]
  for w in "$@"; do
    [[ $output == *"$w"* ]] || { echo "message lacks: $w"; return 1; }
  done
  harmless_output
  fake_stop
  nothing_done
}

@test "STAT: negative count: exit 4" {
  listing_refused h-stat-negative.txt 'impossible STAT line' '"-1 0"'
}

@test "STAT: 2^63 messages: exit 4" {
  listing_refused h-stat-huge.txt 'STAT' '9223372036854775808'
}

@test "STAT: size overflowing 64 bits: exit 4" {
  listing_refused h-stat-overflow.txt 'impossible STAT line' '340282366920938463463374607431768211456'
}

@test "STAT: non-numeric: exit 4" {
  listing_refused h-stat-nonnumeric.txt 'impossible STAT line' '"two lots"'
}

@test "LIST: negative size: exit 4" {
  listing_refused h-list-negative.txt 'impossible LIST line' '"2 -21"'
}

@test "LIST: size 2^63: exit 4" {
  listing_refused h-list-huge.txt 'impossible LIST line' '"2 9223372036854775808"'
}

@test "LIST: size overflowing 64 bits: exit 4, no wrap-around" {
  listing_refused h-list-overflow.txt 'impossible LIST line' '"1 18446744073709551616"'
}

@test "LIST: more lines than STAT said: exit 4" {
  listing_refused h-list-more.txt 'impossible LIST line' '"3 30"'
}

@test "LIST: fewer lines than STAT said: exit 4" {
  listing_refused h-list-fewer.txt 'left message 2 out of LIST'
}

@test "LIST: message number out of range: exit 4" {
  listing_refused h-list-out-of-range.txt 'impossible LIST line' '"7 21"'
}

@test "LIST: message number 0: exit 4" {
  listing_refused h-list-zero.txt 'impossible LIST line' '"0 66"'
}

@test "LIST: message number repeated: exit 4" {
  listing_refused h-list-repeated.txt 'impossible LIST line' '"1 66"'
}

@test "UIDL: message number repeated: exit 4" {
  listing_refused h-uidl-repeated.txt 'impossible UIDL line' '"2 uid-other"'
}

@test "UIDL: more lines than STAT said: exit 4" {
  listing_refused h-uidl-more.txt 'impossible UIDL line' '"3 uid-three"'
}

@test "UIDL: fewer lines than STAT said: exit 4" {
  listing_refused h-uidl-fewer.txt 'left message 1 out of UIDL'
}

@test "UIDL: non-numeric message number: exit 4" {
  listing_refused h-uidl-nonnumeric.txt 'impossible UIDL line' '"one uid-one"'
}

@test "UIDL: empty unique-id: exit 4" {
  listing_refused h-uidl-empty.txt 'impossible UIDL line'
}

@test "UIDL: 10,000-character unique-id: bounded, exit 4 naming UIDL" {
  listing_refused h-uidl-long.txt 'longer than' 'UIDL'
}

@test "UIDL: control bytes in a unique-id: exit 4, quoted harmlessly" {
  listing_refused h-uidl-control.txt 'impossible UIDL line' 'uid?two'
}

@test "LIST: a listing that never ends (stall): timeout, exit 7" {
  fake_start "$T/h-list-stall.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 7 ]
  timed_out
  [[ $output == *"did not answer within 5 seconds"* ]]
  fake_stop
  nothing_done
}

# ---- RETR ----------------------------------------------------------------

@test "RETR: message smaller than LIST said: delivered, exit 0" {
  fake_start "$T/h-retr-smaller.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "RETR: 200 KiB where LIST said 10 bytes: within the bound, delivered, exit 0" {
  fake_start "$T/h-retr-larger.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  { printf 'Subject: bigger than said\n\n'
    yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n 3200
  } >"$W/bigger.eml"
  mailcheck same "$MD" "$W/bigger.eml"
}

@test "RETR: 5 MiB where LIST said 10 bytes: refused past the bound, exit 4" {
  fake_start "$T/h-retr-huge-lie.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 4 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"sent more than 1048596 bytes for one message"* ]]
  fake_stop
  # message 1 was whole and is kept; the liar is nowhere; no DELE at all
  [ -z "$(deleted)" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "RETR: a response that never ends (stall mid-message): timeout, exit 7" {
  fake_start "$T/h-retr-stall.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 7 ]
  timed_out
  [[ $output == *"did not answer within 5 seconds"* ]]
  fake_stop
  [ -z "$(deleted)" ]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "RETR: connection dropped mid-line: exit 2, nothing half-written" {
  fake_start "$T/h-retr-drop-mid-line.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 2 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"closed the connection in the middle of a message"* ]]
  fake_stop
  nothing_done
  not_sent QUIT
}

@test "RETR: connection dropped right after the terminator: delivered, exit 2" {
  fake_start "$T/h-retr-drop-after-end.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 2 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"closed the connection"* ]]
  fake_stop
  # the message was whole: delivered once; only it may have been deleted
  [[ "$(deleted)" == "" || "$(deleted)" == "1" ]]
  stored 1
  mailcheck same "$MD" "$T/messages/one.eml"
}

@test "DELE: connection dropped after DELE: both delivered, exit 2" {
  fake_start "$T/h-dele-drop.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 2 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"closed the connection"* ]]
  fake_stop
  [ "$(deleted)" = "1 2" ]
  stored 2
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
}

@test "QUIT: connection dropped instead of +OK: exit 0, warns about deletions" {
  fake_start "$T/h-quit-drop.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"no answer to QUIT"* ]]
  [[ $output == *"deletions may not have been committed"* ]]
  fake_stop
  [ "$(deleted)" = "1 2" ]
  stored 2
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
}

@test "QUIT never answered: -v's summary says marked for deletion, not deleted" {
  fake_start "$T/h-quit-drop.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"t: 2 messages ("*" bytes) retrieved, 2 marked for deletion (QUIT unanswered: the next run deletes them), 0 failed, in "* ]]
  [[ $output != *" 2 deleted"* ]]
}

@test "after a failure, -v's summary says what failed, not a clean-looking 0 of everything" {
  dovecot_start
  pf_rc_dovecot implicit
  sed -i 's/^password secret$/password wrong/' "$RC"
  pf_run -v
  [ "$status" -eq 3 ]
  [[ $output == *"t: the run failed ("*"); before that: 0 messages (0 bytes) retrieved, 0 deleted, 0 failed, in "* ]] ||
    { echo "$output"; false; }
}

@test "RETR: -ERR for one message: it stays, the other is delivered, exit 10" {
  fake_start "$T/h-retr-err.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 10 ]
  [ "$ELAPSED" -le 5 ]
  [[ $output == *"message 1 was not delivered"* ]]
  [[ $output == *"message 1 is locked"* ]]
  fake_stop
  [ "$(deleted)" = "2" ]
  stored 1
  mailcheck same "$MD" "$T/messages/two.eml"
}

@test "RETR: NUL and 8-bit bytes: delivered byte for byte, exit 0" {
  fake_start "$T/h-retr-binary.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  printf 'Subject: binary\n\nnul:\000\000 end\n8bit:\200\201\376\377\303\251\nbare\rCR\n.stuffed\n..\n\000\n' \
    >"$W/binary.eml"
  mailcheck same "$MD" "$W/binary.eml"
}

@test "RETR: a 50 MiB single line: delivered whole, exit 0" {
  FAKE_TIMEOUT=60 fake_start "$T/h-retr-long-line.txt" --implicit-tls
  pf_rc_fake implicit "timeout 10" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  [ "$ELAPSED" -le 30 ]
  fake_stop
  [ "$(deleted)" = "1" ]
  stored 1
  { printf 'Subject: one long line\n\n'
    head -c 52428800 /dev/zero | tr '\0' z
    printf '\n'
  } >"$W/long.eml"
  mailcheck same "$MD" "$W/long.eml"
}

# ---- STLS ----------------------------------------------------------------

@test "STLS: CAPA changes after TLS: the post-TLS CAPA is used (PLAIN)" {
  fake_start "$T/h-stls-capa-changes.txt"
  pf_rc_fake starttls "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 1 ]
  [ "$ELAPSED" -le 5 ]
  fake_stop
  [ "$(client_sent | grep -c '^C> STLS')" -eq 1 ]
  client_sent | grep -q '^C> AUTH PLAIN '
  not_sent SCRAM
  nothing_done
}

@test "STLS: +OK then the handshake never completes: timeout, exit 2 or 7" {
  fake_start "$T/h-stls-handshake-stall.txt"
  pf_rc_fake starttls "timeout 5"
  timed_run
  [ "$status" -eq 2 ] # popfetch(1): a handshake not finished within timeout is 2
  timed_out
  [[ $output == *"TLS handshake"* ]]
  [[ $output == *"did not answer within 5 seconds"* ]]
  fake_stop
  not_sent -e USER -e PASS -e AUTH
  nothing_done
}

# ---- timing --------------------------------------------------------------

@test "timing: connection accepted, then silence: timeout, exit 2 or 7" {
  fake_start "$T/h-connect-silent.txt"
  pf_rc_fake implicit "timeout 5"
  timed_run
  [ "$status" -eq 2 ] # popfetch(1): a handshake not finished within timeout is 2
  timed_out
  [[ $output == *"TLS handshake"* ]]
  [[ $output == *"did not answer within 5 seconds"* ]]
  fake_stop
  nothing_done
}

@test "timing: no answer to QUIT: exit 0 after the timeout, warns about deletions" {
  fake_start "$T/h-quit-stall.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 0 ]
  timed_out
  [[ $output == *"no answer to QUIT"* ]]
  [[ $output == *"deletions may not have been committed"* ]]
  fake_stop
  [ "$(deleted)" = "1 2" ]
  stored 2
  mailcheck same "$MD" "$T/messages/one.eml" "$T/messages/two.eml"
}

@test "timing: slowloris status line (1 byte/s for 32 s): cut off by the 5 s timeout" {
  FAKE_TIMEOUT=60 fake_start "$T/h-slowloris.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  timed_run
  [ "$status" -eq 7 ]
  timed_out
  [[ $output == *"within 5 seconds"* ]]
  fake_stop
  nothing_done
}
