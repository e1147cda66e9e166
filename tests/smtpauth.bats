#!/usr/bin/env bats
# SMTP AUTH to a relay: a private Postfix whose submission port
# (tests/lib/postfix.bash, PX_SUB_PORT) takes mail only from a client that
# logged in, checked by the test Dovecot's SASL (smtpd_sasl_type dovecot,
# DC_SASL=1: the Dovecot users alice/secret and bob/hunter2), and offers
# AUTH only after STARTTLS. What Postfix stored is read back from bob's
# Maildir; Postfix's own log says which login it saw.

load lib/common
load lib/forward
load lib/postfix

setup() {
  pf_setup
  export DC_SASL=1
  dovecot_start
  postfix_start
  pf_rc_dovecot implicit "recipient bob@test.example"
  sed -i "s|^delivery .*|delivery smtp 127.0.0.1:$PX_SUB_PORT|" "$RC"
  printf 'smtp_tls starttls\nsmtp_tls_trust_file %s\nsmtp_user bob\n' "$PX_CA" >>"$RC"
}

teardown() {
  smtp_fake_stop
  postfix_stop
  pf_teardown
}

@test "smtp auth: a good password delivers through the submission port (SCRAM-SHA-256 after STARTTLS); -vv shows no secret" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  printf 'Return-Path: <b@example.org>\nSubject: two\n\n2\n' >"$W/2"
  dovecot_put alice "$W/1"
  dovecot_put alice "$W/2"
  printf 'smtp_password hunter2\n' >>"$RC"
  pf_run -vv
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  postfix_wait_count bob 2
  mailcheck forwarded "$(postfix_maildir bob)" "$W/1" "$W/2"
  [ "$(dovecot_count alice)" -eq 0 ]
  [[ $output == *"> SMTP STARTTLS"*"> SMTP AUTH SCRAM-SHA-256 ****"*"< SMTP 235 "*"> SMTP MAIL FROM:<a@example.org>"* ]] || {
    echo "$output"; false; }
  [[ $output != *hunter2* ]] || { echo "$output"; false; }
  # the SCRAM client-first message carries the user name: it must not
  # show either (everything after AUTH MECH is masked)
  [[ $output != *"n,,n=bob"* && $output != *"biwsbj1ib2"* ]] || { echo "$output"; false; }
  grep -q 'sasl_method=SCRAM-SHA-256, sasl_username=bob' "$PX_DIR/maillog"
  grep -q 'disconnect from .* ehlo=2 xforward=2 starttls=1 auth=1 mail=2 rcpt=2 data=2 rset=1 quit=1' "$PX_DIR/maillog" || {
    cat "$PX_DIR/maillog"; false; }
}

@test "smtp auth: smtp_auth plain and smtp_passwordeval log in as named" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  dovecot_put alice "$W/1"
  printf 'smtp_passwordeval "echo hunter2"\nsmtp_auth plain\n' >>"$RC"
  pf_run -vv
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"> SMTP AUTH PLAIN ****"* ]] || { echo "$output"; false; }
  [[ $output != *hunter2* ]] || { echo "$output"; false; }
  postfix_wait_count bob 1
  mailcheck forwarded "$(postfix_maildir bob)" "$W/1"
  grep -q 'sasl_method=PLAIN, sasl_username=bob' "$PX_DIR/maillog"
}

@test "smtp auth: a wrong password is exit 3, asked once, and every message stays on the POP3 server" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  printf 'Return-Path: <b@example.org>\nSubject: two\n\n2\n' >"$W/2"
  dovecot_put alice "$W/1"
  dovecot_put alice "$W/2"
  printf 'smtp_password wrong-one\n' >>"$RC"
  pf_run -vv
  [ "$status" -eq 3 ] || { echo "$output"; false; }
  [[ $output == *"SMTP server 127.0.0.1 refused the login of smtp_user bob: 535 "* ]] || {
    echo "$output"; false; }
  [[ $output != *wrong-one* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 2 ]
  [ "$(find "$(postfix_maildir bob)" -type f | wc -l)" -eq 0 ]
  # one login attempt only: a refused password is not tried again
  [ "$(grep -c 'authentication failed' "$PX_DIR/maillog")" -eq 1 ] || {
    cat "$PX_DIR/maillog"; false; }
  # fixed, the next run delivers both
  sed -i 's/^smtp_password .*/smtp_password hunter2/' "$RC"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  postfix_wait_count bob 2
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "smtp auth: a server offering AUTH only after STARTTLS, asked without TLS: exit 3 and nothing sent" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  dovecot_put alice "$W/1"
  printf 'smtp_password hunter2\n' >>"$RC"
  sed -i 's/^smtp_tls starttls/smtp_tls off/' "$RC"
  pf_run -vv
  [ "$status" -eq 3 ] || { echo "$output"; false; }
  [[ $output == *"does not offer AUTH, and smtp_user is set"* ]] || { echo "$output"; false; }
  [[ $output != *"> SMTP AUTH"* && $output != *"> SMTP MAIL"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "smtp auth: smtp_password is masked in --dump-config and needs a private config file" {
  printf 'smtp_password hunter2\n' >>"$RC"
  run "$POPFETCH" -f "$RC" --dump-config
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"smtp_password"*"****"* && $output == *"smtp_user"*"bob"* ]] || {
    echo "$output"; false; }
  [[ $output != *hunter2* ]] || { echo "$output"; false; }
  sed -i '/^password /d' "$RC"
  printf 'passwordeval "echo secret"\n' >>"$RC"
  chmod 644 "$RC"
  run "$POPFETCH" -f "$RC" --dump-config
  [ "$status" -eq 6 ] || { echo "$output"; false; }
}

@test "smtp auth: without TLS the password goes to 127.0.0.1 (this machine) but never to another host (127.0.0.2): exit 3, no AUTH sent" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  dovecot_put alice "$W/1"
  printf 'ext AUTH PLAIN LOGIN\n' >"$W/script"
  smtp_fake_start "$W/script"
  sed -i "s|^delivery .*|delivery smtp 127.0.0.1:$SMTP_PORT|; s/^smtp_tls starttls/smtp_tls off/" "$RC"
  printf 'smtp_password hunter2\n' >>"$RC"
  pf_run
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # PLAIN's initial response, as the server got it: \0bob\0hunter2
  [[ $(grep -c "^C: AUTH PLAIN $(printf '\0bob\0hunter2' | base64)\$" "$SMTP_DIR/log") -eq 1 ]] || {
    cat "$SMTP_DIR/log"; false; }
  [ -f "$SMTP_DIR/msg.1" ]
  smtp_fake_stop

  dovecot_put alice "$W/1"
  rm -rf "$SMTP_DIR"
  smtp_fake_start --addr 127.0.0.2 "$W/script"
  sed -i "s|^delivery .*|delivery smtp 127.0.0.2:$SMTP_PORT|" "$RC"
  pf_run
  [ "$status" -eq 3 ] || { echo "$output"; false; }
  [[ $output == *"refusing to send the password of smtp_user bob unencrypted to the SMTP server 127.0.0.2"* ]] || {
    echo "$output"; false; }
  grep -q '^C: EHLO' "$SMTP_DIR/log"
  [ "$(grep -c '^C: \(AUTH\|MAIL\)' "$SMTP_DIR/log")" -eq 0 ] || { cat "$SMTP_DIR/log"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
  smtp_fake_stop
}

# relay_netrc MODE: ~/.netrc (in $W/home) with the relay's password for
# smtp_user bob, and nothing else: no smtp_password in the config.
relay_netrc() {
  mkdir -p "$W/home"
  printf 'machine 127.0.0.1 login alice password not-this-one\nmachine 127.0.0.1\n  login bob\n  password hunter2\n' \
    >"$W/home/.netrc"
  chmod "$1" "$W/home/.netrc"
}

@test "smtp auth: ~/.netrc's machine RELAY login SMTP_USER gives the relay's password" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  dovecot_put alice "$W/1"
  relay_netrc 600
  HOME=$W/home pf_run -vv </dev/null
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"> SMTP AUTH SCRAM-SHA-256 ****"* ]] || { echo "$output"; false; }
  [[ $output != *hunter2* ]] || { echo "$output"; false; }
  postfix_wait_count bob 1
  mailcheck forwarded "$(postfix_maildir bob)" "$W/1"
  [ "$(dovecot_count alice)" -eq 0 ]
  grep -q 'sasl_method=SCRAM-SHA-256, sasl_username=bob' "$PX_DIR/maillog"
}

@test "smtp auth: a ~/.netrc that group can write is refused for the relay's password too (exit 6), nothing fetched" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  dovecot_put alice "$W/1"
  relay_netrc 620
  HOME=$W/home pf_run </dev/null
  [ "$status" -eq 6 ] || { echo "$output"; false; }
  [[ $output == *"$W/home/.netrc is writable by its group"* ]] || { echo "$output"; false; }
  [[ $output != *hunter2* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
  [ "$(find "$(postfix_maildir bob)" -type f | wc -l)" -eq 0 ]
}

@test "smtp auth: no relay password anywhere (no key, no ~/.netrc entry, no terminal): exit 3 naming the relay" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  dovecot_put alice "$W/1"
  mkdir -p "$W/home"
  HOME=$W/home pf_run </dev/null
  [ "$status" -eq 3 ] || { echo "$output"; false; }
  [[ $output == *"no password for smtp_user bob at the SMTP relay 127.0.0.1"* ]] || {
    echo "$output"; false; }
  [[ $output == *"machine 127.0.0.1 login bob"* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "smtp auth: on a terminal the relay's password is asked, naming the relay; nothing typed shows" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  dovecot_put alice "$W/1"
  mkdir -p "$W/home"
  run on_pty --expect "Password for smtp_user bob at the SMTP relay 127.0.0.1: " --send 'hunter2\r' \
    -- env HOME="$W/home" "$POPFETCH" -f "$RC" --state-dir "$SD"
  cat "$W/pty.log" "$W/pty.state"
  [ "$status" -eq 0 ]
  [ "$(grep -c hunter2 "$W/pty.log")" -eq 0 ]
  grep -qx "at-expect 1 echo off" "$W/pty.state"
  grep -qx "after echo on" "$W/pty.state"
  postfix_wait_count bob 1
  mailcheck forwarded "$(postfix_maildir bob)" "$W/1"
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "smtp auth: Ctrl-C at the relay's password prompt stops popfetch (exit 23)" {
  mkdir -p "$W/home"
  run on_pty --expect "Password for smtp_user bob at the SMTP relay 127.0.0.1: " --send '\x03' \
    -- env HOME="$W/home" "$POPFETCH" -f "$RC" --state-dir "$SD"
  cat "$W/pty.log" "$W/pty.state"
  [ "$status" -eq 23 ]
  grep -q "stopped by SIGINT at the password prompt" "$W/pty.log"
  grep -qx "after echo on" "$W/pty.state"
}

@test "smtp auth: with -j, accounts running side by side never ask on the terminal: exit 3 each, no prompt" {
  mkdir -p "$W/home"
  printf 'account t2 : t\nuser bob\n' >>"$RC"
  run on_pty -- env HOME="$W/home" "$POPFETCH" -f "$RC" --state-dir "$SD" -j 2
  cat "$W/pty.log"
  [ "$status" -eq 3 ]
  [ "$(grep -c 'Password for' "$W/pty.log")" -eq 0 ]
  [ "$(grep -c 'no password for smtp_user bob at the SMTP relay 127.0.0.1' "$W/pty.log")" -eq 2 ]
}

@test "smtp auth: -vv with 2 connections names each one (SMTP[1], SMTP[2]) and still masks what AUTH sends" {
  printf 'Return-Path: <a@example.org>\nSubject: one\n\n1\n' >"$W/1"
  printf 'Return-Path: <b@example.org>\nSubject: two\n\n2\n' >"$W/2"
  dovecot_put alice "$W/1"
  dovecot_put alice "$W/2"
  printf 'ext AUTH PLAIN LOGIN\n' >"$W/script"
  smtp_fake_start "$W/script"
  sed -i "s|^delivery .*|delivery smtp 127.0.0.1:$SMTP_PORT|; s/^smtp_tls starttls/smtp_tls off/" "$RC"
  printf 'smtp_password hunter2\nsmtp_connections 2\n' >>"$RC"
  pf_run -vv
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"> SMTP[1] AUTH PLAIN ****"* && $output == *"> SMTP[2] AUTH PLAIN ****"* ]] || {
    echo "$output"; false; }
  [[ $output == *"> SMTP[1] MAIL FROM:<a@example.org>"* && $output == *"> SMTP[2] MAIL FROM:<b@example.org>"* ]] || {
    echo "$output"; false; }
  [[ $output != *hunter2* && $output != *"$(printf '\0bob\0hunter2' | base64)"* ]] || {
    echo "$output"; false; }
  [[ $output != *"> SMTP "* && $output != *"< SMTP "* ]] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
}
