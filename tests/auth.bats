#!/usr/bin/env bats
# Authentication and TLS: every mechanism against the real Dovecot (POP3S
# and STLS), the choices `auth auto` makes, what is refused on an insecure
# connection, password sources, and on the scripted server the exchanges
# Dovecot will not stage (SCRAM impostors, OAuth errors, response codes,
# bad certificates). The fake's log shows what the client really sent.

load lib/common

T=$BATS_TEST_DIRNAME/transcripts
FAULTS=$PF_TOP/${FAULTS_BIN:-build/popfetch-faults}

setup() { pf_setup; }
teardown() { pf_teardown; }

client_sent() { grep -a '^C> ' "$FAKE_LOG" || true; }

# one message for alice, named by the test round
put_one() { printf 'Subject: %s\n\nbody of %s\n' "$1" "$1" | dovecot_put alice; }

@test "Dovecot: every mechanism, forced by auth, over POP3S and STLS" {
  dovecot_start
  local mode mech n=0
  for mode in implicit starttls; do
    for mech in user apop plain login cram-md5 scram-sha-1 scram-sha-256; do
      n=$((n + 1))
      put_one "$mode $mech"
      pf_rc_dovecot "$mode" "auth $mech"
      pf_run -v
      if [ "$status" -ne 0 ]; then
        echo "auth $mech over $mode: status $status: $output"
        return 1
      fi
      local want=${mech^^}
      [[ $output == *"logged in as alice ($want)"* ]] || { echo "$output"; return 1; }
    done
  done
  [ "$(mailcheck count "$MD")" -eq "$n" ]
  grep -q 'method=SCRAM-SHA-256' "$DC_LOG"
  grep -q 'method=APOP' "$DC_LOG"
  grep -q 'method=CRAM-MD5' "$DC_LOG"
}

@test "Dovecot: auth auto picks SCRAM-SHA-256; the trace masks every client payload" {
  dovecot_start
  put_one auto
  pf_rc_dovecot implicit
  pf_run -vv
  [ "$status" -eq 0 ]
  [[ $output == *"> AUTH SCRAM-SHA-256 ****"* ]]
  [[ $output == *"logged in as alice (SCRAM-SHA-256)"* ]]
  # client lines after AUTH are all masked; server challenges are shown
  [[ $output == *"< + "* ]]
  if echo "$output" | grep -E '> [A-Za-z0-9+/]{20,}'; then false; fi
}

@test "Dovecot: wrong password with SCRAM is exit 3" {
  dovecot_start
  pf_rc_dovecot implicit "auth scram-sha-256"
  sed -i 's/^password .*/password nope/' "$RC"
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"[AUTH]"* ]]
}

@test "Dovecot: EXTERNAL with a client certificate" {
  dovecot_start
  put_one external
  dovecot_client_cert alice "$W"
  pf_rc_dovecot implicit "auth external" "tls_cert_file $W/alice.pem" "tls_key_file $W/alice.key"
  sed -i '/^password /d' "$RC"
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"logged in as alice (EXTERNAL)"* ]]
  grep -q 'method=EXTERNAL' "$DC_LOG"
}

@test "insecure connection (127.0.0.2, tls off): SCRAM works, passwords are refused unsent" {
  dovecot_start 127.0.0.2
  put_one insecure
  pf_rc_dovecot implicit
  sed -i "s/^host .*/host 127.0.0.2/; s/^port .*/port $DC_POP3_PORT/; s/^tls .*/tls off/" "$RC"
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"(SCRAM-SHA-256)"* ]]
  for mech in user plain login; do
    sed -i "/^auth /d" "$RC"
    echo "auth $mech" >>"$RC"
    pf_run
    [ "$status" -eq 3 ] || { echo "auth $mech: $status"; return 1; }
    [[ $output == *"refusing to send the password"*"allow_plaintext"* ]]
  done
  if grep -q 'method=PLAIN\|method=LOGIN\|user=<alice>, method=USER' "$DC_LOG"; then false; fi
}

@test "~/.netrc supplies the password; a netrc others can read is refused" {
  dovecot_start
  put_one netrc
  pf_rc_dovecot implicit
  sed -i '/^password /d' "$RC"
  mkdir -p "$W/home"
  printf 'machine other.example login x password y\nmachine 127.0.0.1\n  login alice\n  password secret\n' \
    >"$W/home/.netrc"
  chmod 600 "$W/home/.netrc"
  HOME=$W/home pf_run
  [ "$status" -eq 0 ]
  chmod 644 "$W/home/.netrc"
  HOME=$W/home pf_run
  [ "$status" -eq 6 ]
  [[ $output == *".netrc"*"others can read it"* ]]
}

@test "no password from anywhere: exit 3 with a hint" {
  dovecot_start
  pf_rc_dovecot implicit
  sed -i '/^password /d' "$RC"
  mkdir -p "$W/home"
  HOME=$W/home pf_run </dev/null
  [ "$status" -eq 3 ]
  [[ $output == *"no password for alice@127.0.0.1"*"passwordeval"* ]]
}

scram_rc() { # a fake-server account for RFC 5802's user/pencil
  pf_rc_fake implicit "auth ${1:-scram-sha-1}"
  sed -i 's/^user .*/user user/; s/^password .*/password pencil/' "$RC"
}

@test "SCRAM-SHA-1 replaying RFC 5802: the server's signature is checked and accepted" {
  [ -x "$FAULTS" ] || { echo "$FAULTS is not built: make build/popfetch-faults"; false; }
  fake_start "$T/scram-sha1-rfc.txt" --implicit-tls
  scram_rc
  POPFETCH_TEST_SCRAM_NONCE=fyko+d2lbbFgONRv9qkxdawL run "$FAULTS" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 1 ]
  fake_stop
}

@test "SCRAM: a server that cannot prove the password is refused even after +OK" {
  [ -x "$FAULTS" ] || { echo "$FAULTS is not built: make build/popfetch-faults"; false; }
  fake_start "$T/scram-sha1-bad-signature.txt" --implicit-tls
  scram_rc
  POPFETCH_TEST_SCRAM_NONCE=fyko+d2lbbFgONRv9qkxdawL run "$FAULTS" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 3 ]
  [[ $output == *"signature"* ]]
  fake_stop
}

@test "SCRAM: an iteration count of 1 and a foreign nonce are refused" {
  [ -x "$FAULTS" ] || { echo "$FAULTS is not built: make build/popfetch-faults"; false; }
  fake_start "$T/scram-sha1-one-iteration.txt" --implicit-tls
  scram_rc
  POPFETCH_TEST_SCRAM_NONCE=fyko+d2lbbFgONRv9qkxdawL run "$FAULTS" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 3 ]
  [[ $output == *"iteration"* ]]
  fake_stop
  fake_start "$T/scram-foreign-nonce.txt" --implicit-tls
  pf_rc_port
  POPFETCH_TEST_SCRAM_NONCE=fyko+d2lbbFgONRv9qkxdawL run "$FAULTS" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 4 ]
  [[ $output == *"nonce"* ]]
  fake_stop
}

@test "XOAUTH2: two-step form; Google's JSON error is shown; token from passwordeval" {
  fake_start "$T/xoauth2-two-step-error.txt" --implicit-tls
  pf_rc_fake implicit "auth xoauth2"
  sed -i 's/^password .*/passwordeval "echo TOKEN123"/' "$RC"
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *'"status":"401"'* ]]
  fake_stop
  fake_start "$T/xoauth2-ok.txt" --implicit-tls
  pf_rc_port
  pf_run
  [ "$status" -eq 1 ]
  fake_stop
}

@test "OAUTHBEARER: an error challenge is answered with AQ== and reported" {
  fake_start "$T/oauthbearer-error.txt" --implicit-tls
  pf_rc_fake implicit "auth oauthbearer"
  sed -i 's/^password .*/passwordeval "echo TOKEN123"/' "$RC"
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"invalid_token"* ]]
  fake_stop
  # the initial response really was RFC 7628's GS2 + kvpairs
  local b64
  b64=$(client_sent | sed -n 's/^C> AUTH OAUTHBEARER \([^\r]*\).*/\1/p')
  [ "$(echo "$b64" | base64 -d | tr '\001' '|')" = "n,a=alice,|host=127.0.0.1|port=$FAKE_PORT|auth=Bearer TOKEN123||" ]
}

@test "response codes: [IN-USE] and [LOGIN-DELAY] exit 9, [SYS/TEMP] 7, no code 3 or 7" {
  local t want
  for t in login-in-use:9 login-delay:9 login-sys-temp:7 login-no-code:3 login-no-code-resp-codes:7; do
    want=${t#*:}
    fake_start "$T/${t%:*}.txt" --implicit-tls
    pf_rc_fake implicit "auth user"
    pf_run
    [ "$status" -eq "$want" ] || { echo "${t%:*}: got $status: $output"; return 1; }
    fake_stop
  done
  fake_start "$T/login-sys-temp.txt" --implicit-tls
  pf_rc_port
  pf_run
  [ "$status" -eq 7 ]
  [[ $output == *"storage unavailable"* ]]
}

@test "a named mechanism the server does not offer: exit 3, nothing sent, no fallback" {
  fake_start "$T/named-mech-not-offered.txt" --implicit-tls
  pf_rc_fake implicit "auth cram-md5"
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"does not offer CRAM-MD5"* ]]
  fake_stop
  if client_sent | grep -q -e AUTH -e USER -e PASS; then false; fi
}

@test "SASL challenges that are not base64 or 100 KiB long: cancelled, clean errors" {
  fake_start "$T/sasl-not-base64.txt" --implicit-tls
  pf_rc_fake implicit "auth cram-md5"
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *"not base64"* ]]
  fake_stop
  fake_start "$T/sasl-huge-challenge.txt" --implicit-tls
  pf_rc_port
  pf_run
  [ "$status" -eq 4 ]
}

@test "certificates: expired, not yet valid, wrong host, self-signed each say what is wrong" {
  local kind want
  for kind in expired:"it expired on Feb  1 00:00:00 2020" future:"not valid before" \
              wronghost:"it is for mail.example.org, pop.example.org, not for 127.0.0.1" \
              selfsigned:"self-signed"; do
    want=${kind#*:}
    kind=${kind%%:*}
    bad_cert "$kind"
    FAKE_CERT=$W/certs/$kind.pem FAKE_KEY=$W/certs/$kind.key \
      fake_start "$T/implicit-untrusted.txt" --implicit-tls
    pf_rc_fake implicit
    pf_run
    [ "$status" -eq 2 ] || { echo "$kind: $status $output"; return 1; }
    [[ $output == *"$want"* ]] || { echo "$kind: $output"; return 1; }
    [[ $output == *"fingerprint is "* ]]
    fake_stop
    [ -z "$(client_sent)" ]
  done
}

@test "tls_fingerprint pins a self-signed certificate; a changed certificate is refused" {
  bad_cert selfsigned
  local fp
  fp=$(openssl x509 -in "$W/certs/selfsigned.pem" -noout -fingerprint -sha256 | cut -d= -f2)
  FAKE_CERT=$W/certs/selfsigned.pem FAKE_KEY=$W/certs/selfsigned.key \
    fake_start "$T/plaintext-allowed.txt" --implicit-tls
  pf_rc_fake implicit "tls_fingerprint $fp"
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  # the server's certificate changes: the pin no longer matches
  : >"$FAKE_LOG"
  fake_start "$T/implicit-untrusted.txt" --implicit-tls
  pf_rc_port
  pf_run
  [ "$status" -eq 2 ]
  [[ $output == *"does not match tls_fingerprint"* ]]
  fake_stop
  [ -z "$(client_sent)" ]
}

@test "tls_verify off connects to a self-signed server but warns every run" {
  bad_cert selfsigned
  FAKE_CERT=$W/certs/selfsigned.pem FAKE_KEY=$W/certs/selfsigned.key \
    fake_start "$T/plaintext-allowed.txt" --implicit-tls
  pf_rc_fake implicit "tls_verify off"
  pf_run
  [ "$status" -eq 0 ]
  [[ $output == *"warning: tls_verify is off"* ]]
  fake_stop
}

@test "tls_min_version 1.3 refuses a TLS 1.2-only server" {
  dovecot_start
  pf_rc_dovecot implicit "tls_min_version 1.3"
  pf_run
  [ "$status" -eq 1 ] # connected, logged in, no mail
  # Dovecot speaks 1.3 here; a 1.2-only server is played by openssl s_server
  openssl s_server -accept 127.0.0.1:0 -cert "$DC_CERT" -key "$DC_KEY" -tls1_2 -quiet \
    >"$W/s_server.out" 2>&1 3>&- &
  local srv=$! port=""
  for _ in $(seq 100); do
    port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$srv," '$0 ~ p {split($4, a, ":"); print a[2]}')
    if [ -n "$port" ]; then break; fi
    sleep 0.05
  done
  sed -i "s/^port .*/port $port/" "$RC"
  pf_run
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
  [ "$status" -eq 2 ]
  [[ $output == *"TLS"* ]]
}

@test "PIPELINING: USER, PASS and the listing go out together; a refused user is the error; off waits" {
  fake_start "$T/login-pipelined.txt" --implicit-tls
  pf_rc_fake implicit "auth user" "timeout 5"
  pf_run
  [ "$status" -eq 1 ] # logged in; no mail
  fake_stop
  fake_start "$T/login-pipelined-bad-user.txt" --implicit-tls
  pf_rc_fake implicit "auth user" "timeout 5"
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"no such user here"* ]]
  [[ $output != *"no USER given"* ]]
  fake_stop
  # pipelining off: the same server waits for PASS that never comes alone
  fake_start "$T/login-pipelined.txt" --implicit-tls
  pf_rc_fake implicit "auth user" "timeout 2" "pipelining off"
  pf_run
  [ "$status" -eq 7 ]
  local rc=0
  fake_stop || rc=$?
  [ "$rc" -eq 1 ] # the transcript was not followed: PASS never came
}
