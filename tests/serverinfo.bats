#!/usr/bin/env bats
# --serverinfo: what a server offers, against the real Dovecot (STLS and
# POP3S, with and without credentials) and a scripted server with an
# expired certificate (reported, not refused).

load lib/common

T=$BATS_TEST_DIRNAME/transcripts

setup() { pf_setup; }
teardown() { pf_teardown; }

@test "--serverinfo on Dovecot over STLS: TLS, certificate, CAPA before and after, login, STAT" {
  dovecot_start
  printf 'Subject: s\n\nbody\n' | dovecot_put alice
  pf_rc_dovecot starttls
  pf_run --serverinfo t
  [ "$status" -eq 0 ]
  [[ $output == *"TLS:            TLSv1."* ]]
  [[ $output == *"subject /CN=localhost"* ]]
  [[ $output == *"names   localhost, 127.0.0.1, 127.0.0.2, ::1"* ]]
  [[ $output == *"verification:   trusted"* ]]
  local fp
  fp=$(openssl x509 -in "$DC_CERT" -noout -fingerprint -sha256 | cut -d= -f2)
  [[ $output == *"SHA-256 $fp"* ]]
  [[ $output == *"APOP:           offered"* ]]
  [[ $output == *"CAPA before STLS:"*"  STLS"*"CAPA after STLS:"* ]]
  [[ $output == *"SASL:           PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256"* ]]
  [[ $output == *"PIPELINING:     yes"* ]]
  [[ $output == *"login:          ok as alice (SCRAM-SHA-256)"* ]]
  [[ $output == *"CAPA after login:"* ]]
  [[ $output == *"STAT:           1 messages"* ]]
  # nothing was fetched or deleted
  [ "$(dovecot_count alice)" -eq 1 ]
  [ ! -d "$MD" ]
}

@test "--serverinfo with --host and no password: no login, the untrusted CA is reported" {
  dovecot_start
  run "$POPFETCH" --serverinfo --host localhost --port "$DC_POP3S_PORT" --user alice --maildir "$MD"
  [ "$status" -eq 0 ]
  [[ $output == *"verification:   NOT trusted"* ]]
  [[ $output == *"login:          skipped"* ]]
  if grep -q 'Login: user=<alice>' "$DC_LOG"; then false; fi
}

@test "--serverinfo: an expired certificate is reported, not refused; odd CAPA shown safely" {
  bad_cert expired
  FAKE_CERT=$W/certs/expired.pem FAKE_KEY=$W/certs/expired.key \
    fake_start "$T/serverinfo-expired.txt" --implicit-tls
  pf_rc_fake implicit
  sed -i '/^password /d' "$RC"
  pf_run --serverinfo
  [ "$status" -eq 0 ]
  [[ $output == *"NOT trusted: cannot trust the certificate of 127.0.0.1: it expired on Feb  1 00:00:00 2020"* ]]
  [[ $output == *"EXPIRE:         30 days"* ]]
  [[ $output == *"LOGIN-DELAY:    900 seconds"* ]]
  [[ $output == *"SASL:           PLAIN XAUTH-UNKNOWN"* ]]
  [[ $output != *$'\x1b'* ]]
  [[ $output == *"IMPLEMENTATION: Fake"* ]]
  [[ $output == *"  IMPLEMENTATION Fake?[31mServer"* ]]
  fake_stop
}

@test "--serverinfo: STLS not listed is tried anyway and reported in order" {
  fake_start "$T/serverinfo-stls-unlisted.txt"
  pf_rc_fake starttls
  sed -i '/^password /d' "$RC"
  pf_run --serverinfo
  fake_stop
  [ "$status" -eq 0 ]
  [[ $output == *$'CAPA before STLS:\n  USER\nSTLS:           not listed in CAPA; trying anyway\nSTLS:           +OK go ahead\nTLS:            TLSv1.3'* ]]
  [[ $output == *$'verification:   trusted (chain and name verified)\nCAPA after STLS:'* ]]
  [[ $output == *$'CAPA after STLS:\n  USER\n  STLS\n'* ]]
}

@test "--serverinfo --host needs only what a connection needs: no --user, no --maildir" {
  dovecot_start
  run "$POPFETCH" --serverinfo --host 127.0.0.1 --port "$DC_POP3_PORT" --tls starttls \
    --tls-trust-file "$DC_CA"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"verification:   trusted"* ]]
  [[ $output == *"login:          skipped (no user given)"* ]]
  run "$POPFETCH" --serverinfo --host 127.0.0.1 --port "$DC_POP3S_PORT"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $output == *"NOT trusted"* ]]
  # a fetch still needs them
  run "$POPFETCH" --host 127.0.0.1 --port "$DC_POP3S_PORT" --state-dir "$SD"
  [ "$status" -eq 5 ]
  [[ $output == *"needs --maildir, --mbox or --mda"* ]]
}
