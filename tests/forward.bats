#!/usr/bin/env bats
# Forwarding over LMTP (and SMTP): into the real Dovecot's LMTP service over
# a Unix socket and TCP, read back from the recipient's Maildir with Python's
# mailbox module; and against a scripted server (tests/lib/fakesmtp.py) for
# what real servers do only on demand.

load lib/common
load lib/forward

setup() {
  pf_setup
  SMTP_PID=
}

teardown() {
  smtp_fake_stop
  pf_teardown
}

# ---- Dovecot LMTP ------------------------------------------------------------

@test "lmtp: every sample reaches bob over the Unix socket byte for byte, once, over the default four connections" {
  DC_LMTP=1 dovecot_start
  fw_samples "$W/orig"
  dovecot_put_dir alice "$W/orig"
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient bob"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  mailcheck forwarded "$(dovecot_maildir bob)" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
  # four LMTP connections (smtp_connections' default) for the five messages
  [ "$(grep -c 'lmtp([0-9]*): Info: Connect from local' "$DC_LOG")" -eq 4 ]
  [ "$(grep -c 'saved mail to INBOX' "$DC_LOG")" -eq 5 ]
}

@test "lmtp: 40 messages over 3 connections and over 1: each reaches bob once, byte for byte" {
  DC_LMTP=1 dovecot_start
  local i
  mkdir -p "$W/orig"
  for ((i = 1; i <= 40; i++)); do
    { printf 'Return-Path: <s%d@example.org>\nSubject: many %d\n\n' "$i" "$i"
      head -c $((i * 97)) /dev/zero | tr '\0' y; printf '\n.dot %d\n' "$i"; } >"$W/orig/$i"
  done
  dovecot_put_dir alice "$W/orig"
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient bob" "smtp_connections 3" "keep on"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  mailcheck forwarded "$(dovecot_maildir bob)" "$W"/orig/*
  [ "$(grep -c 'lmtp([0-9]*): Info: Connect from local' "$DC_LOG")" -eq 3 ]
  # the same with one connection, into a fresh mailbox: a new state
  find "$(dovecot_maildir bob)" -type f -delete
  sed -i 's/^smtp_connections .*/smtp_connections 1/' "$RC"
  rm -rf "$SD"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  mailcheck forwarded "$(dovecot_maildir bob)" "$W"/orig/*
  [ "$(grep -c 'lmtp([0-9]*): Info: Connect from local' "$DC_LOG")" -eq 4 ]
}

@test "lmtp -vv with 2 connections: each dialogue line names its connection, and one transaction's lines carry one id" {
  DC_LMTP=1 dovecot_start
  put_generated 6 3 ids
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient bob" "smtp_connections 2"
  pf_run -vv
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(mailcheck count "$(dovecot_maildir bob)")" -eq 6 ]
  run "$DC_PYTHON" "$PF_TOP/tests/lib/traceconns.py" LMTP <<<"$output"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "ids 1 2" ] || { echo "$output"; false; }
  [ "${lines[1]}" = "mail 6" ] || { echo "$output"; false; }
}

@test "lmtp: HOST:PORT over TCP, and a second run delivers nothing twice" {
  DC_LMTP=1 dovecot_start
  fw_samples "$W/orig"
  dovecot_put_dir alice "$W/orig"
  fw_rc_lmtp "127.0.0.1:$DC_LMTP_PORT" "recipient bob" "keep on"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 1 ]
  mailcheck forwarded "$(dovecot_maildir bob)" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 5 ]
}

@test "lmtp: the envelope sender follows Return-Path (<> kept, a local part completed), else the remote user at the server; smtp_sender overrides" {
  DC_LMTP=1 dovecot_start
  mkdir -p "$W/orig"
  printf 'Return-Path: <>\nSubject: bounce\n\nb\n' >"$W/orig/1"
  printf 'Return-Path: <joe>\nSubject: local\n\nl\n' >"$W/orig/2"
  printf 'Subject: nobody\n\nn\n' >"$W/orig/3"
  printf 'Return-Path: <ann@example.org>\nSubject: plain\n\np\n' >"$W/orig/4"
  dovecot_put_dir alice "$W/orig"
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient bob"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run mailcheck return-paths "$(dovecot_maildir bob)"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' '<>' '<alice@[127.0.0.1]>' '<ann@example.org>' '<joe@[127.0.0.1]>')" ] || {
    echo "$output"; false; }

  printf 'Return-Path: <ann@example.org>\nSubject: again\n\na\n' | dovecot_put alice
  echo "smtp_sender fixed@example.net" >>"$RC"
  pf_run
  [ "$status" -eq 0 ]
  run mailcheck return-paths "$(dovecot_maildir bob)"
  [[ $output == *"<fixed@example.net>"* ]] || { echo "$output"; false; }
}

@test "lmtp: an unknown recipient is refused permanently: the message stays on the server, exit 10, said once" {
  DC_LMTP=1 dovecot_start
  printf 'Subject: to nobody\n\nx\n' | dovecot_put alice
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient nosuchuser"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"refused it permanently for nosuchuser: 550"* ]] || { echo "$output"; false; }
  [ "$(grep -c 'refused it permanently' <<<"$output")" -eq 1 ]
  [ "$(dovecot_count alice)" -eq 1 ]
  [ "$(dovecot_count bob)" -eq 0 ]
}

@test "lmtp: two recipients each get the message once" {
  DC_LMTP=1 dovecot_start
  printf 'Return-Path: <s@example.org>\nSubject: both\n\nx\n' >"$W/m"
  dovecot_put alice "$W/m"
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient bob alice"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  mailcheck forwarded "$(dovecot_maildir bob)" "$W/m"
  mailcheck forwarded "$(dovecot_maildir alice)" "$W/m"
}

@test "lmtp: no server at the socket: nothing is lost, exit 10, and the server is not asked again after 3 failures" {
  DC_LMTP=1 dovecot_start
  put_generated 5 2 gone
  fw_rc_lmtp "$W/no-such-socket" "recipient bob"
  pf_run
  [ "$status" -eq 10 ]
  [ "$(grep -c 'cannot connect to the LMTP socket' <<<"$output")" -eq 3 ] || { echo "$output"; false; }
  [[ $output == *"3 temporary failures in a row: the LMTP server is not asked again in this run"* ]] || {
    echo "$output"; false; }
  [[ $output == *"2 more messages not tried in this run"*"they stay on the server for the next run"* ]] || {
    echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 5 ]
}

# ---- a scripted LMTP/SMTP server (tests/lib/fakesmtp.py) ---------------------

# fw_fake KIND SCRIPT-LINES...: the scripted server (lmtp or smtp) on TCP,
# account t (alice on Dovecot) forwarding to it for bob over one connection
# at a time (the transcripts below assume it; tests of several set
# smtp_connections again).
fw_fake() {
  local kind=$1
  shift
  printf '%s\n' "$@" >"$W/script"
  if [[ $kind == lmtp ]]; then smtp_fake_start --lmtp "$W/script"; else smtp_fake_start "$W/script"; fi
  pf_rc_dovecot implicit "recipient bob" "smtp_connections 1"
  sed -i "s|^delivery .*|delivery $kind 127.0.0.1:$SMTP_PORT|" "$RC"
}

@test "fake lmtp: PIPELINING sends MAIL, RCPT and DATA in one write, then RSET before the next message; -vv shows it" {
  dovecot_start
  put_generated 2 3 pipe
  fw_fake lmtp "ext PIPELINING" "ext 8BITMIME"
  pf_run -vv
  [ "$status" -eq 0 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  # -vv shows the conversation, the message as a byte count
  [[ $output == *"popfetch: t: > LMTP MAIL FROM:<alice@[127.0.0.1]>"*"popfetch: t: < LMTP 354 go ahead"*"popfetch: t: > LMTP ("*" bytes of message data)"*"popfetch: t: < LMTP 250 2.0.0 ok"* ]] || {
    echo "$output"; false; }
  grep -q -- '-- batch MAIL,RCPT,DATA$' "$SMTP_DIR/log"
  grep -q -- '-- batch RSET,MAIL,RCPT,DATA$' "$SMTP_DIR/log"
  [ "$(grep -c -- '-- connect' "$SMTP_DIR/log")" -eq 1 ]
  [ "$(grep -c '^C: LHLO ' "$SMTP_DIR/log")" -eq 1 ]
}

@test "fake smtp: with PIPELINING, RSET and XFORWARD go in the same write as MAIL, RCPT and DATA (one round trip); without it, each waits" {
  dovecot_start
  put_generated 2 3 xfpipe
  fw_fake smtp "ext PIPELINING" "ext XFORWARD NAME ADDR PROTO"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  grep -q -- '-- batch XFORWARD,MAIL,RCPT,DATA$' "$SMTP_DIR/log" || { cat "$SMTP_DIR/log"; false; }
  grep -q -- '-- batch RSET,XFORWARD,MAIL,RCPT,DATA$' "$SMTP_DIR/log" || { cat "$SMTP_DIR/log"; false; }
  [ "$(grep -c '^C: XFORWARD NAME=\[UNAVAILABLE\] ADDR=127.0.0.1 PROTO=SMTP$' "$SMTP_DIR/log")" -eq 2 ]
  [ -f "$SMTP_DIR/msg.2" ]
  smtp_fake_stop
  rm -rf "$SMTP_DIR"
  put_generated 1 3 xfnopipe
  fw_fake smtp "ext XFORWARD NAME ADDR PROTO"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  run grep -c -- '-- batch .*,' "$SMTP_DIR/log"
  [ "$output" -eq 0 ]
  grep -q '^C: XFORWARD ' "$SMTP_DIR/log"
}

@test "fake smtp: without PIPELINING each command waits for its reply" {
  dovecot_start
  put_generated 2 3 nopipe
  fw_fake smtp "ext 8BITMIME"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  run grep -c -- '-- batch .*,' "$SMTP_DIR/log"
  [ "$output" -eq 0 ]
  [ "$(grep -c '^C: EHLO ' "$SMTP_DIR/log")" -eq 1 ]
  [ "$(grep -c '^C: RSET' "$SMTP_DIR/log")" -eq 1 ]
}

@test "fake smtp: dots are stuffed, lines end in CRLF, BODY=8BITMIME only for 8-bit messages and only when offered" {
  dovecot_start
  fw_samples "$W/orig"
  dovecot_put_dir alice "$W/orig"
  fw_fake smtp "ext PIPELINING" "ext 8BITMIME"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # the server's view, dot-unstuffed, with CRLF made LF again, is each sample
  # after popfetch's Received: field
  local i
  for i in 1 2 3 4 5; do
    python3 - "$SMTP_DIR/msg.$i" "$W/orig/$i" <<'PY'
import sys
got = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read()
if not want.endswith(b"\n"):
    want += b"\n"
assert b"\n" not in got.replace(b"\r\n", b""), "a bare LF went out"
got = got.replace(b"\r\n", b"\n")
assert got.startswith(b"Received: "), got[:40]
body = got[got.index(b"\n", got.index(b"(popfetch ")) + 1:]
while body[:1] in (b" ", b"\t"):
    body = body[body.index(b"\n") + 1:]
assert body == want, (body, want)
PY
  done
  grep -q 'BODY=8BITMIME' "$SMTP_DIR/env.2"
  grep -q 'BODY=8BITMIME' "$SMTP_DIR/env.4"
  run grep -l 'BODY=8BITMIME' "$SMTP_DIR/env.1" "$SMTP_DIR/env.3" "$SMTP_DIR/env.5"
  [ "$status" -eq 1 ]

  # a server without 8BITMIME gets the 8-bit message as it is, without BODY=
  smtp_fake_stop
  rm -rf "$SMTP_DIR"
  printf 'Subject: 8-bit\n\n\xc3\xa9\n' | dovecot_put alice
  fw_fake smtp
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run grep -c 'BODY=' "$SMTP_DIR/env.1"
  [ "$output" -eq 0 ]
  grep -q $'\xc3\xa9' "$SMTP_DIR/msg.1"
}

@test "fake lmtp: a 4xx on RCPT keeps the message unseen on the server; the next run delivers it" {
  dovecot_start
  put_generated 2 3 busy
  fw_fake lmtp "ext PIPELINING" "rcpt#1 451 4.3.0 try later"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"message 1 was not delivered (it stays on the server)"*"refused it for now"*"451 4.3.0 try later"* ]] || {
    echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
  [ ! -e "$SMTP_DIR/msg.1" ]
  [ -e "$SMTP_DIR/msg.2" ]
  pf_run
  [ "$status" -eq 0 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  grep -q 'busy 1' "$SMTP_DIR/msg.3"
}

@test "fake smtp: a 4xx after the message (451 on the end) keeps it too" {
  dovecot_start
  put_generated 1 3 late
  fw_fake smtp "end 451 4.7.1 rate limit"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"451 4.7.1 rate limit"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "fake smtp: after 3 temporary refusals in a row the server is left alone for the run: no more RETRs, what was delivered is deleted" {
  dovecot_start
  put_generated 8 2 rate
  fw_fake smtp "mail#2 421 4.7.0 too many messages" "mail#3 421 4.7.0 too many messages" \
    "mail#4 421 4.7.0 too many messages"
  echo "pipelining off" >>"$RC"
  pf_run -vv
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  [ "$(grep -c '^C: MAIL' "$SMTP_DIR/log")" -eq 4 ]
  [[ $output == *"message 4 was not delivered"*"3 temporary failures in a row: the SMTP server is not asked again in this run"* ]] || {
    echo "$output"; false; }
  [[ $output == *"4 more messages not tried in this run"* ]] || { echo "$output"; false; }
  # message 1 was delivered and deleted; no RETR after message 4's; QUIT ends the run
  [ "$(grep -c '> RETR' <<<"$output")" -eq 4 ] || { echo "$output"; false; }
  [[ $output == *"> DELE 1"*"> QUIT"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 7 ]
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "fake lmtp: a 5xx is permanent: the message stays on the server (smtp_rejected keep), the others go on" {
  dovecot_start
  put_generated 3 2 perm
  fw_fake lmtp "ext PIPELINING" "mail#2 550 5.7.1 sender rejected"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"message 2 was not delivered"*"refused it permanently for bob: 550 5.7.1 sender rejected"* ]] || {
    echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
  [ -e "$SMTP_DIR/msg.1" ] && [ -e "$SMTP_DIR/msg.3" ] || false
}

@test "fake lmtp: mixed per-recipient replies after DATA: who accepted is remembered, the next run sends only to the others, the third fetches nothing" {
  dovecot_start
  put_generated 1 2 mixed
  fw_fake lmtp "ext PIPELINING" "end:carol#1 452 4.2.2 mailbox full"
  sed -i 's/^recipient .*/recipient bob carol dave/' "$RC"
  echo "keep on" >>"$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  [[ $output == *"refused it for now"*"for carol: 452 4.2.2 mailbox full; delivered to bob, dave"* ]] || {
    echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
  grep -q '^R [0-9]* [^ ]* bob$' "$SD"/*.journal
  [ "$(grep -c '^C: MAIL' "$SMTP_DIR/log")" -eq 1 ]
  # the replies were matched to the recipients in order
  [ "$(grep -c '^S: 250 2.0.0 ok' "$SMTP_DIR/log")" -eq 2 ]
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^C: MAIL' "$SMTP_DIR/log")" -eq 2 ]
  run grep '^RCPT' "$SMTP_DIR/env.2"
  [ "$output" = "RCPT TO:<carol>" ] || { echo "$output"; false; }
  grep -q 'mixed 1' "$SMTP_DIR/msg.2"
  [ "$(dovecot_count alice)" -eq 1 ]
  pf_run
  [ "$status" -eq 1 ] || { echo "$output"; false; }
  [ "$(grep -c '^C: MAIL' "$SMTP_DIR/log")" -eq 2 ]
}

@test "fake lmtp: on a retry to the recipients still without it, each refusal names its own recipient" {
  dovecot_start
  put_generated 1 2 names
  fw_fake lmtp "ext PIPELINING" "end:carol#1 452 4.2.2 full" "end:dave#1 452 4.2.2 full" \
    "end:carol#2 451 4.3.0 later" "end:dave#2 550 5.1.1 gone"
  sed -i 's/^recipient .*/recipient bob carol dave/' "$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  [[ $output == *"refused it for now (it is retried on the next run) for carol: 451 4.3.0 later"* ]] || {
    echo "$output"; false; }
  [[ $output == *"not delivered to dave (refused): 550 5.1.1 gone"* ]] || { echo "$output"; false; }
  run grep '^RCPT' "$SMTP_DIR/env.2"
  [ "$output" = "$(printf 'RCPT TO:<carol>\nRCPT TO:<dave>')" ] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^C: RCPT TO:<bob>' "$SMTP_DIR/log")" -eq 1 ]
}

@test "fake lmtp: the recipient records of a message someone else deleted from the server go at the next compaction" {
  dovecot_start
  put_generated 1 2 gone
  fw_fake lmtp "ext PIPELINING" "end:carol#1 451 4.3.0 later"
  sed -i 's/^recipient .*/recipient bob carol/' "$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  grep -q '^R [0-9]* [^ ]* bob$' "$SD"/*.journal
  # another client deletes it; a torn journal line (a kill mid-write) makes
  # the next clean run rewrite the state
  find "$(dovecot_maildir alice)" -type f -path '*/cur/*' -delete
  find "$(dovecot_maildir alice)" -type f -path '*/new/*' -delete
  [ "$(dovecot_count alice)" -eq 0 ]
  printf 'D 17' >>"$(echo "$SD"/*.journal)"
  pf_run
  [ "$status" -eq 1 ] || { echo "$output"; false; }
  [ "$(cat "$SD"/*.journal 2>/dev/null | grep -c '^R ')" -eq 0 ] || { cat "$SD"/*; false; }
}

@test "fake lmtp: mixed replies survive a compaction of the seen-state: the one without it still gets it alone" {
  dovecot_start
  put_generated 1 2 packed
  fw_fake lmtp "ext PIPELINING" "end:carol#1 451 4.3.0 later" "end:carol#2 451 4.3.0 later"
  sed -i 's/^recipient .*/recipient bob carol/' "$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  # the first run compacts (no main file yet): the recipient record is carried over
  [ -e "$SD"/*.state ] || false
  grep -q '^R [0-9]* [^ ]* bob$' "$SD"/*.journal
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^C: RCPT TO:<bob>' "$SMTP_DIR/log")" -eq 1 ]
  [ "$(grep -c '^C: RCPT TO:<carol>' "$SMTP_DIR/log")" -eq 3 ]
}

@test "fake lmtp: a recipient refused permanently while another accepted: kept (smtp_rejected keep), retried for that one alone; delete drops it" {
  dovecot_start
  put_generated 1 2 rcpt
  fw_fake lmtp "ext PIPELINING" "rcpt:bob 550 5.1.1 no such user"
  sed -i 's/^recipient .*/recipient bob carol/' "$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  [[ $output == *"refused it permanently for bob: 550 5.1.1 no such user; delivered to carol"* ]] || {
    echo "$output"; false; }
  run grep '^RCPT' "$SMTP_DIR/env.1"
  [ "$output" = "RCPT TO:<carol>" ] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; false; }
  [ "$(grep -c '^C: RCPT TO:<carol>' "$SMTP_DIR/log")" -eq 1 ]
  [ "$(grep -c '^C: RCPT TO:<bob>' "$SMTP_DIR/log")" -eq 2 ]
  [ "$(dovecot_count alice)" -eq 1 ]
  echo "smtp_rejected delete" >>"$RC"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"warning"*"dropped (smtp_rejected delete)"* ]] || { echo "$output"; false; }
  [ "$(grep -c '^C: RCPT TO:<carol>' "$SMTP_DIR/log")" -eq 1 ]
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "fake smtp: SIZE: a message over the server's limit is not sent and stays; the others are delivered" {
  dovecot_start
  mkdir -p "$W/orig"
  printf 'Subject: small\n\nsmall\n' >"$W/orig/1"
  { printf 'Subject: big\n\n'; head -c 3000 /dev/zero | tr '\0' y; printf '\n'; } >"$W/orig/2"
  printf 'Subject: small too\n\nsmall\n' >"$W/orig/3"
  dovecot_put_dir alice "$W/orig"
  fw_fake smtp "ext PIPELINING" "ext SIZE 1000"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"message 2 was not delivered"*"larger than"*"SIZE 1000"* ]] || { echo "$output"; false; }
  [ "$(grep -c '^C: MAIL' "$SMTP_DIR/log")" -eq 2 ]
  grep -q 'SIZE=[0-9]' "$SMTP_DIR/env.1"
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "fake smtp, 2 connections: a message refused before it is sent (SIZE) and dropped by smtp_rejected delete is recorded: keep on, the next run sends nothing again" {
  dovecot_start
  mkdir -p "$W/orig"
  printf 'Subject: small\n\nsmall\n' >"$W/orig/1"
  { printf 'Subject: big\n\n'; head -c 3000 /dev/zero | tr '\0' y; printf '\n'; } >"$W/orig/2"
  dovecot_put_dir alice "$W/orig"
  fw_fake smtp "ext PIPELINING" "ext SIZE 1000"
  sed -i 's/^smtp_connections .*/smtp_connections 2/' "$RC"
  printf '%s\n' "smtp_rejected delete" "keep on" >>"$RC"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"warning"*"larger than"*"dropped (smtp_rejected delete)"* ]] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 1 ] || { echo "$output"; false; }
  [ "$(grep -c '^C: MAIL' "$SMTP_DIR/log")" -eq 1 ]
  [ "$(dovecot_count alice)" -eq 2 ]
}

@test "fake smtp: a connection dropped between messages is opened again once; the run goes on" {
  dovecot_start
  put_generated 3 2 idle
  fw_fake smtp "rset#2 drop"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  [ "$(grep -c -- '-- connect' "$SMTP_DIR/log")" -eq 2 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  ls "$SMTP_DIR"/msg.* | wc -l | grep -qx 3
}

@test "fake smtp: a drop in the middle of DATA never delivers a cut message; it stays on the server" {
  dovecot_start
  put_generated 2 2000 mid
  fw_fake smtp "end#1 drop-mid"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  [ ! -e "$SMTP_DIR/msg.1" ]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "fake smtp: a drop after the end line (no reply): outcome unknown, kept, the hint says it may come twice" {
  dovecot_start
  put_generated 1 2 unknown
  fw_fake smtp "end drop"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"may have the message already"* ]] || { echo "$output"; false; }
  [ "$(grep -c '^C: MAIL' "$SMTP_DIR/log")" -eq 1 ]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "fake smtp: a recipient that is not ASCII needs SMTPUTF8: given when offered, refused at home when not" {
  dovecot_start
  put_generated 1 2 utf
  fw_fake smtp "ext PIPELINING" "ext SMTPUTF8"
  sed -i $'s/^recipient .*/recipient j\xc3\xb6rg@example.org/' "$RC"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'SMTPUTF8' "$SMTP_DIR/env.1"
  smtp_fake_stop
  rm -rf "$SMTP_DIR"
  put_generated 1 2 utf2
  fw_fake smtp "ext PIPELINING"
  sed -i $'s/^recipient .*/recipient j\xc3\xb6rg@example.org/' "$RC"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"does not offer SMTPUTF8"* ]] || { echo "$output"; false; }
  run grep -c '^C: MAIL' "$SMTP_DIR/log"
  [ "$output" -eq 0 ]
}

@test "fake lmtp: a malformed or endless reply is a protocol error, the message stays" {
  dovecot_start
  put_generated 1 2 bad
  fw_fake lmtp "mail 2x0 what"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"malformed reply"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "fake smtp: smtp_tls starttls with a server that does not offer STARTTLS sends nothing in the clear" {
  dovecot_start
  put_generated 1 2 clear
  fw_fake smtp "ext PIPELINING"
  echo "smtp_tls starttls" >>"$RC"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"does not offer STARTTLS"* ]] || { echo "$output"; false; }
  run grep -c '^C: MAIL\|^C: STARTTLS' "$SMTP_DIR/log"
  [ "$output" -eq 0 ]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "fake lmtp: smtp_rejected quarantine files a refused message into a local Maildir, then it leaves the server" {
  dovecot_start
  mkdir -p "$W/orig"
  printf 'Return-Path: <a@example.org>\nSubject: fine\n\nf\n' >"$W/orig/1"
  printf 'Return-Path: <spam@example.org>\nSubject: refused\n\nr\n' >"$W/orig/2"
  dovecot_put_dir alice "$W/orig"
  fw_fake lmtp "ext PIPELINING" "mail#2 550 5.7.1 no thanks"
  echo "smtp_rejected quarantine $W/quarantine" >>"$RC"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"warning"*"refused it permanently"*"550 5.7.1 no thanks; filed into the quarantine Maildir $W/quarantine"* ]] || {
    echo "$output"; false; }
  mailcheck same "$W/quarantine" "$W/orig/2"
  mailcheck clean "$W/quarantine"
  [ "$(dovecot_count alice)" -eq 0 ]
  [ -e "$SMTP_DIR/msg.1" ] && [ ! -e "$SMTP_DIR/msg.2" ] || false
}

@test "fake smtp: smtp_rejected quarantine that cannot write keeps the message; delete drops it with a warning" {
  dovecot_start
  put_generated 1 2 rej
  fw_fake smtp "mail 554 5.7.1 rejected"
  : >"$W/not-a-dir"
  echo "smtp_rejected quarantine $W/not-a-dir/q" >>"$RC"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"554 5.7.1 rejected; and it could not be quarantined"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]

  sed -i 's/^smtp_rejected .*/smtp_rejected delete/' "$RC"
  pf_run
  [ "$status" -eq 0 ]
  [[ $output == *"warning"*"554 5.7.1 rejected; dropped (smtp_rejected delete)"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
}

# ---- kill -9 (the fault-injection build) -------------------------------------

@test "lmtp: kill -9 between the server's acceptance and the journal write: nothing lost, that one message twice (the documented bound)" {
  local faults=$PF_TOP/${FAULTS_BIN:-build/popfetch-faults}
  [ -x "$faults" ] || { echo "$faults is not built: make build/popfetch-faults"; false; }
  DC_LMTP=1 dovecot_start
  put_generated 4 3 crash
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient bob" "smtp_connections 1"
  POPFETCH_CRASH_AT=after-forward:2 run "$faults" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 137 ]
  [ "$(dovecot_count bob)" -eq 2 ]
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run mailcheck subjects "$(dovecot_maildir bob)"
  [ "$output" = "$(printf 'crash %s\n' 1 2 2 3 4)" ] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "a POP3 connection dropped in the middle of a message: the LMTP server never sees it (spooled first)" {
  fw_fake lmtp "ext PIPELINING"
  fake_start "$PF_TOP/tests/transcripts/h-retr-drop-mid-line.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off" "recipient bob"
  sed -i "s|^delivery .*|delivery lmtp 127.0.0.1:$SMTP_PORT|" "$RC"
  pf_run
  [ "$status" -eq 2 ] || { echo "status $status: $output"; false; }
  [[ $output == *"closed the connection in the middle of a message"* ]] || { echo "$output"; false; }
  fake_stop
  run grep -c '^C: MAIL\|^C: DATA' "$SMTP_DIR/log"
  [ "$output" -eq 0 ]
}

@test "lmtp: kill -9 with four connections between an acceptance and its journal write: nothing lost, at most four duplicates" {
  local faults=$PF_TOP/${FAULTS_BIN:-build/popfetch-faults}
  [ -x "$faults" ] || { echo "$faults is not built: make build/popfetch-faults"; false; }
  DC_LMTP=1 dovecot_start
  put_generated 8 3 crash
  fw_rc_lmtp "$DC_LMTP_SOCKET" "recipient bob" "smtp_connections 4"
  POPFETCH_CRASH_AT=after-forward:2 run "$faults" -q -f "$RC" --state-dir "$SD"
  [ "$status" -eq 137 ]
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run mailcheck subjects "$(dovecot_maildir bob)"
  # every message at least once, message 1 (recorded before the kill) once,
  # and no more than the four in flight twice
  [ "$(sort -u <<<"$output")" = "$(printf 'crash %s\n' 1 2 3 4 5 6 7 8)" ] || { echo "$output"; false; }
  [ "$(grep -c '^crash 1$' <<<"$output")" -eq 1 ] || { echo "$output"; false; }
  [ "$(wc -l <<<"$output")" -le 12 ] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
}

# ---- several connections to the scripted server ------------------------------

@test "fake lmtp, 2 connections: a 4xx on one and a 5xx on the other leave those two on the server; the others are delivered and deleted" {
  dovecot_start
  put_generated 4 3 par
  fw_fake lmtp "ext PIPELINING" "end#2 451 4.3.0 try later" "end#3 550 5.7.1 no thanks"
  sed -i 's/^smtp_connections .*/smtp_connections 2/' "$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  [ "$(grep -c -- '-- connect' "$SMTP_DIR/log")" -eq 2 ]
  [[ $output == *"message 2 was not delivered"*"451 4.3.0 try later"* ]] || { echo "$output"; false; }
  [[ $output == *"message 3 was not delivered"*"550 5.7.1 no thanks"* ]] || { echo "$output"; false; }
  # 1 and 4 left the server, 2 and 3 stayed
  run mailcheck subjects "$(dovecot_maildir alice)"
  [ "$output" = "$(printf 'par %s\n' 2 3)" ] || { echo "$output"; false; }
  # the next run sends only those two (transactions 5 and 6)
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'Subject: par 2' "$SMTP_DIR/msg.5"
  grep -q 'Subject: par 3' "$SMTP_DIR/msg.6"
  [ ! -e "$SMTP_DIR/msg.7" ]
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "fake lmtp, 3 connections: a drop in the middle of DATA on one: that message stays, the others are delivered" {
  dovecot_start
  put_generated 5 3 drop
  fw_fake lmtp "ext PIPELINING" "end#2 drop-mid"
  sed -i 's/^smtp_connections .*/smtp_connections 3/' "$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  [[ $output == *"message 2 was not delivered"* ]] || { echo "$output"; false; }
  [[ $output == *"may have the message already"* ]] || { echo "$output"; false; }
  [ ! -e "$SMTP_DIR/msg.2" ]
  run mailcheck subjects "$(dovecot_maildir alice)"
  [ "$output" = "drop 2" ] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "fake lmtp, 2 connections: mixed per-recipient replies: the one who has it is remembered, the retry goes to the other alone" {
  dovecot_start
  put_generated 3 3 mix
  fw_fake lmtp "ext PIPELINING" "end:carol#2 452 4.2.2 over quota"
  sed -i 's/^smtp_connections .*/smtp_connections 2/; s/^recipient .*/recipient bob carol/' "$RC"
  pf_run
  [ "$status" -eq 10 ] || { echo "$output"; cat "$SMTP_DIR/log"; false; }
  [[ $output == *"message 2 was not delivered"*"for carol"*"delivered to bob"* ]] || { echo "$output"; false; }
  run mailcheck subjects "$(dovecot_maildir alice)"
  [ "$output" = "mix 2" ] || { echo "$output"; false; }
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'Subject: mix 2' "$SMTP_DIR/msg.4"
  [ "$(cat "$SMTP_DIR/env.4")" = "$(printf 'MAIL FROM:<alice@[127.0.0.1]>\nRCPT TO:<carol>')" ] || {
    cat "$SMTP_DIR/env.4"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
}
