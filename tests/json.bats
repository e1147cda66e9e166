#!/usr/bin/env bats
# --json: one object per account and run on stdout (JSON Lines), human
# output on stderr only. Every field is checked against what really
# happened (the private Dovecot's own counts and log, the Maildir read by
# mailcheck.py), and every object against the shipped JSON Schema
# (contrib/popfetch-result.schema.json, python3-jsonschema): for mail, no
# mail, and each error class.

load lib/common

bats_require_minimum_version 1.5.0

SCHEMA=$BATS_TEST_DIRNAME/../contrib/popfetch-result.schema.json

setup() { pf_setup; }
teardown() {
  if [[ -n ${HOLDER:-} ]]; then kill "$HOLDER" 2>/dev/null || true; wait "$HOLDER" 2>/dev/null || true; fi
  pf_teardown
}

# pf_json [args...]: popfetch --json; stdout in $output and $W/out.jsonl,
# stderr in $stderr.
pf_json() {
  run --separate-stderr "$POPFETCH" -f "$RC" --state-dir "$SD" --json "$@"
  printf '%s\n' "$output" >"$W/out.jsonl"
}

# jf FILTER: the jq FILTER applied to the (only) object of the last run.
jf() { jq -r "$1" "$W/out.jsonl"; }

# valid [FILE]: every line is an object the schema accepts.
valid() {
  "$DC_PYTHON" "$PF_TOP/tests/lib/jsonvalid.py" "$SCHEMA" "${1:-$W/out.jsonl}"
}

# one_object: stdout held exactly one line, and it is JSON.
one_object() {
  [ "$(wc -l <"$W/out.jsonl")" -eq 1 ] || { echo "stdout: $(cat "$W/out.jsonl")"; return 1; }
  jq -e 'type == "object"' "$W/out.jsonl" >/dev/null
}

# now_ms: the wall clock in milliseconds.
now_ms() { date +%s%3N; }

# started_between T0 T1: "started" lies in [T0, T1] (ms since the epoch).
started_between() {
  local s
  s=$(jq -r '.started | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601' "$W/out.jsonl")
  local frac
  frac=$(jq -r '.started | capture("\\.(?<f>[0-9]+)Z$").f' "$W/out.jsonl")
  s=$((s * 1000 + 10#$frac))
  ((s >= $1 && s <= $2)) || { echo "started $s not in [$1, $2]"; return 1; }
}

@test "--json: mail fetched; every field as Dovecot and the Maildir saw it" {
  dovecot_start
  put_generated 3 5 json
  pf_rc_dovecot implicit
  local t0 t1
  t0=$(now_ms)
  pf_json -v
  t1=$(now_ms)
  [ "$status" -eq 0 ]
  local st=$status
  one_object
  valid
  # human output went to stderr, none of it to stdout
  [[ $stderr == *"popfetch: t: 3 messages"* ]]
  run ! grep -q 'popfetch:' "$W/out.jsonl"
  [ "$(jf .version)" = 1 ]
  [ "$(jf .account)" = t ]
  [ "$(jf .server)" = 127.0.0.1 ]
  [ "$(jf .port)" = "$DC_POP3S_PORT" ]
  [ "$(jf .tls)" = implicit ]
  [ "$(jf .user)" = alice ]
  # the version -v reported for the connection
  local v
  v=$(jf .tls_version)
  [[ $v == TLSv1.[23] ]]
  [[ $stderr == *"popfetch: t: $v TLS_"* ]]
  [ "$(jf .outcome)" = mail ]
  [ "$(jf .exit_status)" = "$st" ]
  [ "$(jf .check)" = false ]
  started_between "$t0" "$t1"
  jq -e --argjson span $((t1 - t0)) '.duration > 0 and .duration * 1000 <= $span' "$W/out.jsonl"
  # counts: the server's own (its log), the Maildir's, what is left on the server
  local rd
  rd=$(dovecot_retr_del_counts)
  [ "$rd" = "3 3" ]
  [ "$(jf .messages.on_server)" = 3 ]
  [ "$(jf .messages.new)" = 3 ]
  [ "$(jf .messages.fetched)" = "$(mailcheck count "$MD")" ]
  [ "$(jf .messages.fetched)" = 3 ]
  [ "$(jf .messages.deleted)" = 3 ]
  [ "$(dovecot_count alice)" -eq 0 ]
  [ "$(jf '.messages.kept + .messages.failed + .messages.skipped_size + .messages.waiting')" = 0 ]
  # bytes: what came, as the server stored it (LF line ends)
  [ "$(jf .bytes)" = "$(cat "$W/orig"/* | wc -c)" ]
  [ "$(jf .error)" = null ]
  [ "$(jf .server_reply)" = null ]
  [ "$(jf .retry.messages)" = 0 ]
  [ "$(jf .retry.deletions)" = 0 ]
  [ "$(jf .next_poll)" = null ]
}

@test "--json: keep, max_size and max_messages show as kept, skipped_size, waiting" {
  dovecot_start
  put_generated 3 5 small
  printf 'Subject: big\n\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" | dovecot_put alice
  printf 'Subject: late 1\n\nbody\n' | dovecot_put alice
  printf 'Subject: late 2\n\nbody\n' | dovecot_put alice
  pf_rc_dovecot implicit "keep on" "max_size 2k" "max_messages 3"
  pf_json
  [ "$status" -eq 13 ]
  one_object
  valid
  [ "$(jf .outcome)" = limit ]
  [ "$(jf .exit_status)" = 13 ]
  [ "$(jf .messages.on_server)" = 6 ]
  [ "$(dovecot_count alice)" -eq 6 ]
  [ "$(jf .messages.fetched)" = 3 ]
  [ "$(mailcheck count "$MD")" -eq 3 ]
  [ "$(jf .messages.kept)" = 3 ]
  [ "$(jf .messages.deleted)" = 0 ]
  [ "$(jf .messages.skipped_size)" = 1 ]
  [ "$(jf .messages.waiting)" = 2 ]
  [ "$(jf .messages.new)" = 5 ]
  [ "$(jf .retry.messages)" = 2 ]
  # the next run fetches the two that waited; the big one is still skipped
  pf_json
  [ "$status" -eq 0 ]
  valid
  [ "$(jf .messages.fetched)" = 2 ]
  [ "$(jf .messages.skipped_size)" = 1 ]
  [ "$(jf .messages.kept)" = 2 ]
  [ "$(mailcheck count "$MD")" -eq 5 ]
}

@test "--json: no mail, and --check counts" {
  dovecot_start
  pf_rc_dovecot implicit
  pf_json
  [ "$status" -eq 1 ]
  one_object
  valid
  [ "$(jf .outcome)" = no-mail ]
  [ "$(jf .exit_status)" = 1 ]
  [ "$(jf .messages.on_server)" = 0 ]
  [ "$(jf .messages.fetched)" = 0 ]
  printf 'Subject: c\n\nbody\n' | dovecot_put alice
  pf_json -c
  [ "$status" -eq 0 ]
  one_object
  valid
  [ "$(jf .check)" = true ]
  [ "$(jf .outcome)" = mail ]
  [ "$(jf .messages.new)" = 1 ]
  [ "$(jf .messages.fetched)" = 0 ]
  # --check's human line goes to stderr
  [[ $stderr == *"t: 1 new message (1 on the server)"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "--json: wrong password is auth (3) with the server's reply" {
  dovecot_start
  pf_rc_dovecot implicit
  sed -i 's/^password .*/password wrong/' "$RC"
  pf_json
  [ "$status" -eq 3 ]
  one_object
  valid
  [ "$(jf .outcome)" = auth ]
  [ "$(jf .exit_status)" = 3 ]
  [ "$(jf .server_reply)" = "-ERR [AUTH] Authentication failed." ]
  [[ $(jf .error.message) == *"Authentication failed"* ]]
  [[ $stderr == *"$(jf .error.message)"* ]]
  [ "$(jf .messages.on_server)" = null ]
  [ "$(jf .retry.messages)" = null ]
  [[ $(jf .tls_version) == TLSv1.* ]]
}

@test "--json: refused connection is connect (2)" {
  printf 'account t\nhost 127.0.0.1\nport 1\nuser u\npassword p\ndelivery maildir %s\n' "$MD" >"$RC"
  chmod 600 "$RC"
  pf_json
  [ "$status" -eq 2 ]
  one_object
  valid
  [ "$(jf .outcome)" = connect ]
  [ "$(jf .port)" = 1 ]
  [ "$(jf .tls_version)" = null ]
  [ "$(jf .server_reply)" = null ]
  [[ $(jf .error.message) == *"cannot connect"* ]]
}

@test "--json: an untrusted certificate is tls (2)" {
  dovecot_start
  pf_rc_dovecot implicit
  sed -i '/^tls_trust_file/d' "$RC"
  pf_json
  [ "$status" -eq 2 ]
  one_object
  valid
  [ "$(jf .outcome)" = tls ]
  [ "$(jf .exit_status)" = 2 ]
  [ "$(jf .tls_version)" = null ]
  [[ $(jf .error.message) == *certificate* ]]
  [[ $(jf .error.hint) == *tls_fingerprint* || $(jf .error.hint) == *tls_trust_file* ]]
}

@test "--json: a failing MDA is delivery (10); the messages stay on the server" {
  dovecot_start
  put_generated 2 3 mda
  pf_rc_dovecot implicit
  sed -i 's|^delivery .*|delivery mda /bin/false|' "$RC"
  pf_json
  [ "$status" -eq 10 ]
  one_object
  valid
  [ "$(jf .outcome)" = delivery ]
  [ "$(jf .messages.failed)" = 2 ]
  [ "$(jf .messages.fetched)" = 0 ]
  [ "$(jf .messages.deleted)" = 0 ]
  [ "$(jf .retry.messages)" = 2 ]
  [ "$(dovecot_count alice)" -eq 2 ]
}

@test "--json: a held lock is locked (8)" {
  dovecot_start
  pf_rc_dovecot implicit
  mkdir -p "$SD"
  chmod 700 "$SD"
  "$DC_PYTHON" - "$SD/alice@127.0.0.1:$DC_POP3S_PORT.lock" "$W/held" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(30)
PY
  HOLDER=$!
  local i
  for ((i = 0; i < 100; i++)); do if [[ -e $W/held ]]; then break; fi; sleep 0.05; done
  pf_json
  [ "$status" -eq 8 ]
  one_object
  valid
  [ "$(jf .outcome)" = locked ]
  [[ $(jf .error.message) == *"pid $HOLDER"* ]]
}

@test "--json with -j: one line per account, each with its own status; human lines on stderr" {
  dovecot_start
  put_generated 2 3 j
  {
    printf 'defaults\ntls_trust_file %s\npassword secret\nhost 127.0.0.1\nport %s\n\n' "$DC_CA" "$DC_POP3S_PORT"
    printf 'account a\nuser alice\ndelivery maildir %s\n\n' "$W/a"
    printf 'account b\nuser bob\npassword hunter2\ndelivery maildir %s\n\n' "$W/b"
    # another state than a's (a different port), so no lock is shared
    printf 'account bad\nport %s\ntls starttls\nuser alice\npassword nope\ndelivery maildir %s\n\n' \
      "$DC_POP3_PORT" "$W/c"
    printf 'account gone\nport 1\nuser alice\ndelivery maildir %s\n' "$W/d"
  } >"$RC"
  chmod 600 "$RC"
  pf_json -j 4 -v
  # the first failure in config order: bad (3)
  [ "$status" -eq 3 ]
  [ "$(wc -l <"$W/out.jsonl")" -eq 4 ]
  valid
  [ "$(jq -r 'select(.account == "a") | "\(.outcome) \(.exit_status) \(.messages.fetched)"' "$W/out.jsonl")" = "mail 0 2" ]
  [ "$(jq -r 'select(.account == "b") | "\(.outcome) \(.exit_status)"' "$W/out.jsonl")" = "no-mail 1" ]
  [ "$(jq -r 'select(.account == "bad") | "\(.outcome) \(.exit_status)"' "$W/out.jsonl")" = "auth 3" ]
  [ "$(jq -r 'select(.account == "gone") | "\(.outcome) \(.exit_status)"' "$W/out.jsonl")" = "connect 2" ]
  [ "$(mailcheck count "$W/a")" -eq 2 ]
  [[ $stderr == *"popfetch: a: 2 messages"* ]]
}

@test "--json goes with fetching only" {
  pf_rc_dovecot implicit
  run "$POPFETCH" --json --serverinfo -f "$RC"
  [ "$status" -eq 5 ]
  [[ $output == *"--json goes with fetching"* ]]
}

@test "--json: deletions the server never confirmed (no answer to QUIT) are to be retried" {
  fake_start "$BATS_TEST_DIRNAME/transcripts/h-quit-drop.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5" "pipelining off"
  pf_json
  [ "$status" -eq 0 ]
  one_object
  valid
  fake_stop
  [ "$(jf .messages.fetched)" = 2 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
  [ "$(jf .messages.deleted)" = 0 ]
  [ "$(jf .retry.deletions)" = 2 ]
  [ "$(jf .retry.messages)" = 0 ]
}

@test "--json: a server's -ERR with 8-bit and control bytes is escaped, the line stays JSON" {
  cat >"$W/t.txt" <<'T'
S: +OK fake POP3 ready
C: CAPA
S: +OK
S: USER
S: .
C: USER alice
S: +OK
C: PASS secret
SX: -ERR [AUTH] bad \xff\x01 "quote" \\ end\r\n
T
  fake_start "$W/t.txt" --implicit-tls
  pf_rc_fake implicit "timeout 5"
  pf_json
  [ "$status" -eq 3 ]
  one_object
  valid
  fake_stop || true
  [ "$(jf .server_reply)" = '-ERR [AUTH] bad \xff\x01 "quote" \x5c end' ]
}
