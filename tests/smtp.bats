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

@test "smtp: smtp_tls starttls: the certificate is checked, the mail goes over TLS; an untrusted one sends nothing" {
  printf 'Return-Path: <tls@example.org>\nSubject: over TLS\n\nt\n' >"$W/m"
  dovecot_put alice "$W/m"
  printf 'smtp_tls starttls\nsmtp_tls_trust_file %s\n' "$PX_CA" >>"$RC"
  pf_run -vv
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"> SMTP STARTTLS"*"< SMTP 220 "*"> SMTP EHLO"*"> SMTP MAIL FROM:<tls@example.org>"* ]] || {
    echo "$output"; false; }
  postfix_wait_count bob 1
  mailcheck forwarded "$(postfix_maildir bob)" "$W/m"
  grep -q 'disconnect from .* ehlo=2 xforward=1 starttls=1 mail=1 rcpt=1 data=1 quit=1' "$PX_DIR/maillog"

  # the POP3 server's CA does not vouch for Postfix's certificate
  dovecot_put alice "$W/m"
  sed -i "s|^smtp_tls_trust_file .*|smtp_tls_trust_file $DC_CA|" "$RC"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"SMTP server 127.0.0.1"*"certificate"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
  # Postfix saw the second connection give up in the handshake, before any MAIL
  [ "$(grep -c 'orig_client=' "$PX_DIR/maillog")" -eq 1 ]
  [ "$(grep -c 'disconnect from .* mail=' "$PX_DIR/maillog")" -eq 1 ]
}

@test "smtp: smtp_tls implicit (port 465 style) delivers over TLS from the first byte" {
  printf 'Return-Path: <tls@example.org>\nSubject: implicit\n\nt\n' >"$W/m"
  dovecot_put alice "$W/m"
  sed -i "s|^delivery .*|delivery smtp 127.0.0.1:$PX_SMTPS_PORT|" "$RC"
  printf 'smtp_tls implicit\nsmtp_tls_trust_file %s\n' "$PX_CA" >>"$RC"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  postfix_wait_count bob 1
  mailcheck forwarded "$(postfix_maildir bob)" "$W/m"
  grep -q 'disconnect from .* ehlo=1 xforward=1 mail=1 rcpt=1 data=1 quit=1' "$PX_DIR/maillog"
}
