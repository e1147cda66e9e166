#!/usr/bin/env bats
# Servers that misbehave or attack, played by the scripted fake server from
# transcripts in tests/transcripts/. Each test checks the exit status, the
# message, what the client sent (the fake's log) and what reached the Maildir.

load lib/common

T=$BATS_TEST_DIRNAME/transcripts

setup() { pf_setup; }
teardown() { pf_teardown; }

client_sent() { grep -a '^C> ' "$FAKE_LOG" || true; }

@test "untrusted certificate (implicit TLS): exit 2, nothing sent, fingerprint shown" {
  fake_start "$T/implicit-untrusted.txt" --implicit-tls
  pf_rc_fake implicit
  sed -i '/^tls_trust_file/d' "$RC"
  pf_run
  [ "$status" -eq 2 ]
  [[ $output == *"cannot trust the certificate of 127.0.0.1"* ]]
  [[ $output == *"SHA-256 fingerprint is "*:*:* ]]
  fake_stop
  [ -z "$(client_sent)" ]
}

@test "STLS configured but not offered: exit 2 before any credentials" {
  fake_start "$T/tls-no-capa-stls.txt"
  pf_rc_fake starttls
  pf_run
  [ "$status" -eq 2 ]
  [[ $output == *"does not offer STLS"* ]]
  fake_stop
  if client_sent | grep -q -e USER -e PASS -e secret; then false; fi
}

@test "STLS refused: exit 2, no fallback to clear text" {
  fake_start "$T/tls-stls-refused.txt"
  pf_rc_fake starttls
  pf_run
  [ "$status" -eq 2 ]
  fake_stop
  if client_sent | grep -q -e USER -e PASS; then false; fi
}

@test "bytes injected after +OK to STLS: exit 2, handshake never attempted" {
  fake_start "$T/tls-stls-injection.txt"
  pf_rc_fake starttls
  pf_run
  [ "$status" -eq 2 ]
  [[ $output == *"injection"* ]]
  fake_stop
  if client_sent | grep -q -e USER -e PASS; then false; fi
}

@test "connection dropped mid-RETR: non-zero, nothing half-written, no QUIT" {
  fake_start "$T/retr-drop-mid-message.txt" --implicit-tls
  pf_rc_fake implicit
  pf_run
  [ "$status" -eq 2 ] # the connection was lost in the middle of a message
  [[ $output == *"closed the connection in the middle of a message"* ]]
  fake_stop
  # message 1 is safely delivered; message 2 is nowhere, not even in tmp/
  mailcheck same "$MD" "$T/messages/one.eml"
  mailcheck clean "$MD"
  if client_sent | grep -q 'QUIT'; then false; fi
}

@test "one fault, one exit code: a connection lost mid-message exits 2 over TLS and over plain text" {
  fake_start "$T/retr-drop-mid-message.txt" --implicit-tls
  pf_rc_fake implicit
  pf_run
  [ "$status" -eq 2 ]
  fake_stop
  rm -rf "$SD" "$MD" # the same first run again, over plain text
  fake_start "$T/retr-drop-mid-message.txt"
  pf_rc_fake off "allow_plaintext on"
  pf_run
  [ "$status" -eq 2 ]
  [[ $output == *"closed the connection in the middle of a message"* ]]
  fake_stop
  mailcheck same "$MD" "$T/messages/one.eml" # message 2 never arrived
}

@test "tls off without allow_plaintext: the password is never sent (exit 3)" {
  fake_start "$T/plaintext-refused.txt"
  pf_rc_fake off
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"allow_plaintext"* ]]
  fake_stop
  if client_sent | grep -q -e PASS -e secret; then false; fi
}

@test "tls off with allow_plaintext on: works, CAPA -ERR tolerated" {
  fake_start "$T/plaintext-allowed.txt"
  pf_rc_fake off "allow_plaintext on"
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  mailcheck same "$MD" "$T/messages/two.eml"
}

@test "not a POP3 greeting: exit 4" {
  fake_start "$T/greeting-garbage.txt"
  pf_rc_fake off
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *"did not greet like a POP3 server"* ]]
}

@test "[IN-USE] in the greeting: exit 9" {
  fake_start "$T/greeting-in-use.txt"
  pf_rc_fake off
  pf_run
  [ "$status" -eq 9 ]
  [[ $output == *"IN-USE"* ]]
}

@test "100 KiB greeting without a line end: exit 4, bounded" {
  fake_start "$T/greeting-long-line.txt"
  pf_rc_fake off
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *"longer than"* ]]
}
