#!/usr/bin/env bats
# Config file handling seen from the command line: syntax errors name
# file:line (exit 5), a readable config with a password is refused (exit 6),
# the default path, and the command line's own errors.

load lib/common

setup() { pf_setup; }
teardown() { pf_teardown; }

@test "unknown key: exit 5 with file:line and the key" {
  printf 'account a\nhost h\nuser u\nhots x\ndelivery maildir %s\n' "$MD" >"$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"$RC:4: unknown key \`hots\`"* ]]
}

@test "bad value: exit 5 names the choices" {
  printf 'account a\nhost h\nuser u\ntls sometimes\ndelivery maildir %s\n' "$MD" >"$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"$RC:4:"*"implicit | starttls | off"* ]]
}

@test "missing host, user or delivery: exit 5 naming the account's line" {
  printf '# x\naccount a\nuser u\ndelivery maildir %s\n' "$MD" >"$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"$RC:2: account a has no \`host\`"* ]]
  printf 'account a\nhost h\nuser u\n' >"$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"no \`delivery\`"* ]]
}

@test "a password in a config others can read: exit 6 and a chmod hint" {
  printf 'account a\nhost h\nuser u\npassword s3cret\ndelivery maildir %s\n' "$MD" >"$RC"
  chmod 644 "$RC"
  pf_run
  [ "$status" -eq 6 ]
  [[ $output == *"chmod 600"* ]]
  [[ $output != *s3cret* ]]
  chmod 640 "$RC"
  pf_run
  [ "$status" -eq 6 ]
}

@test "a readable config without a password is fine" {
  printf 'account a\nhost 127.0.0.1\nport 1\nuser u\npasswordeval "echo x"\ndelivery maildir %s\n' \
    "$MD" >"$RC"
  chmod 644 "$RC"
  pf_run -t 2
  [ "$status" -eq 2 ]                   # connection refused, not a config error
}

@test "missing config file: exit 5 with a hint" {
  run "$POPFETCH" -f "$W/nope"
  [ "$status" -eq 5 ]
  [[ $output == *"cannot read config $W/nope"* ]]
}

@test "default config path: \$XDG_CONFIG_HOME/popfetch/config, then ~/.popfetchrc" {
  mkdir -p "$W/home" "$W/xdg/popfetch"
  printf 'account fromhome\nhost h\nuser u\ndelivery maildir %s\nbogus 1\n' "$MD" >"$W/home/.popfetchrc"
  HOME=$W/home XDG_CONFIG_HOME=$W/xdg run "$POPFETCH"
  [ "$status" -eq 5 ]
  [[ $output == *".popfetchrc:5: unknown key"* ]]
  printf 'account fromxdg\nhost h\nuser u\ndelivery maildir %s\nbogus 1\n' "$MD" >"$W/xdg/popfetch/config"
  HOME=$W/home XDG_CONFIG_HOME=$W/xdg run "$POPFETCH"
  [ "$status" -eq 5 ]
  [[ $output == *"popfetch/config:5: unknown key"* ]]
}

# No HOME and no home in the password database (a uid nobody knows): what
# needs a home is refused, exit 5, naming HOME; nothing lands in "/", "" or
# the current directory, which the old fallbacks used.
@test "no home directory at all: exit 5 naming HOME, nothing written where popfetch stands" {
  [[ $EUID -eq 0 ]] || skip "needs root to run as a user the password database does not know"
  command -v setpriv >/dev/null || skip "setpriv is not installed"
  local uid=59999
  if getent passwd "$uid" >/dev/null; then skip "user id $uid exists here"; fi
  mkdir -m 777 "$W/cwd"
  nohome() {
    (cd "$W/cwd" && env -u HOME -u XDG_CONFIG_HOME -u XDG_STATE_HOME \
      setpriv --reuid="$uid" --regid="$uid" --clear-groups "$POPFETCH" "$@")
  }
  # the state directory: a run without --state-dir or state_dir
  run nohome --host 127.0.0.1 --user u --maildir "$W/cwd/Mail" -t 2
  [ "$status" -eq 5 ]
  [[ $output == *"account 127.0.0.1: the default state directory: there is no home directory"* ]]
  [[ $output == *"HOME is not set"*"set HOME"* ]]
  [ ! -e "$W/cwd/.local" ]
  # ~ in a path
  run nohome --host 127.0.0.1 --user u --maildir "~/Mail" --state-dir "$W/cwd/st" -t 2
  [ "$status" -eq 5 ]
  [[ $output == *"--maildir: ~/Mail: there is no home directory"* ]]
  [ ! -e "$W/cwd/st" ]
  # the default config file
  run nohome
  [ "$status" -eq 5 ]
  [[ $output == *"the default config file: there is no home directory"* ]]
}

@test "bad command line: exit 5; --help and --version exit 0" {
  run "$POPFETCH" --no-such-option
  [ "$status" -eq 5 ]
  run "$POPFETCH" --help
  [ "$status" -eq 0 ]
  [[ $output == *"Usage: popfetch"* ]]
  run "$POPFETCH" --version
  [ "$status" -eq 0 ]
  [[ $output == *"popfetch "*"OpenSSL"* ]]
}

@test "unresolvable host: exit 11" {
  printf 'account a\nhost no-such-host.invalid\nuser u\npasswordeval "echo x"\ndelivery maildir %s\n' \
    "$MD" >"$RC"
  pf_run -t 5
  [ "$status" -eq 11 ]
  [[ $output == *"cannot resolve"* ]]
}

@test "a new user's mistakes: a key typo gets a suggestion, an unknown account lists the accounts, a missing config names both places" {
  printf 'account work\nhost h\nuser u\ntls_trustfile /x\ndelivery maildir %s\n' "$MD" >"$RC"
  chmod 600 "$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"popfetchrc:4: unknown key \`tls_trustfile\`; did you mean \`tls_trust_file\`?"* ]]
  printf 'account work\nhost h\nuser u\ndelivery maildir %s\naccount home : work\nmax-size 1M\n' "$MD" >"$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"unknown key \`max-size\`; did you mean \`max_size\`?"* ]]
  printf 'account work\nhost h\nuser u\ndelivery maildir %s\naccount home : work\nfrobnicate 1\n' "$MD" >"$RC"
  pf_run
  [ "$status" -eq 5 ]
  [[ $output == *"unknown key \`frobnicate\`"* ]]
  [[ $output != *"did you mean"* ]]
  # an account name that is not there
  printf 'account work\nhost h\nuser u\ndelivery maildir %s\naccount home : work\n' "$MD" >"$RC"
  pf_run wrok
  [ "$status" -eq 5 ]
  [[ $output == *"no account named \`wrok\` in $RC"*"the accounts there: work, home"* ]]
  # no config at all
  mkdir -p "$W/newhome"
  HOME=$W/newhome XDG_CONFIG_HOME= run "$POPFETCH"
  [ "$status" -eq 5 ]
  [[ $output == *"no config file: neither $W/newhome/.config/popfetch/config nor $W/newhome/.popfetchrc exists"* ]]
  [[ $output == *"-f FILE"* ]]
}

@test "--dump-config: effective settings after defaults and inheritance, secrets masked, where each came from; connects to nothing" {
  printf 'defaults\nkeep 14d\n\naccount a\nhost pop.invalid\nuser u\npassword "s3cret pw"\ndelivery mda "/usr/bin/procmail -d %%T"\n\naccount b : a\nhost other.invalid\nport 110\ntls starttls\n' >"$RC"
  chmod 600 "$RC"
  pf_run --dump-config -l 5M b
  [ "$status" -eq 0 ]
  [[ $output == *"account b  # $RC:10"* ]]
  grep -Eq "^  host +other.invalid +# $RC:11\$" <<<"$output"
  grep -Eq "^  user +u +# $RC:6\$" <<<"$output"                            # inherited from a
  grep -Eq "^  keep +14d +# $RC:2\$" <<<"$output"                           # the defaults section
  grep -Eq "^  tls +starttls +# $RC:13\$" <<<"$output"
  grep -Eq "^  timeout +60 +# default\$" <<<"$output"
  grep -Eq "^  max_size +5242880 +# command line\$" <<<"$output"
  grep -Eq "^  password +\*\*\*\* +# $RC:7\$" <<<"$output"
  grep -Fq 'delivery               mda "/usr/bin/procmail -d %T"' <<<"$output"
  [[ $output != *"s3cret"* ]]
  [[ $output != *"account a "* ]] # only the account named
  [ ! -e "$SD" ]                  # nothing local either
  # every account when none is named
  pf_run --dump-config
  [ "$status" -eq 0 ]
  [ "$(grep -c '^account ' <<<"$output")" -eq 2 ]
}

@test "--dump-config: forwarding settings as the config writes them (delivery smtp/lmtp, recipient, smtp_rejected)" {
  printf 'account f\nhost pop.invalid\nuser u\npassword p\ndelivery smtp relay.invalid:2525\nrecipient bob carol@example.org\nsmtp_rejected quarantine %s/q\n\naccount l\nhost pop.invalid\nuser u\npassword p\ndelivery lmtp %s/lmtp\n' "$W" "$W" >"$RC"
  chmod 600 "$RC"
  pf_run --dump-config
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -Eq "^  delivery +smtp relay.invalid:2525 +# $RC:5\$" <<<"$output" || { echo "$output"; false; }
  grep -Eq "^  recipient +bob carol@example.org +# $RC:6\$" <<<"$output"
  grep -Eq "^  smtp_rejected +quarantine $W/q +# $RC:7\$" <<<"$output"
  grep -Eq "^  delivery +lmtp $W/lmtp +# $RC:13\$" <<<"$output"
  grep -Eq "^  smtp_rejected +keep +# default\$" <<<"$output"
  # smtp_connections left alone: the number in use, 1 for SMTP, 4 for LMTP
  sed -n '/^account f/,/^account l/p' <<<"$output" | grep -Eq "^  smtp_connections +1 +# default\$" || {
    echo "$output"; false; }
  sed -n '/^account l/,$p' <<<"$output" | grep -Eq "^  smtp_connections +4 +# default\$" || {
    echo "$output"; false; }
  # ...and as set
  printf 'smtp_connections 2\n' >>"$RC"
  pf_run --dump-config l
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -Eq "^  smtp_connections +2 +# $RC:14\$" <<<"$output" || { echo "$output"; false; }
}
