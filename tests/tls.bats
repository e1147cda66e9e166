#!/usr/bin/env bats
# TLS trust: what goes to a server whose certificate was not verified
# (nothing secret, no client certificate, in a fetch and in --serverinfo),
# host names (no subject CN fallback, tls_host_override), certificate text
# escaped, the APOP digest masked in -vv, the handshake under one deadline,
# and -vv showing the certificate.

load lib/common

T=$BATS_TEST_DIRNAME/transcripts

setup() { pf_setup; }
teardown() {
  [[ -z ${SS_PID:-} ]] || { kill "$SS_PID" 2>/dev/null || true; wait "$SS_PID" 2>/dev/null || true; }
  pf_teardown
}

# client_sent: every line the client sent to the fake server.
client_sent() { grep -a '^C> ' "$FAKE_LOG" || true; }

# test_ca: the fake server's CA ($W/certs/ca.pem), made if missing.
test_ca() {
  mkdir -p "$W/certs"
  [[ -f $W/certs/ca.pem ]] || dovecot_make_certs "$W/certs"
}

# ca_cert NAME SUBJECT [EXTENSION LINES...]: $W/certs/NAME.pem and .key,
# signed by the test CA, with exactly the given extensions (none: no
# subjectAltName at all).
ca_cert() {
  local name=$1 subj=$2 d=$W/certs
  shift 2
  test_ca
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/$name.key" -out "$d/$name.csr" -subj "$subj" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "$@" >"$d/$name.ext"
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$d/$name.ext" \
    -out "$d/$name.pem" 2>/dev/null
}

fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

@test "--serverinfo: a self-signed impostor gets no password; a pin or tls_verify off logs in" {
  bad_cert selfsigned
  FAKE_CERT=$W/certs/selfsigned.pem FAKE_KEY=$W/certs/selfsigned.key \
    fake_start "$T/tls-impostor.txt" --implicit-tls
  pf_rc_fake implicit
  pf_run --serverinfo
  fake_stop || true
  local sent
  sent=$(client_sent)
  [[ $sent != *"C> USER"* && $sent != *"C> PASS"* ]] || { echo "sent: $sent"; return 1; }
  [[ $sent != *"C> AUTH"* && $sent != *"C> APOP"* ]] || { echo "sent: $sent"; return 1; }
  [[ $sent == *"C> QUIT"* ]]
  [ "$status" -eq 2 ]
  [[ $output == *"verification:   NOT trusted: cannot trust the certificate of 127.0.0.1: it is self-signed"* ]]
  [[ $output == *"SASL:           PLAIN"* ]]
  [[ $output == *$'\nlogin:          skipped (certificate not trusted)\n'* ]]
  [[ $output == *"fingerprint is "* ]]
  # The same server, trusted the ways a fetch trusts it: login goes ahead.
  local how
  for how in "tls_fingerprint $(fingerprint "$W/certs/selfsigned.pem")" "tls_verify off"; do
    : >"$FAKE_LOG"
    FAKE_CERT=$W/certs/selfsigned.pem FAKE_KEY=$W/certs/selfsigned.key \
      fake_start "$T/tls-impostor.txt" --implicit-tls
    pf_rc_fake implicit "$how"
    pf_run --serverinfo
    fake_stop
    [ "$status" -eq 0 ] || { echo "$how: $status $output"; return 1; }
    [[ $output == *"login:          ok as alice (PLAIN)"* ]]
    client_sent | grep -q '^C> AUTH PLAIN '
  done
}

# ss_start CERT KEY [s_server options...]: openssl s_server asking for a
# client certificate (and logging the one it gets) on a free port; sets
# SS_PORT, SS_PID, SS_OUT.
ss_start() {
  local cert=$1 key=$2 i
  shift 2
  SS_OUT=$W/s_server.out
  openssl s_server -accept 127.0.0.1:0 -naccept 1 -www -cert "$cert" -key "$key" \
    -verify 1 -CAfile "$W/certs/ca.pem" "$@" </dev/null >"$SS_OUT" 2>&1 3>&- &
  SS_PID=$!
  SS_PORT=
  for ((i = 0; i < 100; i++)); do
    SS_PORT=$(ss -ltnp 2>/dev/null | awk -v p="pid=$SS_PID," '$0 ~ p {n = split($4, a, ":"); print a[n]}')
    if [[ -n $SS_PORT ]]; then break; fi
    sleep 0.05
  done
  [[ -n $SS_PORT ]]
}

ss_stop() {
  kill "$SS_PID" 2>/dev/null || true
  wait "$SS_PID" 2>/dev/null || true
  SS_PID=
}

@test "a client certificate goes only to a verified server (fetch and --serverinfo, TLS 1.2 and 1.3)" {
  bad_cert selfsigned
  ca_cert alice "/CN=alice-client" "extendedKeyUsage=clientAuth"
  local version how
  for version in -tls1_3 -tls1_2; do
    for how in fetch --serverinfo; do
      ss_start "$W/certs/selfsigned.pem" "$W/certs/selfsigned.key" "$version"
      FAKE_CA=$W/certs/ca.pem FAKE_PORT=$SS_PORT pf_rc_fake implicit "timeout 2" \
        "tls_cert_file $W/certs/alice.pem" "tls_key_file $W/certs/alice.key"
      if [[ $how == fetch ]]; then pf_run; else pf_run --serverinfo; fi
      ss_stop
      [ "$status" -eq 2 ] || [ "$status" -eq 7 ] || { echo "$version $how: $status $output"; return 1; }
      [[ $output == *"it is self-signed"* ]]
      if grep -q 'alice-client' "$SS_OUT"; then
        echo "$version $how: the untrusted server got the client certificate"
        cat "$SS_OUT"
        return 1
      fi
    done
    # the check can see a certificate: a pinned server gets it
    ss_start "$W/certs/selfsigned.pem" "$W/certs/selfsigned.key" "$version"
    sed -i "s/^port .*/port $SS_PORT/" "$RC"
    echo "tls_fingerprint $(fingerprint "$W/certs/selfsigned.pem")" >>"$RC"
    pf_run --serverinfo
    ss_stop
    grep -q 'depth=0 CN = alice-client' "$SS_OUT"
  done
}

@test "host names: the subject CN is never matched; the error lists the names and suggests tls_host_override" {
  # signed by the trusted CA, right name only in the CN: refused
  ca_cert cnonly "/CN=localhost"
  FAKE_CERT=$W/certs/cnonly.pem FAKE_KEY=$W/certs/cnonly.key \
    fake_start "$T/implicit-untrusted.txt" --implicit-tls
  pf_rc_fake implicit "timeout 3"
  sed -i 's/^host .*/host localhost/' "$RC"
  pf_run
  fake_stop
  [ "$status" -eq 2 ]
  [[ $output == *"cannot trust the certificate of localhost: it names no host"*"subject /CN=localhost is not checked"* ]]
  [ -z "$(client_sent)" ]
  # a name in subjectAltName only: the mismatch lists it, the hint says how to use it
  bad_cert wronghost
  : >"$FAKE_LOG"
  FAKE_CERT=$W/certs/wronghost.pem FAKE_KEY=$W/certs/wronghost.key \
    fake_start "$T/implicit-untrusted.txt" --implicit-tls
  pf_rc_fake implicit
  pf_run
  fake_stop
  [ "$status" -eq 2 ]
  [[ $output == *"it is for mail.example.org, pop.example.org, not for 127.0.0.1"* ]]
  [[ $output == *'as `host`, or keep `host` and add `tls_host_override mail.example.org`'* ]]
  [[ $output != *"tls_trust_file"* ]] || false
  # ... and following the hint works: host stays an address, the name is checked
  : >"$FAKE_LOG"
  FAKE_CERT=$W/certs/wronghost.pem FAKE_KEY=$W/certs/wronghost.key \
    fake_start "$T/plaintext-allowed.txt" --implicit-tls
  pf_rc_fake implicit "tls_host_override pop.example.org"
  pf_run
  fake_stop
  [ "$status" -eq 0 ]
  [ "$(find "$MD/new" -type f | wc -l)" -eq 1 ]
}

@test "certificate text is escaped: control bytes in the subject and names never reach the terminal" {
  local esc
  esc=$(printf '\033')
  ca_cert evil "/CN=evil${esc}[31mred" "subjectAltName=DNS:bad${esc}[31m.example"
  ca_cert evilcn "/CN=evil${esc}[31mcn"
  FAKE_CERT=$W/certs/evil.pem FAKE_KEY=$W/certs/evil.key \
    fake_start "$T/serverinfo-expired.txt" --implicit-tls
  pf_rc_fake implicit
  sed -i '/^password /d' "$RC"
  pf_run --serverinfo
  fake_stop
  [ "$status" -eq 0 ]
  [[ $output == *'subject /CN=evil\x1B[31mred'* ]]
  [[ $output == *"names   bad?[31m.example"* ]]
  [[ $output != *$'\x1b'* ]] || false
  # the fetch's error names the certificate too (no SAN: the CN shown, escaped)
  FAKE_CERT=$W/certs/evilcn.pem FAKE_KEY=$W/certs/evilcn.key \
    fake_start "$T/implicit-untrusted.txt" --implicit-tls
  pf_rc_fake implicit "timeout 3"
  pf_run
  fake_stop
  [[ $output != *$'\x1b'* ]] || false
  [ "$status" -eq 2 ]
  [[ $output == *'its subject /CN=evil\x1B[31mcn is not checked'* ]]
}

@test "APOP: -vv shows the digest as ****" {
  fake_start "$T/tls-apop.txt" --implicit-tls
  pf_rc_fake implicit "auth apop"
  pf_run -vv
  fake_stop
  [ "$status" -eq 1 ]
  local digest
  digest=$(printf '%s' '<1896.697170952@dbc.mtview.ca.us>secret' | md5sum | cut -d' ' -f1)
  client_sent | grep -q "^C> APOP alice $digest"
  [[ $output == *"> APOP alice ****"* ]]
  [[ $output != *"$digest"* ]] || false
}

@test "TLS handshake: a server trickling one byte a second is cut off at timeout (exit 2)" {
  # a TLS record header announcing 16 KiB, then its body a byte a second
  {
    echo 'SX: \x16\x03\x03\x40\x00'
    for _ in $(seq 25); do echo 'SLEEP 1'; echo 'SX: \x02'; done
    echo 'STALL'
  } >"$W/trickle.txt"
  FAKE_TIMEOUT=40 fake_start "$W/trickle.txt"
  pf_rc_fake implicit "timeout 3"
  local t0=$SECONDS
  pf_run
  local took=$((SECONDS - t0))
  kill "$FAKE_PID" 2>/dev/null || true
  fake_stop || true
  [ "$status" -eq 2 ]
  [ "$took" -le 6 ] || { echo "took $took s"; return 1; }
  [[ $output == *"TLS handshake: 127.0.0.1 did not answer within 3 seconds"* ]]
  [[ $output == *"the whole handshake must finish within \`timeout\`"* ]]
}

@test "-vv shows the server's certificate once per connection" {
  fake_start "$T/plaintext-allowed.txt" --implicit-tls
  pf_rc_fake implicit
  pf_run -vv
  fake_stop
  [ "$status" -eq 0 ]
  local fp
  fp=$(fingerprint "$W/certs/server.pem")
  [[ $output == *"popfetch: t: certificate: subject /CN=localhost; issuer /CN=popfetch test CA"* ]]
  [[ $output == *"certificate: names localhost, 127.0.0.1, 127.0.0.2, ::1; SHA-256 $fp"* ]]
  [[ $output == *"certificate: trusted (chain and name verified)"* ]]
  [ "$(grep -c 'certificate: subject' <<<"$output")" -eq 1 ]
}

@test "tls starttls with port 995: a warning before connecting, not after the timeout" {
  printf 'account t\nhost 127.0.0.1\nport 995\nuser alice\npassword secret\ntls starttls\ntimeout 2\ndelivery maildir %s\n' \
    "$MD" >"$RC"
  chmod 600 "$RC"
  pf_run
  [ "$status" -eq 2 ] # nothing listens on 127.0.0.1:995 here: refused
  [[ $output == *"t: warning: \`tls starttls\` with port 995: port 995 is POP3S"*"use \`tls implicit\`"* ]]
  # the warning comes before whatever the connection attempt says
  [[ ${lines[0]} == *"tls starttls"*"port 995"* ]] || { echo "$output"; false; }
}

@test "a POP3S server waiting for TLS, spoken to with tls starttls: a note after a few seconds, the hint names tls implicit" {
  fake_start "$T/tls-impostor.txt" --implicit-tls
  pf_rc_fake starttls "timeout 6"
  pf_run
  [ "$status" -eq 7 ]
  [[ $output == *"t: warning: no greeting yet: the server may be waiting for TLS (a POP3S port, such as 995): use \`tls implicit\`"* ]]
  [[ $output == *"did not answer within 6 seconds"* ]]
  [[ $output == *"within 6 seconds"*"(the server may be waiting for TLS"*"use \`tls implicit\`"* ]]
}
