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
