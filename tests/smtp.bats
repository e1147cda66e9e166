#!/usr/bin/env bats
# Forwarding over SMTP into a private Postfix (tests/lib/postfix.bash):
# what Postfix stored in the recipient's Maildir is read back with Python's
# mailbox module; Postfix's own log says what it was told.

load lib/common
load lib/forward
load lib/postfix

setup() {
  pf_setup
  dovecot_start
  postfix_start
  pf_rc_dovecot implicit "recipient bob@test.example"
  sed -i "s|^delivery .*|delivery smtp 127.0.0.1:$PX_PORT|" "$RC"
}

teardown() {
  postfix_stop
  pf_teardown
}

@test "smtp: every sample reaches bob through Postfix byte for byte, once, over one connection, with the POP3 server as XFORWARD origin" {
  fw_samples "$W/orig"
  dovecot_put_dir alice "$W/orig"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  postfix_wait_count bob 5
  mailcheck forwarded "$(postfix_maildir bob)" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
  grep -q 'disconnect from .* ehlo=1 xforward=5 mail=5 rcpt=5 data=5 rset=4 quit=1' "$PX_DIR/maillog"
  [ "$(grep -c 'orig_client=unknown\[127.0.0.1\]' "$PX_DIR/maillog")" -eq 5 ]
}

@test "smtp: a sender Postfix rejects is reported and kept on the server; the others are delivered" {
  mkdir -p "$W/orig"
  printf 'Return-Path: <ok@example.org>\nSubject: fine\n\nf\n' >"$W/orig/1"
  printf 'Return-Path: <rejected@spam.example>\nSubject: spam\n\ns\n' >"$W/orig/2"
  printf 'Return-Path: <ok2@example.org>\nSubject: fine too\n\nf\n' >"$W/orig/3"
  dovecot_put_dir alice "$W/orig"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"message 2 was not delivered (it stays on the server)"*"refused it permanently for bob@test.example: 554 5.7.1"*"Sender address rejected"* ]] || {
    echo "$output"; false; }
  postfix_wait_count bob 2
  mailcheck forwarded "$(postfix_maildir bob)" "$W/orig/1" "$W/orig/3"
  [ "$(dovecot_count alice)" -eq 1 ]
  # the next run tries it again and keeps it again: never lost
  pf_run
  [ "$status" -eq 10 ]
  [ "$(dovecot_count alice)" -eq 1 ]
}
