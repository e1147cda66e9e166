#!/usr/bin/env bats
# popfetch --import-fetchmailrc FILE: every sample fetchmail rc file in
# tests/fetchmailrc/ converts, and popfetch loads what it prints (asking for
# an account no file defines proves the whole file parsed: exit 5, "no
# account named"); syntax errors name file:line; and a converted rc file
# fetches from the private Dovecot, over POP3S and over STLS.

load lib/common

RCS=$PF_TOP/tests/fetchmailrc

setup() {
  pf_setup
  "$POPFETCH" --help 2>&1 | grep -q -- --import-fetchmailrc ||
    { echo "popfetch --help does not mention --import-fetchmailrc"; false; }
}

teardown() { pf_teardown; }

# convert RC OUT: popfetch --import-fetchmailrc RC >OUT (chmod 600); sets
# status, and CONVERT_ERR to what it said on stderr.
convert() {
  status=0
  "$POPFETCH" --import-fetchmailrc "$1" >"$2" 2>"$W/convert.err" || status=$?
  CONVERT_ERR=$(cat "$W/convert.err")
  chmod 600 "$2"
}

# loads OUT: popfetch reads OUT without complaint up to the account lookup.
loads() {
  run "$POPFETCH" -f "$1" --state-dir "$SD" no-such-account
  [ "$status" -eq 5 ] || { echo "exit $status: $output"; return 1; }
  [[ $output == *"no account named \`no-such-account\`"* ]] || { echo "$output"; return 1; }
}

@test "every sample rc file converts, and popfetch loads the result" {
  local rc n=0
  for rc in "$RCS"/*.rc; do
    convert "$rc" "$W/out.conf"
    [ "$status" -eq 0 ] || { echo "$rc: exit $status: $CONVERT_ERR"; return 1; }
    [ -z "$CONVERT_ERR" ] || { echo "$rc: said $CONVERT_ERR"; return 1; }
    loads "$W/out.conf" || { echo "$rc"; cat "$W/out.conf"; return 1; }
    n=$((n + 1))
  done
  [ "$n" -ge 6 ]
}

@test "the samples are fetchmail's own grammar (fetchmail --configdump reads them)" {
  command -v fetchmail >/dev/null || { echo "fetchmail is not installed: make deps"; false; }
  local rc
  for rc in "$RCS"/*.rc; do
    cp "$rc" "$W/copy.rc"
    chmod 600 "$W/copy.rc"
    run fetchmail -f "$W/copy.rc" --configdump
    [ "$status" -eq 0 ] || { echo "$rc: $output"; return 1; }
  done
}

@test "accounts, mappings and comments in the converted samples" {
  convert "$RCS/gmail-pop3s.rc" "$W/gmail.conf"
  [ "$status" -eq 0 ]
  grep -qx 'account pop.gmail.com' "$W/gmail.conf"
  grep -qx 'tls implicit' "$W/gmail.conf"
  grep -qx 'keep on' "$W/gmail.conf"
  # no smtphost, lmtp or mda: fetchmail's default, SMTP to the local MTA
  grep -qx 'delivery smtp localhost:25' "$W/gmail.conf"
  grep -qx 'recipient alice' "$W/gmail.conf"
  grep -q "^# .*fetchmail's default delivery, SMTP to port 25 on" "$W/gmail.conf"
  convert "$RCS/defaults.rc" "$W/defaults.conf"
  [ "$status" -eq 0 ]
  grep -qx 'account frank@pop.work.example' "$W/defaults.conf"
  grep -qx 'account grace@pop.work.example' "$W/defaults.conf"
  grep -qx 'delivery mda "/usr/bin/procmail -d grace"' "$W/defaults.conf"
  convert "$RCS/imap-and-skip.rc" "$W/imap.conf"
  [ "$status" -eq 0 ]
  grep -qx '# account imap.example.com' "$W/imap.conf"
  if grep -q '^account' "$W/imap.conf"; then false; fi
  convert "$RCS/multidrop.rc" "$W/multi.conf"
  [ "$status" -eq 0 ]
  grep -q '^# This is a multidrop mailbox' "$W/multi.conf"
}

@test "a converted file with a password is refused when others can read it" {
  convert "$RCS/apop.rc" "$W/apop.conf"
  [ "$status" -eq 0 ]
  grep -q 'chmod 600' "$W/apop.conf"
  chmod 644 "$W/apop.conf"
  run "$POPFETCH" -f "$W/apop.conf" --state-dir "$SD" no-such-account
  [ "$status" -eq 6 ]
}

@test "syntax errors: exit 5 naming file:line; missing file: exit 5" {
  printf 'poll pop.example.org proto pop3\n  user alice\n  sslcertchk\n' >"$W/bad.rc"
  convert "$W/bad.rc" "$W/out.conf"
  [ "$status" -eq 5 ]
  [[ $CONVERT_ERR == *"$W/bad.rc:3:"*"sslcertchk"* ]]
  printf 'poll h user u password "never closed\n' >"$W/bad2.rc"
  convert "$W/bad2.rc" "$W/out.conf"
  [ "$status" -eq 5 ]
  [[ $CONVERT_ERR == *"$W/bad2.rc:1: a quoted string that never ends"* ]]
  printf 'poll h\0user u\n' >"$W/nul.rc"
  convert "$W/nul.rc" "$W/out.conf"
  [ "$status" -eq 5 ]
  [[ $CONVERT_ERR == *"NUL byte"* ]]
  convert "$W/nope.rc" "$W/out.conf"
  [ "$status" -eq 5 ]
  [[ $CONVERT_ERR == *"$W/nope.rc"* ]]
}

# fetch_with ssl|stls: convert an rc file for alice on the private Dovecot
# (on its POP3S port with `ssl`, else on its POP3 port) and fetch with what
# popfetch printed.
fetch_with() {
  local ssl= port i
  dovecot_start
  port=$DC_POP3_PORT
  if [[ $1 == ssl ]]; then ssl=ssl port=$DC_POP3S_PORT; fi
  mkdir -p "$W/orig"
  for i in 1 2 3; do
    printf 'Subject: converted %d\n\nbody %d\n' "$i" "$i" >"$W/orig/$i"
    dovecot_put alice "$W/orig/$i"
  done
  cat >"$W/fetchmailrc" <<RC
# written the way fetchmail users write them
poll 127.0.0.1 with proto POP3 and port $port
    user "alice" there with password "secret" is $(id -un) here
    options $ssl sslcertck sslcertfile "$DC_CA"
    mda "cat >> '$W/delivered'"
RC
  convert "$W/fetchmailrc" "$W/out.conf"
  [ "$status" -eq 0 ] || { echo "$CONVERT_ERR"; return 1; }
  run "$POPFETCH" -f "$W/out.conf" --state-dir "$SD"
  [ "$status" -eq 0 ] || { echo "exit $status: $output"; cat "$W/out.conf"; return 1; }
  [ "$(grep -c '^Subject: converted' "$W/delivered")" -eq 3 ]
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "a converted rc file fetches over POP3S (ssl: tls implicit)" {
  fetch_with ssl
  grep -qx 'tls implicit' "$W/out.conf"
}

@test "a converted rc file fetches over STLS (no ssl: tls starttls)" {
  fetch_with stls
  grep -qx 'tls starttls' "$W/out.conf"
}

@test "service 995 without ssl: tls starttls is written only under a warning that names tls implicit" {
  local rc
  for svc in 995 pop3s; do
    rc=$W/fm-$svc.rc
    printf 'poll pop.example.org proto pop3 service %s\n  user alice password secret\n' "$svc" >"$rc"
    chmod 600 "$rc"
    convert "$rc" "$W/out-$svc.conf"
    [ "$status" -eq 0 ]
    loads "$W/out-$svc.conf"
    # the comment right above `tls starttls` is the warning
    awk '/^# WARNING: port 995 is POP3S/ { w = 1 } w && !/^#/ { print; exit }' \
      "$W/out-$svc.conf" >"$W/after-warning"
    [ "$(cat "$W/after-warning")" = "tls starttls" ] || { cat "$W/out-$svc.conf"; false; }
    grep -A4 '^# WARNING: port 995' "$W/out-$svc.conf" | tr '\n#' '  ' | tr -s ' ' | grep -q 'write tls implicit' ||
      { cat "$W/out-$svc.conf"; false; }
  done
}

@test "a converted rc file with lmtp and smtphost forwards into Dovecot's LMTP for its local name" {
  DC_LMTP=1 dovecot_start
  printf 'Return-Path: <x@example.org>\nSubject: converted lmtp\n\nbody\n' >"$W/m"
  dovecot_put alice "$W/m"
  cat >"$W/fetchmailrc" <<RC
poll 127.0.0.1 with proto POP3 and port $DC_POP3S_PORT
    user "alice" there with password "secret" is bob here
    options ssl sslcertck sslcertfile "$DC_CA"
    lmtp smtphost "$DC_LMTP_SOCKET"
RC
  convert "$W/fetchmailrc" "$W/out.conf"
  [ "$status" -eq 0 ] || { echo "$CONVERT_ERR"; false; }
  grep -qx "delivery lmtp $DC_LMTP_SOCKET" "$W/out.conf"
  grep -qx 'recipient bob' "$W/out.conf"
  run "$POPFETCH" -f "$W/out.conf" --state-dir "$SD"
  [ "$status" -eq 0 ] || { echo "exit $status: $output"; cat "$W/out.conf"; false; }
  mailcheck forwarded "$(dovecot_maildir bob)" "$W/m"
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "a poll block without smtphost, lmtp or mda: fetchmail's default, SMTP to localhost:25, with smtpaddress's domain; esmtpname/esmtppassword become smtp_user/smtp_password" {
  printf 'poll pop.example.org proto pop3 user u password p is alice here\npoll other.example.org user v password q is bob here smtpaddress example.net\npoll third.example.org esmtpname relayuser esmtppassword relaypw user w password r is carl here smtphost relay.example/587\n' >"$W/fm.rc"
  chmod 600 "$W/fm.rc"
  convert "$W/fm.rc" "$W/fm.conf"
  [ "$status" -eq 0 ] || { echo "$CONVERT_ERR"; false; }
  [ "$(grep -cx 'delivery smtp localhost:25' "$W/fm.conf")" -eq 2 ] || { cat "$W/fm.conf"; false; }
  grep -qx 'recipient alice' "$W/fm.conf"
  grep -qx 'recipient bob@example.net' "$W/fm.conf"
  [ "$(grep -c 'sendmail' "$W/fm.conf")" -eq 0 ]
  # esmtpname/esmtppassword: SMTP AUTH to the relay
  grep -qx 'delivery smtp relay.example:587' "$W/fm.conf"
  grep -qx 'smtp_user relayuser' "$W/fm.conf"
  grep -qx 'smtp_password relaypw' "$W/fm.conf"
  run "$POPFETCH" -f "$W/fm.conf" --dump-config
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}
