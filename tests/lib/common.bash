# shellcheck shell=bash
#
# tests/lib/common.bash — helpers shared by popfetch's bats files: a private
# work directory per test, config files, running the built binary, the
# scripted fake server, and the independent Maildir reader.
#
#   load lib/common
#   setup()    { pf_setup; }
#   teardown() { pf_teardown; }
#
# pf_setup makes $W (work dir), $RC (config path), $MD (client Maildir) and
# $SD (state dir). pf_run runs ./popfetch with them (bats `run`).

load lib/dovecot
load lib/idp

declare -g PF_TOP
PF_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
declare -g POPFETCH=${POPFETCH:-$PF_TOP/popfetch}

pf_setup() {
  W=$BATS_TEST_TMPDIR
  RC=$W/popfetchrc
  MD=$W/Maildir
  SD=$W/state
  export W RC MD SD
  FAKE_PID=
  PROXY_PID=
}

pf_teardown() {
  idp_stop
  proxy_stop
  fake_stop >/dev/null 2>&1 || true
  dovecot_stop
}

# pf_rc_dovecot [MODE] [extra config lines...]: an account "t" for alice on
# the private Dovecot. MODE is implicit (default) or starttls.
pf_rc_dovecot() {
  local mode=${1:-implicit} port
  shift || true
  port=$DC_POP3S_PORT
  [[ $mode == starttls ]] && port=$DC_POP3_PORT
  {
    printf 'account t\nhost 127.0.0.1\nport %s\nuser alice\npassword secret\n' "$port"
    printf 'tls %s\ntls_trust_file %s\ndelivery maildir %s\n' "$mode" "$DC_CA" "$MD"
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } >"$RC"
  chmod 600 "$RC"
}

# pf_run [args...]: run popfetch with the test's config and state dir.
pf_run() {
  run "$POPFETCH" -f "$RC" --state-dir "$SD" "$@"
}

# wire_order: the RETR/DELE/QUIT commands and the replies to them in a -vv
# trace on stdin, one word each (RETR DELE QUIT msg deleted bye; the
# replies as Dovecot words them, "+OK N octets" from any server).
wire_order() {
  grep -E '^popfetch: t: (> (RETR|DELE|QUIT)|< \+OK [0-9]+ octets|< \+OK Marked|< \+OK Logging out)' |
    sed -E 's/^popfetch: t: > (RETR|DELE|QUIT).*/\1/; s/^popfetch: t: < \+OK [0-9]+ octets.*/msg/;
            s/^popfetch: t: < \+OK Marked.*/deleted/; s/^popfetch: t: < \+OK Logging out.*/bye/' |
    tr '\n' ' '
}

# expect_wire ORDER: the last pf_run's trace ($output) has this wire order.
expect_wire() {
  local got
  got=$(echo "$output" | wire_order)
  [ "$got" = "$1 " ] || { echo "wire order: $got"; return 1; }
}

# put_generated N LINES TAG: N messages for alice, each with LINES body
# lines naming it ("TAG line 7"), also kept in $W/orig/1..N.
put_generated() {
  mkdir -p "$W/orig"
  "$DC_PYTHON" - "$W/orig" "$1" "$2" "$3" <<'PY'
import os, sys
d, n, lines, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for i in range(1, n + 1):
    with open(os.path.join(d, str(i)), "w") as f:
        f.write("Subject: %s %d\n\n%s\n" % (tag, i, ("%s line %d\n" % (tag, i)) * lines))
PY
  dovecot_put_dir alice "$W/orig"
}

# on_pty [--expect TEXT --send KEYS]... -- COMMAND...: run on a real terminal
# (tests/lib/onpty.py); what it showed in $W/pty.log, the terminal's echo
# flag in $W/pty.state.
on_pty() {
  "$DC_PYTHON" "$PF_TOP/tests/lib/onpty.py" --log "$W/pty.log" --state "$W/pty.state" \
    --timeout 15 "$@"
}

# mailcheck ARGS: the independent reader (Python's mailbox module).
mailcheck() {
  "$DC_PYTHON" "$PF_TOP/tests/lib/mailcheck.py" "$@"
}

# fake_start TRANSCRIPT [fakepop3 options...]: start the scripted server
# with the test certificates (or $FAKE_CERT/$FAKE_KEY); sets FAKE_PORT,
# FAKE_PID, FAKE_LOG, FAKE_CA.
fake_start() {
  local transcript=$1
  shift
  if [[ ! -f $W/certs/server.pem ]]; then
    mkdir -p "$W/certs"
    dovecot_make_certs "$W/certs" || return 1
  fi
  FAKE_LOG=$W/fake.log
  FAKE_CA=$W/certs/ca.pem
  rm -f "$W/fake.port"
  "$DC_PYTHON" "$PF_TOP/tests/lib/fakepop3.py" --transcript "$transcript" \
    --port-file "$W/fake.port" --log "$FAKE_LOG" \
    --tls-cert "${FAKE_CERT:-$W/certs/server.pem}" --tls-key "${FAKE_KEY:-$W/certs/server.key}" \
    --timeout "${FAKE_TIMEOUT:-20}" "$@" 3>&- &
  FAKE_PID=$!
  local i
  for ((i = 0; i < 250; i++)); do
    [[ -s $W/fake.port ]] && break
    sleep 0.02
  done
  FAKE_PORT=$(<"$W/fake.port")
  export FAKE_PORT FAKE_PID FAKE_LOG FAKE_CA
}

# fake_stop: wait for the fake server to finish; returns its exit status
# (0 = the client followed the transcript). Kills it after 10 s.
fake_stop() {
  [[ -n ${FAKE_PID:-} ]] || return 0
  local i rc
  for ((i = 0; i < 500; i++)); do
    kill -0 "$FAKE_PID" 2>/dev/null || break
    sleep 0.02
  done
  kill "$FAKE_PID" 2>/dev/null || true
  wait "$FAKE_PID"
  rc=$?
  FAKE_PID=
  return "$rc"
}

# pf_rc_fake [MODE] [extra lines...]: account "t" pointing at the fake server.
pf_rc_fake() {
  local mode=${1:-implicit}
  shift || true
  {
    printf 'account t\nhost 127.0.0.1\nport %s\nuser alice\npassword secret\n' "$FAKE_PORT"
    printf 'tls %s\ntls_trust_file %s\ndelivery maildir %s\n' "$mode" "$FAKE_CA" "$MD"
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } >"$RC"
  chmod 600 "$RC"
}

# pf_rc_port: point the test's config at the fake server started last.
pf_rc_port() { sed -i "s/^port .*/port $FAKE_PORT/" "$RC"; }

# proxy_start TARGET_PORT DELAY_MS [BYTES_PER_SECOND]: a latency-adding (and
# optionally rate-limiting) proxy in front of
# 127.0.0.1:TARGET_PORT; sets PROXY_PORT and PROXY_PID.
proxy_start() {
  rm -f "$W/proxy.port"
  "$DC_PYTHON" "$PF_TOP/tests/lib/slowproxy.py" --target "127.0.0.1:$1" \
    --port-file "$W/proxy.port" --delay-ms "$2" ${3:+--rate "$3"} 3>&- &
  PROXY_PID=$!
  local i
  for ((i = 0; i < 250; i++)); do
    [[ -s $W/proxy.port ]] && break
    sleep 0.02
  done
  PROXY_PORT=$(<"$W/proxy.port")
  export PROXY_PORT PROXY_PID
}

proxy_stop() {
  [[ -n ${PROXY_PID:-} ]] || return 0
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=
}

# bad_cert KIND: make $W/certs/KIND.pem and .key for the fake server, where
# KIND is expired, future, wronghost (valid, but for mail.example.org) or
# selfsigned. All but selfsigned are signed by the fake's CA ($FAKE_CA).
bad_cert() {
  local kind=$1 d=$W/certs start end san="IP:127.0.0.1" cn=127.0.0.1
  mkdir -p "$d"
  [[ -f $d/ca.pem ]] || dovecot_make_certs "$d"
  case $kind in
    selfsigned)
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/$kind.key" -out "$d/$kind.pem" -days 30 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
      return ;;
    expired) start=20200101000000Z end=20200201000000Z ;;
    future) start=20990101000000Z end=20991231000000Z ;;
    wronghost) start=$(date -u -d yesterday +%Y%m%d000000Z) end=20991231000000Z
      san="DNS:mail.example.org,DNS:pop.example.org" cn=mail.example.org ;;
  esac
  mkdir -p "$d/ca-$kind"
  : >"$d/ca-$kind/index"
  echo 1000 >"$d/ca-$kind/serial"
  cat >"$d/ca-$kind/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $d/ca-$kind/index
serial = $d/ca-$kind/serial
new_certs_dir = $d/ca-$kind
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/$kind.key" -out "$d/$kind.csr" -subj "/CN=$cn" \
    -addext "subjectAltName=$san" 2>/dev/null
  openssl ca -batch -config "$d/ca-$kind/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
    -startdate "$start" -enddate "$end" -in "$d/$kind.csr" -out "$d/$kind.pem" \
    -notext 2>/dev/null
}
