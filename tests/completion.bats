#!/usr/bin/env bats
# contrib/bash-completion/popfetch: sourced into bash, called the way bash
# calls a completion function (COMP_WORDS split at COMP_WORDBREAKS as bash
# splits them, COMP_CWORD, COMP_LINE, COMP_POINT), COMPREPLY checked; the
# options offered checked against `popfetch --help`; and, when tmux is
# installed, real Tab presses in an interactive bash.

# A literal ~ in a quoted word is meant here: it is what the user typed.
# shellcheck disable=SC2088

declare -g PF_TOP
PF_TOP=$(cd "$(dirname "$BATS_TEST_FILENAME")/.." && pwd)
declare -g POPFETCH=${POPFETCH:-$PF_TOP/popfetch}
declare -g COMPLETION=$PF_TOP/contrib/bash-completion/popfetch

setup() {
  W=$BATS_TEST_TMPDIR
  export HOME=$W/home
  unset XDG_CONFIG_HOME
  mkdir -p "$HOME"
  # shellcheck source=contrib/bash-completion/popfetch
  source "$COMPLETION"
  TM=
}

teardown() {
  [[ -z $TM ]] || tmux -L "$TM" kill-server 2>/dev/null || true
}

# comp LINE WORD...: complete at the end of LINE, whose COMP_WORDS are the
# WORDs (as bash splits LINE: `--tls=st` is `--tls` `=` `st`); the sorted
# replies end up in $reply, one line each.
comp() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _popfetch
  reply=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
  [[ -n ${COMPREPLY[*]} ]] || reply=
  echo "line [$COMP_LINE] -> ${reply//$'\n'/ }"
}

# words W...: the same words, sorted, one a line (to compare with $reply).
words() { printf '%s\n' "$@" | sort; }

# help_options: every option `popfetch --help` shows, one a line, with 1 if
# it takes a value (an upper-case metavar follows it), else 0. Short forms
# get the value of the long form on their line.
help_options() {
  local line opts tok short=() takes
  "$POPFETCH" --help | while IFS= read -r line; do
    if [[ $line == "Exit status"* ]]; then break; fi
    [[ $line =~ ^\ +[-\[] ]] || continue
    opts=${line#"${line%%[![:space:]]*}"}
    opts=${opts%%  *} # the option column ends at the description
    short=()
    while read -r tok; do
      case $tok in
      --*)
        takes=0
        if [[ $tok == *" "[A-Z]* ]]; then takes=1; fi
        printf '%s %s\n' "${tok%% *}" "$takes"
        for s in "${short[@]}"; do printf '%s %s\n' "$s" "$takes"; done
        short=()
        ;;
      -?) short+=("$tok") ;;
      esac
    done < <(grep -oE -- '--?[a-zA-Z][a-zA-Z-]*( [A-Z][A-Z:]*)?' <<<"$opts")
    for s in "${short[@]}"; do printf '%s 0\n' "$s"; done
  done
}

rc_accounts() {
  cat >"$1" <<'RC'
# a comment
defaults
tls implicit

account work
host pop.example.org
user alice
delivery maildir ~/Mail/work

account isp : work
  account   indented:work
account alice@example.org
account "quoted"
# account commented
accounting is not a key
RC
}

@test "registered for popfetch" {
  run complete -p popfetch
  [ "$status" -eq 0 ]
  [[ $output == "complete -F _popfetch popfetch" ]]
}

@test "every option of popfetch --help is offered, and with the right argument" {
  [ -x "$POPFETCH" ] || { echo "build popfetch first (make)"; false; }
  local list n=0 opt takes
  list=$(help_options)
  echo "$list"
  [ "$(echo "$list" | wc -l)" -ge 40 ]
  comp "popfetch -" popfetch -
  while read -r opt takes; do
    grep -qxF -- "$opt" <<<"$reply" || { echo "not offered: $opt"; false; }
    if [[ $takes == 1 ]]; then
      _popfetch_takes_arg "$opt" || { echo "$opt takes a value"; false; }
    else
      if _popfetch_takes_arg "$opt"; then echo "$opt takes no value"; false; fi
    fi
    n=$((n + 1))
  done <<<"$list"
  [ "$n" -ge 40 ]
}

@test "the options of daemon mode, serverinfo, logging, the command-line account and imports" {
  comp "popfetch -" popfetch -
  local o
  for o in -d --daemon --serverinfo --host --port --user --tls --auth --passwordeval \
    --tls-trust-file --syslog --logfile --import-fetchmailrc --import-seen -j --jobs \
    --maildir --mbox -m --mda --state-dir; do
    grep -qxF -- "$o" <<<"$reply" || { echo "not offered: $o"; false; }
  done
  for o in -d --daemon --host --port --user --tls --auth --passwordeval --logfile \
    --import-fetchmailrc -j --jobs --maildir --mbox -m --mda; do
    _popfetch_takes_arg "$o"
  done
  for o in --syslog --serverinfo; do
    if _popfetch_takes_arg "$o"; then
      echo "$o takes no value"
      return 1
    fi
  done
  # no --password: popfetch refuses it (every user could read it with ps)
  [[ $'\n'$reply$'\n' != *$'\n--password\n'* ]]
}

@test "option prefixes" {
  comp "popfetch --ti" popfetch --ti
  [ "$reply" = "--timeout" ]
  comp "popfetch --tls" popfetch --tls
  [ "$reply" = "$(words --tls --tls-trust-file)" ]
  comp "popfetch --import-" popfetch --import-
  [ "$reply" = "$(words --import-seen --import-fetchmailrc)" ]
  comp "popfetch work --no" popfetch work --no
  [ "$reply" = "--no-keep" ]
}

@test "account names from the -f config: account NAME, NAME : PARENT, NAME:PARENT" {
  rc_accounts "$W/rc"
  comp "popfetch -f $W/rc " popfetch -f "$W/rc" ""
  [ "$reply" = "$(words work isp indented alice@example.org quoted)" ]
  comp "popfetch -f $W/rc i" popfetch -f "$W/rc" i
  [ "$reply" = "$(words isp indented)" ]
  comp "popfetch --config $W/rc -v w" popfetch --config "$W/rc" -v w
  [ "$reply" = "work" ]
  comp "popfetch --config=$W/rc q" popfetch --config = "$W/rc" q
  [ "$reply" = "quoted" ]
  comp "popfetch -f$W/rc q" popfetch "-f$W/rc" q
  [ "$reply" = "quoted" ]
  # the shell expands ~ in `-f ~/rc`; so does the completion
  cp "$W/rc" "$HOME/rc"
  comp "popfetch -f ~/rc is" popfetch -f "~/rc" is
  [ "$reply" = "isp" ]
  # several accounts on one line
  comp "popfetch -f $W/rc work i" popfetch -f "$W/rc" work i
  [ "$reply" = "$(words isp indented)" ]
}

@test "--authorize and --device: flags, followed by the account to authorize" {
  rc_accounts "$W/rc"
  comp "popfetch --auth" popfetch --auth
  [ "$reply" = "$(words --auth --authorize)" ]
  comp "popfetch --authorize --d" popfetch --authorize --d
  [ "$reply" = "$(words --device --daemon --dump-config --dump-state)" ]
  comp "popfetch -f $W/rc --authorize w" popfetch -f "$W/rc" --authorize w
  [ "$reply" = "work" ]
  comp "popfetch -f $W/rc --authorize --device i" popfetch -f "$W/rc" --authorize --device i
  [ "$reply" = "$(words isp indented)" ]
}

@test "account names from the default config: XDG_CONFIG_HOME, ~/.config, ~/.popfetchrc" {
  printf 'account fromrc\n' >"$HOME/.popfetchrc"
  comp "popfetch " popfetch ""
  [ "$reply" = "fromrc" ]
  mkdir -p "$HOME/.config/popfetch"
  printf 'account fromdotconfig\n' >"$HOME/.config/popfetch/config"
  comp "popfetch " popfetch ""
  [ "$reply" = "fromdotconfig" ]
  mkdir -p "$W/xdg/popfetch"
  printf 'account fromxdg\n' >"$W/xdg/popfetch/config"
  XDG_CONFIG_HOME=$W/xdg comp "popfetch " popfetch ""
  [ "$reply" = "fromxdg" ]
  # an XDG_CONFIG_HOME without the file: ~/.popfetchrc, as popfetch does
  XDG_CONFIG_HOME=$W/empty comp "popfetch " popfetch ""
  [ "$reply" = "fromrc" ]
  # no config at all: nothing, and no error
  rm "$HOME/.popfetchrc" "$HOME/.config/popfetch/config"
  comp "popfetch " popfetch ""
  [ -z "$reply" ]
}

@test "account names from drop-ins in config.d and from -f DIR" {
  mkdir -p "$HOME/.config/popfetch/config.d"
  printf 'account main\n' >"$HOME/.config/popfetch/config"
  printf 'account dropped\n' >"$HOME/.config/popfetch/config.d/10-a.conf"
  printf 'account ignored\n' >"$HOME/.config/popfetch/config.d/notes.txt"
  comp "popfetch " popfetch ""
  [ "$reply" = "$(words main dropped)" ]
  # only the drop-ins, without the file
  rm "$HOME/.config/popfetch/config"
  comp "popfetch " popfetch ""
  [ "$reply" = "dropped" ]
  # -f DIR: its *.conf files only
  mkdir -p "$W/dir"
  printf 'account one\n' >"$W/dir/a.conf"
  printf 'account two\n' >"$W/dir/b.conf"
  comp "popfetch -f $W/dir " popfetch -f "$W/dir" ""
  [ "$reply" = "$(words one two)" ]
}

@test "an account name with @: only the part bash replaces" {
  rc_accounts "$W/rc"
  # bash splits `alice@ex` into alice @ ex, and readline replaces `@ex`
  comp "popfetch -f $W/rc alice@ex" popfetch -f "$W/rc" alice @ ex
  [ "$reply" = "@example.org" ]
}

@test "after --, every word is an account; with --host, there are none" {
  rc_accounts "$W/rc"
  comp "popfetch -f $W/rc -- w" popfetch -f "$W/rc" -- w
  [ "$reply" = "work" ]
  comp "popfetch -f $W/rc -- -" popfetch -f "$W/rc" -- -
  [ -z "$reply" ]
  comp "popfetch -f $W/rc --host pop.example.org --user a " popfetch -f "$W/rc" --host pop.example.org --user a ""
  [ -z "$reply" ]
}

@test "--tls values: implicit starttls off, also as --tls=VALUE" {
  comp "popfetch --tls " popfetch --tls ""
  [ "$reply" = "$(words implicit starttls off)" ]
  comp "popfetch --tls s" popfetch --tls s
  [ "$reply" = "starttls" ]
  comp "popfetch --tls=st" popfetch --tls = st
  [ "$reply" = "starttls" ]
  # right after the `=`, readline replaces nothing: just the values
  comp "popfetch --tls=" popfetch --tls =
  [ "$reply" = "$(words implicit starttls off)" ]
}

@test "--auth values are the mechanisms of popfetchrc(5)" {
  comp "popfetch --auth " popfetch --auth ""
  [ "$reply" = "$(words auto user apop plain login cram-md5 scram-sha-1 scram-sha-256 \
    xoauth2 oauthbearer external)" ]
  comp "popfetch --auth scram" popfetch --auth scram
  [ "$reply" = "$(words scram-sha-1 scram-sha-256)" ]
  # each one is named in the man page (where \- is a hyphen)
  local m man
  man=$(sed 's/\\-/-/g' "$PF_TOP/man/popfetchrc.5")
  for m in $reply; do
    grep -qE "^\.B[R]? $m( |$)" <<<"$man" || { echo "$m not in popfetchrc.5"; false; }
  done
}

@test "--import-seen: FORMAT: first, then a file" {
  comp "popfetch --import-seen " popfetch --import-seen ""
  [ "$reply" = "$(words fetchmail: mpop: getmail:)" ]
  comp "popfetch --import-seen m" popfetch --import-seen m
  [ "$reply" = "mpop:" ]
  : >"$W/.fetchids"
  : >"$W/.fetchmailrc"
  comp "popfetch --import-seen fetchmail:$W/.fetchi" popfetch --import-seen fetchmail : "$W/.fetchi"
  [ "$reply" = "$W/.fetchids" ]
  # the shell leaves ~ after `fetchmail:` alone, so the completion writes $HOME
  : >"$HOME/.mpop_uidls"
  comp "popfetch --import-seen mpop:~/.mpop" popfetch --import-seen mpop : "~/.mpop"
  [ "$reply" = "$HOME/.mpop_uidls" ]
  comp "popfetch --import-seen=getmail:$W/.fetchi" popfetch --import-seen = getmail : "$W/.fetchi"
  [ "$reply" = "$W/.fetchids" ]
  comp "popfetch --import-seen nope:$W/.fetchi" popfetch --import-seen nope : "$W/.fetchi"
  [ -z "$reply" ]
}

@test "FILE and DIR arguments: files, and only directories for DIR" {
  mkdir -p "$W/d/Maildir" "$W/d/Mailbox"
  : >"$W/d/Mail.mbox"
  local o
  for o in -f --config --mbox --logfile --import-fetchmailrc --tls-trust-file; do
    comp "popfetch $o $W/d/Mail" popfetch "$o" "$W/d/Mail"
    [ "$reply" = "$(words "$W/d/Maildir" "$W/d/Mailbox" "$W/d/Mail.mbox")" ]
  done
  for o in --maildir --state-dir; do
    comp "popfetch $o $W/d/Mail" popfetch "$o" "$W/d/Mail"
    [ "$reply" = "$(words "$W/d/Maildir" "$W/d/Mailbox")" ]
  done
  comp "popfetch --maildir=$W/d/Maild" popfetch --maildir = "$W/d/Maild"
  [ "$reply" = "$W/d/Maildir" ]
}

@test "values with nothing to offer are not taken for account names" {
  rc_accounts "$W/rc"
  local o
  for o in --user -l --max-size -B --max-messages -t --timeout -j --jobs -d --daemon; do
    comp "popfetch -f $W/rc $o " popfetch -f "$W/rc" "$o" ""
    [ -z "$reply" ]
  done
  # an option's value is not an option: --user -v leaves -v as the user
  comp "popfetch -f $W/rc --user --tls " popfetch -f "$W/rc" --user --tls ""
  [ "$reply" = "$(words work isp indented alice@example.org quoted)" ]
  comp "popfetch --port " popfetch --port ""
  [ "$reply" = "$(words 110 995)" ]
}

@test "real Tab presses in an interactive bash (tmux)" {
  command -v tmux >/dev/null || { echo "tmux is not installed: make deps"; false; }
  rc_accounts "$W/rc"
  mkdir -p "$HOME/.config/popfetch"
  cp "$W/rc" "$HOME/.config/popfetch/config"
  : >"$HOME/.fetchids"
  # popfetch is a function here that prints its arguments
  cat >"$W/bashrc" <<EOF
PS1='$ '
bind 'set bell-style none'
popfetch() { printf '<%s>' "\$@"; echo; }
source '$COMPLETION'
EOF
  TM="pfc$$"
  tmux -L "$TM" new-session -d -x 200 -y 50 \
    "env -u XDG_CONFIG_HOME HOME='$HOME' bash --noprofile --rcfile '$W/bashrc' -i"
  local keys
  # (`--au` alone is --auth or --authorize: the value of --auth is typed after a space)
  for keys in 'popfetch --tls=st' 'popfetch wo' 'popfetch alice@ex' 'popfetch --auth ' \
    'popfetch --import-seen fet'; do
    tmux -L "$TM" send-keys -l "$keys"
    tmux -L "$TM" send-keys Tab
    sleep 0.3
    if [[ $keys == *fet ]]; then tmux -L "$TM" send-keys -l '~/.fetchi'; tmux -L "$TM" send-keys Tab; sleep 0.3; fi
    if [[ $keys == *'--auth ' ]]; then tmux -L "$TM" send-keys -l 'cram'; tmux -L "$TM" send-keys Tab; sleep 0.3; fi
    tmux -L "$TM" send-keys Enter
    sleep 0.2
  done
  local screen i
  for ((i = 0; i < 50; i++)); do
    screen=$(tmux -L "$TM" capture-pane -p)
    if [[ $screen == *"<--import-seen>"* ]]; then break; fi
    sleep 0.1
  done
  echo "$screen"
  [[ $screen == *$'\n<--tls=starttls>'* ]]
  [[ $screen == *$'\n<work>'* ]]
  [[ $screen == *$'\n<alice@example.org>'* ]]
  [[ $screen == *$'\n<--auth=cram-md5>'* || $screen == *$'\n<--auth><cram-md5>'* ]]
  [[ $screen == *$'\n<--import-seen><fetchmail:'"$HOME/.fetchids>"* ]]
}

@test "make install puts the program, both man pages and the completion under DESTDIR and PREFIX" {
  run make -s -C "$PF_TOP" install DESTDIR="$W/root" PREFIX=/opt/pf
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -x "$W/root/opt/pf/bin/popfetch" ]
  [ -f "$W/root/opt/pf/share/man/man1/popfetch.1" ]
  [ -f "$W/root/opt/pf/share/man/man5/popfetchrc.5" ]
  cmp "$PF_TOP/contrib/bash-completion/popfetch" "$W/root/opt/pf/share/bash-completion/completions/popfetch"
  [ -z "$(find "$W/root" -path "$W/root/opt" -prune -o -print | grep -vx "$W/root")" ] # nothing elsewhere
}
