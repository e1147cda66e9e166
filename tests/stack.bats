#!/usr/bin/env bats
# contrib/stack's worked example, run for real: the daemon started with
# popfetch-stack.service's own ExecStart= and Environment= lines, a
# config.d laid out as contrib/stack/README.md says (a shared defaults file
# with `delivery lmtp`, one file per user), the "external" POP3 accounts
# and the users' mailboxes on one private Dovecot (POP3S and LMTP), the
# --json log checked against the shipped schema, the mail read back from
# the users' mailboxes, the health check, the metrics file, and a reload
# after the stack rewrote a user's file.

load lib/common

bats_require_minimum_version 1.5.0

SERVICE=$BATS_TEST_DIRNAME/../contrib/stack/popfetch-stack.service
HEALTH=$BATS_TEST_DIRNAME/../contrib/stack/popfetch-healthcheck
SCHEMA=$BATS_TEST_DIRNAME/../contrib/popfetch-result.schema.json

setup() { pf_setup; }
teardown() {
  if [[ -n ${DPID:-} ]]; then kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
  pf_teardown
}

# wait_lines N: up to 30 s for the --json log to hold N objects
wait_lines() {
  local i
  for ((i = 0; i < 300; i++)); do
    if [ "$(wc -l <"$W/results.jsonl")" -ge "$1" ]; then return 0; fi
    sleep 0.1
  done
  return 1
}

# obj N FILTER: jq FILTER on the log's object number N
obj() { sed -n "$1p" "$W/results.jsonl" | jq -r "$2"; }

# health: contrib/stack/popfetch-healthcheck as the README runs it (no
# systemd here: POPFETCH_UNIT empty), with the service's state directory
health() {
  POPFETCH_CONFIG=$W/config.d POPFETCH_UNIT='' POPFETCH=$POPFETCH XDG_STATE_HOME=$W/lib \
    run "$HEALTH"
}

# write_conf NAME: stdin becomes config.d/NAME.conf, atomically (README)
write_conf() {
  cat >"$W/config.d/.$1.tmp"
  chmod 600 "$W/config.d/.$1.tmp"
  mv "$W/config.d/.$1.tmp" "$W/config.d/$1.conf"
}

@test "contrib/stack: the service's daemon delivers into Dovecot's LMTP; JSON, health, metrics, reload" {
  _DC_USERS+=(ext1 ext2)
  _DC_PASSWORDS[ext1]=pw-ext1
  _DC_PASSWORDS[ext2]=pw-ext2
  DC_LMTP=1 dovecot_start
  mkdir -p "$W/o1" "$W/o2"
  local k
  for k in 1 2 3; do printf 'From: x@example.org\nSubject: for alice %s\n\nbody %s\n' "$k" "$k" >"$W/o1/$k"; done
  for k in 1 2; do printf 'From: y@example.org\nSubject: for bob %s\n\nbody %s\n' "$k" "$k" >"$W/o2/$k"; done
  dovecot_put_dir ext1 "$W/o1"
  dovecot_put_dir ext2 "$W/o2"
  mkdir -m 700 "$W/config.d"
  write_conf 00-defaults <<EOF2
defaults
host 127.0.0.1
port $DC_POP3S_PORT
tls_trust_file $DC_CA
delivery lmtp $DC_LMTP_SOCKET
EOF2
  write_conf alice <<EOF2
# written by the stack; do not edit
account alice-ext
user ext1
password pw-ext1
recipient alice
keep off
EOF2
  write_conf bob <<EOF2
account bob-ext
user ext2
password pw-ext2
recipient bob
keep off
EOF2
  # the service's command and environment, with this test's paths
  local line env
  line=$(sed -n 's/^ExecStart=//p' "$SERVICE")
  env=$(sed -n 's/^Environment=//p' "$SERVICE")
  [[ $line == "popfetch -f /etc/popfetch/config.d -d 60 -j 8 --json --metrics "* ]]
  [ "$env" = XDG_STATE_HOME=/var/lib ]
  line=${line//\/etc\/popfetch\/config.d/$W/config.d}
  line=${line//\/var\/lib\/prometheus\/node-exporter/$W}
  local -a argv
  read -ra argv <<<"$line"
  argv[0]=$POPFETCH
  env "${env//\/var\/lib/$W/lib}" "${argv[@]}" >"$W/results.jsonl" 2>"$W/journal" &
  DPID=$!
  wait_lines 2
  "$DC_PYTHON" "$PF_TOP/tests/lib/jsonvalid.py" "$SCHEMA" "$W/results.jsonl"
  [ "$(jq -r 'select(.account == "alice-ext") | "\(.outcome) \(.messages.fetched) \(.messages.deleted)"' "$W/results.jsonl")" = "mail 3 3" ]
  [ "$(jq -r 'select(.account == "bob-ext") | "\(.outcome) \(.messages.fetched) \(.messages.deleted)"' "$W/results.jsonl")" = "mail 2 2" ]
  # Dovecot delivered them (its LMTP log), into the users' mailboxes, each once
  mailcheck forwarded "$(dovecot_maildir alice)" "$W"/o1/*
  mailcheck forwarded "$(dovecot_maildir bob)" "$W"/o2/*
  # a connection per message up to smtp_connections (4 for LMTP): 3 + 2
  [ "$(grep -c 'lmtp([0-9]*): Info: Connect from local' "$DC_LOG")" -eq 5 ]
  [ "$(dovecot_count ext1)" -eq 0 ]
  [ "$(dovecot_count ext2)" -eq 0 ]
  # the state is where the service's StateDirectory= puts it
  [ -f "$W/lib/popfetch/alice-ext.status" ]
  health
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ $(grep '^alice-ext ' <<<"$output" | tr -s ' ') == "alice-ext "*" mail "* ]]
  # the metrics are rewritten at most once a second: the last poll's
  # values may come up to a second after its object
  local i
  for ((i = 0; i < 30; i++)); do
    "$DC_PYTHON" "$PF_TOP/tests/lib/promcheck.py" "$W/popfetch.prom" >"$W/samples" || true
    if grep -qx 'popfetch_messages_fetched_total account=bob-ext 2.0' "$W/samples" &&
      grep -qx 'popfetch_messages_fetched_total account=alice-ext 3.0' "$W/samples"; then
      break
    fi
    sleep 0.1
  done
  grep -qx 'popfetch_messages_fetched_total account=alice-ext 3.0' "$W/samples" || { cat "$W/samples"; false; }
  grep -qx 'popfetch_messages_fetched_total account=bob-ext 2.0' "$W/samples"

  # the stack rewrites bob's file with a recipient Dovecot does not know,
  # then reloads: the changed account is polled at once, Dovecot refuses
  # the message, it stays on the server, and the health check says so
  printf 'From: y@example.org\nSubject: for bob 3\n\nbody 3\n' | dovecot_put ext2
  sed 's/^recipient bob$/recipient nosuchuser/' "$W/config.d/bob.conf" | write_conf bob
  kill -HUP "$DPID"
  wait_lines 3
  grep -q 'SIGHUP: re-read .*: 2 accounts (1 unchanged, 1 changed, 0 new, 0 removed)' \
    "$W/journal" || { cat "$W/journal"; false; }
  [ "$(obj 3 .account)" = bob-ext ]
  [ "$(obj 3 .outcome)" = delivery ]
  [ "$(obj 3 .exit_status)" -eq 10 ]
  [ "$(obj 3 .messages.failed)" -eq 1 ]
  [ "$(dovecot_count ext2)" -eq 1 ]
  [ "$(mailcheck count "$(dovecot_maildir bob)")" -eq 2 ]
  health
  [ "$status" -eq 10 ]
  [[ $(grep '^bob-ext ' <<<"$output" | tr -s ' ') == "bob-ext "*" delivery "*" 1 "* ]]

  kill -TERM "$DPID"
  local rc=0
  wait "$DPID" || rc=$?
  DPID=
  [ "$rc" -eq 0 ]
}
