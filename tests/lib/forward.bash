# shellcheck shell=bash
#
# tests/lib/forward.bash — helpers for the LMTP/SMTP delivery tests: sample
# messages, an account forwarding to the private Dovecot's LMTP, and the
# scripted LMTP/SMTP server (tests/lib/fakesmtp.py).
#
#   load lib/common
#   load lib/forward
#
#   fw_samples DIR        awkward messages into DIR/1..N (dots, 8-bit, no
#                         final newline, UTF-8 header, long line, >From)
#   fw_rc_lmtp TARGET [lines...]  account t (alice on Dovecot) → delivery lmtp
#   smtp_fake_start [--lmtp] [--unix PATH] [--addr ADDR] SCRIPT  start fakesmtp.py; sets
#                         SMTP_DIR (its log, msg.N, env.N), SMTP_PORT, SMTP_PID
#   smtp_fake_stop        stop it by pid (idempotent)

fw_samples() {
  local d=$1
  mkdir -p "$d"
  printf 'Return-Path: <s1@example.org>\nFrom: s1@example.org\nSubject: dots\n\n.leading dot\n..two dots\n.\nend\n' >"$d/1"
  printf 'From: =?utf-8?q?J=C3=B6rg?= <s2@example.org>\nSubject: 8-bit body\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\xc3\xa9t\xc3\xa9 \xe2\x82\xac\n' >"$d/2"
  printf 'Return-Path: <s3@example.org>\nSubject: no final newline\n\nlast line without newline' >"$d/3"
  printf 'Return-Path: <s4@example.org>\nFrom: J\xc3\xb6rg <s4@example.org>\nSubject: \xc3\xbcnicode header (SMTPUTF8 message)\n\nbody\nFrom here\n>From there\n' >"$d/4"
  { printf 'Return-Path: <s5@example.org>\nSubject: a long line\n\n'; head -c 1500 /dev/zero | tr '\0' x; printf '\n'; } >"$d/5"
}

fw_rc_lmtp() {
  local target=$1
  shift
  pf_rc_dovecot implicit "$@"
  sed -i "s|^delivery .*|delivery lmtp $target|" "$RC"
}

smtp_fake_start() {
  local -a opts=()
  while [[ $1 == --* ]]; do
    if [[ $1 == --unix || $1 == --addr ]]; then opts+=("$1" "$2"); shift 2; else opts+=("$1"); shift; fi
  done
  SMTP_DIR=$W/smtp
  mkdir -p "$SMTP_DIR"
  rm -f "$SMTP_DIR/port"
  "$DC_PYTHON" "$PF_TOP/tests/lib/fakesmtp.py" "${opts[@]}" --dir "$SMTP_DIR" \
    --port-file "$SMTP_DIR/port" --script "$1" 3>&- &
  SMTP_PID=$!
  local i
  for ((i = 0; i < 250; i++)); do
    [[ -s $SMTP_DIR/port ]] && break
    sleep 0.02
  done
  SMTP_PORT=$(<"$SMTP_DIR/port")
  export SMTP_DIR SMTP_PORT SMTP_PID
}

smtp_fake_stop() {
  [[ -n ${SMTP_PID:-} ]] || return 0
  kill "$SMTP_PID" 2>/dev/null || true
  wait "$SMTP_PID" 2>/dev/null || true
  SMTP_PID=
}
