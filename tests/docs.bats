#!/usr/bin/env bats
# Documentation that works when copied: every example of popfetchrc(5) and
# popfetch(1), taken from the RENDERED page (man -l | col -b, as a reader
# copies it; tests/lib/man-examples.py), is loaded by popfetch.

load lib/common

setup() {
  pf_setup
  command -v man >/dev/null || { echo "man is not installed: make deps"; false; }
  mkdir -p "$W/ex"
}
teardown() { pf_teardown; }

# loads FILE: popfetch reads FILE up to the account lookup (a name no
# example defines: exit 5 "no account named" proves the whole file parsed).
loads() {
  chmod 600 "$1"
  run "$POPFETCH" -f "$1" --state-dir "$SD" no-such-account
  [ "$status" -eq 5 ] || { echo "$1: exit $status: $output"; cat "$1"; return 1; }
  [[ $output == *"no account named \`no-such-account\`"* ]] || { echo "$output"; cat "$1"; return 1; }
}

@test "popfetchrc(5): the EXAMPLES section and every inline example, as rendered, load" {
  run "$DC_PYTHON" "$PF_TOP/tests/lib/man-examples.py" "$PF_TOP/man/popfetchrc.5" "$W/ex"
  [ "$status" -eq 0 ]
  [ "$output" -ge 3 ] # the EXAMPLES section and at least two inline examples
  loads "$W/ex/examples.conf"
  local f key
  for f in "$W"/ex/inline.*; do
    key=$(cut -d' ' -f1 "$f")
    {
      printf 'account t\n'
      [[ $key == host ]] || printf 'host h\n'
      [[ $key == user ]] || printf 'user u\n'
      [[ $key == delivery ]] || printf 'delivery maildir %s\n' "$MD"
      cat "$f"
    } >"$W/inline.conf"
    loads "$W/inline.conf"
  done
  grep -qx 'delivery mda "/usr/bin/procmail -d %T"' "$W"/ex/inline.* # the one that lost its quotes
}

@test "popfetch(1): every option in its EXAMPLES, as rendered, is one popfetch --help offers" {
  run "$DC_PYTHON" "$PF_TOP/tests/lib/man-examples.py" "$PF_TOP/man/popfetch.1" "$W/ex"
  [ "$status" -eq 0 ]
  [ "$output" -ge 5 ]
  "$POPFETCH" --help >"$W/help" 2>&1
  local f word opt i opts
  for f in "$W"/ex/cmd.*; do
    for word in $(cat "$f"); do
      [[ $word == -* ]] || continue
      opts=("$word")
      if [[ $word =~ ^-[a-zA-Z]{2,}$ ]]; then # -vv: -v twice
        opts=()
        for ((i = 1; i < ${#word}; i++)); do opts+=("-${word:i:1}"); done
      fi
      for opt in "${opts[@]}"; do
        grep -qE -- "(^|[ ,[])${opt}([] ,=]|\$)" "$W/help" || { echo "$(cat "$f"): $opt is not in --help"; false; }
      done
    done
  done
  # the config examples it names are in popfetchrc(5)'s, which load (above)
}

@test "popfetch(1): the systemd example makes its directory before copying into it" {
  MANWIDTH=200 man -l "$PF_TOP/man/popfetch.1" 2>/dev/null | col -b >"$W/page"
  grep -n 'mkdir -p ~/.config/systemd/user' "$W/page" >"$W/mkdir"
  grep -n 'cp contrib/systemd/popfetch.service' "$W/page" >"$W/cp"
  [ "$(cut -d: -f1 "$W/mkdir")" -lt "$(cut -d: -f1 "$W/cp")" ]
}
