#!/usr/bin/env bats
# Files popfetch takes commands or secrets from (the config, ~/.netrc, the
# files passwordeval's command names) must belong to the user or root and
# be writable by the user alone, as ssh requires: anything else is refused
# with exit 6, a message naming the file and the chmod/chown that fixes it,
# before any command runs. (Tests that change a file's owner run as root.)

load lib/common

setup() {
  pf_setup
  mkdir -p "$W/home"
}
teardown() { pf_teardown; }

# rc_eval COMMAND: an account whose password comes from COMMAND, on a port
# where nothing listens (a run that gets past its password exits 2).
rc_eval() {
  {
    printf 'account a\nhost 127.0.0.1\nport 1\nuser u\n'
    printf 'passwordeval "%s"\ndelivery maildir %s\n' "$1" "$MD"
  } >"$RC"
  chmod 600 "$RC"
}

# a script that leaves a mark when it runs and prints a password
make_pw_script() {
  mkdir -p "$(dirname "$1")"
  printf '#!/bin/sh\ntouch %s/ran\necho pw\n' "$W" >"$1"
  chmod 700 "$1"
}

@test "a config writable by group or others is refused (exit 6) and its passwordeval never runs" {
  rc_eval "touch $W/ran; echo pw"
  pf_run -t 2
  [ "$status" -eq 2 ]   # control: a private config runs it and gets as far as connecting
  [ -e "$W/ran" ]
  rm "$W/ran"
  for mode in 602 620 666; do
    chmod "$mode" "$RC"
    pf_run -t 2
    [ "$status" -eq 6 ] || { echo "mode $mode: status $status"; false; }
    [ ! -e "$W/ran" ] || { echo "mode $mode: passwordeval ran"; false; }
    [[ $output == *"config file $RC is writable by"*"run \`chmod go-w $RC\`"* ]]
  done
}

@test "a config that belongs to another user is refused (exit 6) with the chown to run" {
  [[ $EUID -eq 0 ]] || skip "needs root to give the file to another user"
  rc_eval "touch $W/ran; echo pw"
  chown nobody "$RC"
  pf_run -t 2
  [ "$status" -eq 6 ]
  [ ! -e "$W/ran" ]
  [[ $output == *"config file $RC belongs to nobody, not to root who runs popfetch"* ]]
  [[ $output == *"run \`chown root $RC\` (as root)"* ]]
  chown root "$RC"
  pf_run -t 2
  [ "$status" -eq 2 ]
}

@test "a file named by passwordeval that others can write is refused before it runs (exit 6)" {
  make_pw_script "$W/bin/pw.sh"
  make_pw_script "$W/home/bin/getpw"
  for cmd in "sh $W/bin/pw.sh" "$W/bin/pw.sh" "cat /dev/null | sh '$W/bin/pw.sh'"; do
    rc_eval "$cmd"
    chmod 700 "$W/bin/pw.sh"
    pf_run -t 2
    [ "$status" -eq 2 ] || { echo "$cmd (private): status $status"; false; }
    rm "$W/ran"
    chmod 757 "$W/bin/pw.sh"
    pf_run -t 2
    [ "$status" -eq 6 ] || { echo "$cmd: status $status"; false; }
    [ ! -e "$W/ran" ] || { echo "$cmd: it ran"; false; }
    [[ $output == *"passwordeval file $W/bin/pw.sh is writable by others"* ]]
    [[ $output == *"run \`chmod go-w $W/bin/pw.sh\`"* ]]
  done
  # ~/ is the user's home, as the shell would read it
  rc_eval "sh ~/bin/getpw"
  chmod 770 "$W/home/bin/getpw"
  HOME=$W/home pf_run -t 2
  [ "$status" -eq 6 ]
  [ ! -e "$W/ran" ]
  [[ $output == *"passwordeval file $W/home/bin/getpw is writable by its group"* ]]
}

@test "a file named by passwordeval that belongs to another user is refused (exit 6)" {
  [[ $EUID -eq 0 ]] || skip "needs root to give the file to another user"
  make_pw_script "$W/bin/pw.sh"
  rc_eval "sh $W/bin/pw.sh"
  chown nobody "$W/bin/pw.sh"
  pf_run -t 2
  [ "$status" -eq 6 ]
  [ ! -e "$W/ran" ]
  [[ $output == *"passwordeval file $W/bin/pw.sh belongs to nobody"*"chown root $W/bin/pw.sh"* ]]
}

# netrc_rc: an account with no password, for ~/.netrc to supply it
netrc_rc() {
  printf 'account a\nhost 127.0.0.1\nport 1\nuser alice\ndelivery maildir %s\n' "$MD" >"$RC"
  chmod 600 "$RC"
  printf 'machine 127.0.0.1 login alice password secret\n' >"$W/home/.netrc"
}

@test "a ~/.netrc that group or others can write is refused (exit 6)" {
  netrc_rc
  chmod 600 "$W/home/.netrc"
  HOME=$W/home pf_run -t 2 </dev/null
  [ "$status" -eq 2 ]   # control: the password came from it, the connection failed
  chmod 620 "$W/home/.netrc"   # group may write, not read
  HOME=$W/home pf_run -t 2 </dev/null
  [ "$status" -eq 6 ]
  [[ $output == *"$W/home/.netrc is writable by its group"*"run \`chmod go-w $W/home/.netrc\`"* ]]
  [[ $output != *secret* ]]
}

@test "a ~/.netrc that belongs to another user is refused (exit 6)" {
  [[ $EUID -eq 0 ]] || skip "needs root to give the file to another user"
  netrc_rc
  chmod 600 "$W/home/.netrc"
  chown nobody "$W/home/.netrc"
  HOME=$W/home pf_run -t 2 </dev/null
  [ "$status" -eq 6 ]
  [[ $output == *"$W/home/.netrc belongs to nobody"*"chown root $W/home/.netrc"* ]]
}

# ---- the state directory and the files popfetch writes -------------------

# rc_nowhere: an account with a password, on a port where nothing listens
rc_nowhere() {
  printf 'account a\nhost 127.0.0.1\nport 1\nuser u\npassword pw\ndelivery maildir %s\n' "$MD" >"$RC"
  chmod 600 "$RC"
}

@test "a state directory that group or others can write is refused (exit 6); popfetch makes its own 0700" {
  rc_nowhere
  umask 000
  run "$POPFETCH" -f "$RC" --state-dir "$W/new/a/b" -t 2
  [ "$status" -eq 2 ]   # control: got as far as connecting
  [ "$(stat -c %a "$W/new") $(stat -c %a "$W/new/a") $(stat -c %a "$W/new/a/b")" = "700 700 700" ]
  # the control run's lock and status file (status_dir defaults to here)
  rm -f "$W/new/a/b"/*.lock "$W/new/a/b"/*.status
  for mode in 770 707 1777; do
    chmod "$mode" "$W/new/a/b"
    run "$POPFETCH" -f "$RC" --state-dir "$W/new/a/b" -t 2
    [ "$status" -eq 6 ] || { echo "mode $mode: status $status"; false; }
    [[ $output == *"state directory $W/new/a/b is writable by"*"run \`chmod go-w $W/new/a/b\`"* ]]
  done
  [ -z "$(ls -A "$W/new/a/b")" ]   # not even a lock or status file was made there
}

@test "a state directory that belongs to another user is refused (exit 6)" {
  [[ $EUID -eq 0 ]] || skip "needs root to give the directory to another user"
  rc_nowhere
  mkdir -m 700 "$SD"
  chown nobody "$SD"
  pf_run -t 2
  [ "$status" -eq 6 ]
  [[ $output == *"state directory $SD belongs to nobody"*"run \`chown root $SD\` (as root)"* ]]
}

# A victim file outside the state directory, which a link planted at one of
# popfetch's names points at; it is an mbox, so that nothing refuses it for
# its contents. victim_intact: byte for byte as it was.
make_victim() {
  printf 'From someone@example.org Thu Jan  1 00:00:00 2026\nSubject: precious\n\nkeep me\n' >"$W/victim"
  cp "$W/victim" "$W/victim.orig"
}
victim_intact() { cmp "$W/victim" "$W/victim.orig"; }

# plant SUFFIX: a link at the account's state file name + SUFFIX
plant() {
  mkdir -p -m 700 "$SD"
  ln -s "$W/victim" "$SD/alice@127.0.0.1$1"
}

links_setup() {
  dovecot_start
  printf 'Subject: s\n\nthe server chose this text\n' | dovecot_put alice
  pf_rc_dovecot implicit
  make_victim
}

@test "a link planted at the lock file: refused (exit 6), nothing fetched, the victim untouched" {
  links_setup
  plant .lock
  pf_run
  victim_intact
  [ "$status" -eq 6 ]
  [[ $output == *"lock file $SD/alice@127.0.0.1.lock is a symbolic link"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
  [ "$(mailcheck count "$MD" 2>/dev/null || echo 0)" -eq 0 ]
}

# linked_run SUFFIX: plant a link at SUFFIX, run: refused (exit 6) with a
# message naming it, the victim untouched, nothing deleted; without the
# link, a normal run.
linked_run() {
  links_setup
  plant "$1"
  pf_run
  victim_intact
  [ "$status" -eq 6 ]
  [[ $output == *"$SD/alice@127.0.0.1$1 is a symbolic link"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
  rm "$SD/alice@127.0.0.1$1"
  pf_run
  [ "$status" -eq 0 ]
  victim_intact
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "a link planted at the state file: refused (exit 6), the victim untouched" {
  linked_run .state
}

@test "a link planted at the journal: refused (exit 6), the victim untouched" {
  linked_run .journal
}

@test "a link planted at the state's temporary file is removed, never written through" {
  links_setup
  plant .state.tmp
  pf_run
  victim_intact
  [ "$status" -eq 0 ]
  local st=$SD/alice@127.0.0.1.state
  [ -f "$st" ] && [ ! -L "$st" ] || false
  [ "$(head -n 1 "$st")" = "popfetch-state 2" ]
  [ "$(wc -l <"$st")" -eq 3 ]
  [ ! -e "$st.tmp" ] && [ ! -L "$st.tmp" ] || false
}

@test "--logfile that is a symbolic link: refused (exit 5), the victim untouched" {
  links_setup
  ln -s "$W/victim" "$W/log"
  pf_run -v --logfile "$W/log"
  victim_intact
  [ "$status" -eq 5 ]
  [[ $output == *"--logfile $W/log is a symbolic link"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "an mbox that is a symbolic link: refused (exit 10), the message stays on the server" {
  links_setup
  sed -i "s|^delivery .*|delivery mbox $W/mbox|" "$RC"
  ln -s "$W/victim" "$W/mbox"
  pf_run
  victim_intact
  [ "$status" -eq 10 ]
  [[ $output == *"mbox $W/mbox is a symbolic link"*"stays on the server"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
}

# ---- values from the server in the MDA's environment ----------------------

@test "POPFETCH_UIDL: a UIDL of shell syntax reaches the MDA percent-encoded, exactly as documented" {
  local uidl='-$(touch${IFS}pwned);'"'x'\"y\"\`id\`"'\/../%41*'
  grep -qxF "S: 1 $uidl" "$PF_TOP/tests/transcripts/mda-hostile-uidl.txt"   # the same UIDL
  # an MDA that records the value, then uses it as carelessly as it can
  cat >"$W/mda.sh" <<SCRIPT
cd "$W" || exit 1
cat >"$W/msg"
printf '%s\n' "\$POPFETCH_UIDL" >"$W/uidl"
eval "printf '%s\n' \$POPFETCH_UIDL" >"$W/evaluated"
exit 0
SCRIPT
  fake_start "$PF_TOP/tests/transcripts/mda-hostile-uidl.txt" --implicit-tls
  pf_rc_fake implicit "pipelining off" "delivery mda \"/bin/sh $W/mda.sh\""
  pf_run
  [ "$status" -eq 0 ]
  fake_stop
  [ ! -e "$W/pwned" ]
  [ "$(cat "$W/uidl")" = '%2D%24%28touch%24%7BIFS%7Dpwned%29%3B%27x%27%22y%22%60id%60%5C%2F..%2F%2541%2A' ]
  [ "$(cat "$W/evaluated")" = "$(cat "$W/uidl")" ]
  # reversible: each %XX is one byte of the server's UIDL
  [ "$("$DC_PYTHON" -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "$(cat "$W/uidl")")" = "$uidl" ]
  grep -qx 'body' "$W/msg"
}
