#!/usr/bin/env bats
# Migration without a re-download: the real fetchmail, mpop and getmail
# (Debian packages) fetch in keep mode from the private Dovecot; popfetch
# imports their seen-UIDL files and then fetches only what is new.

load lib/common

setup() {
  pf_setup
  for tool in fetchmail mpop getmail; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed: make deps"; false; }
  done
  dovecot_start
  mkdir -p "$W/orig" "$W/home"
  local i
  for ((i = 1; i <= 3; i++)); do
    printf 'Subject: old %d\n\nalready fetched by the old tool\n' "$i" >"$W/orig/$i"
    dovecot_put alice "$W/orig/$i"
  done
  pf_rc_dovecot implicit "keep on"
}

teardown() { pf_teardown; }

# after_import: popfetch must fetch nothing old, then exactly the new one.
after_import() {
  local before after
  before=$(dovecot_retr_del_counts)
  pf_run
  [ "$status" -eq 1 ] || { echo "popfetch fetched old mail: $status $output"; return 1; }
  after=$(dovecot_retr_del_counts)
  [ "$before" = "$after" ] || { echo "server counted RETRs: $before -> $after"; return 1; }
  printf 'Subject: new\n\narrived after the switch\n' >"$W/new"
  dovecot_put alice "$W/new"
  pf_run
  [ "$status" -eq 0 ] || return 1
  mailcheck same "$MD" "$W/new"
}

@test "fetchmail's .fetchids" {
  cat >"$W/home/.fetchmailrc" <<RC
set no syslog
poll localhost proto pop3 port $DC_POP3S_PORT uidl
  user alice password secret is root here
  ssl sslcertck sslcertfile $DC_CA
  keep
  mda "cat >/dev/null"
RC
  chmod 600 "$W/home/.fetchmailrc"
  HOME=$W/home run fetchmail -f "$W/home/.fetchmailrc" -i "$W/home/.fetchids"
  [ "$status" -eq 0 ]
  [ "$(wc -l <"$W/home/.fetchids")" -eq 3 ]
  # FORMAT:~/FILE: no shell expands a ~ after the colon, popfetch does
  HOME=$W/home run "$POPFETCH" -f "$RC" --state-dir "$SD" --import-seen "fetchmail:~/.fetchids" t
  [ "$status" -eq 0 ]
  [[ $output == *"marked 3 UIDLs"* ]]
  after_import
}

@test "mpop's UIDL file" {
  cat >"$W/home/mpoprc" <<RC
account default
host 127.0.0.1
port $DC_POP3S_PORT
tls on
tls_starttls off
tls_trust_file $DC_CA
user alice
password secret
keep on
delivery mda "cat >/dev/null"
uidls_file $W/home/mpop_uidls
RC
  chmod 600 "$W/home/mpoprc"
  HOME=$W/home run mpop -q -C "$W/home/mpoprc"
  [ "$status" -eq 0 ]
  pf_run --import-seen "mpop:$W/home/mpop_uidls" t
  [ "$status" -eq 0 ]
  [[ $output == *"marked 3 UIDLs"* ]]
  after_import
}

@test "getmail's oldmail file" {
  mkdir -p "$W/home/gm"
  cat >"$W/home/gm/getmailrc" <<RC
[retriever]
type = SimplePOP3SSLRetriever
server = 127.0.0.1
port = $DC_POP3S_PORT
username = alice
password = secret
ca_certs = $DC_CA
[destination]
type = MDA_external
path = /bin/sh
arguments = ("-c", "cat >/dev/null")
allow_root_commands = true
[options]
delete = false
read_all = false
verbose = 0
RC
  HOME=$W/home run getmail --getmaildir "$W/home/gm" --rcfile getmailrc
  [ "$status" -eq 0 ]
  local old
  old=$(ls "$W/home/gm"/oldmail-*)
  pf_run --import-seen "getmail:$old" t
  [ "$status" -eq 0 ]
  [[ $output == *"marked 3 UIDLs"* ]]
  after_import
}

@test "an import file with nothing for the account is an error" {
  printf 'bob@localhost 0001\nbob@localhost 0002\n' >"$W/ids"
  pf_run --import-seen "fetchmail:$W/ids" t
  [ "$status" -eq 5 ]
  [[ $output == *"no UIDLs for alice@127.0.0.1"* ]]
  pf_run --import-seen "pop:$W/ids" t
  [ "$status" -eq 5 ]
  [[ $output == *"fetchmail, mpop or getmail"* ]]
}
