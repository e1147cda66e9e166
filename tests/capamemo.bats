#!/usr/bin/env bats
# Capabilities remembered from the last poll (src/capamemo.h): the second
# poll logs in without asking CAPA; a memory that does not fit the server
# (another certificate, damaged, capabilities the server no longer has) is
# not used or is forgotten, and the run still succeeds; STLS is still
# asked for before any secret; a wrong password is exit 3 with one login.

load lib/common

setup() {
  pf_setup
  dovecot_start
}
teardown() { pf_teardown; }

# memo: the account's remembered capabilities file.
memo() { echo "$SD/alice@127.0.0.1.capa"; }

# sent_before_login: the commands the client sent up to its USER, one word
# each ("CAPA STLS CAPA").
sent_before_login() {
  echo "$output" | grep -E '^popfetch: t: > ' | sed -E 's/^popfetch: t: > ([A-Z]+).*/\1/' |
    sed '/^USER$/q' | grep -v '^USER$' | tr '\n' ' '
}

# count_sent WORD: how many times the client sent the command WORD.
count_sent() { echo "$output" | grep -cE "^popfetch: t: > $1( |\$)" || true; }

@test "capamemo: the second poll logs in without CAPA, and gets its mail" {
  pf_rc_dovecot implicit 'auth user'
  put_generated 2 3 first
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "CAPA " ] || { sent_before_login; false; }
  [ -f "$(memo)" ]
  [ "$(stat -c %a "$(memo)")" = 600 ]
  grep -qx 'capa PIPELINING' "$(memo)"
  put_generated 3 3 second
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "" ] || { sent_before_login; false; }
  [[ $output == *"announced them at the last poll (no CAPA)"* ]]
  # the login and the listing still went out in one flight (PIPELINING remembered)
  echo "$output" | grep -A1 '> PASS' | grep -q '> STAT'
  run mailcheck count "$MD"
  [ "$output" = 5 ]
}

@test "capamemo: another certificate or greeting: CAPA asked again, memory renewed" {
  pf_rc_dovecot implicit 'auth user'
  put_generated 1 3 zero
  pf_run -vv
  [ "$status" -eq 0 ]
  real=$(grep '^cert ' "$(memo)")
  sed -i 's/^cert .*/cert 00:11:22:33/' "$(memo)"
  put_generated 1 3 one
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "CAPA " ] || { sent_before_login; false; }
  [ "$(grep '^cert ' "$(memo)")" = "$real" ]
  sed -i 's/^greeting .*/greeting +OK another server/' "$(memo)"
  put_generated 1 3 two
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "CAPA " ] || { sent_before_login; false; }
  run mailcheck count "$MD"
  [ "$output" = 3 ]
}

@test "capamemo: a damaged memory or a link is ignored and replaced" {
  pf_rc_dovecot implicit 'auth user'
  mkdir -p "$SD"
  chmod 700 "$SD"
  put_generated 1 3 one
  printf 'popfetch capa 1\nserver x\ncapa \001PIPELINING\n' >"$(memo)"
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "CAPA " ] || { sent_before_login; false; }
  grep -qx 'capa PIPELINING' "$(memo)"
  # a link in its place is never read or written through
  cp "$(memo)" "$W/elsewhere"
  echo precious >"$W/target"
  rm "$(memo)"
  ln -s "$W/elsewhere" "$(memo)"
  put_generated 1 3 two
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "CAPA " ] || { sent_before_login; false; }
  [ "$(cat "$W/target")" = precious ]
}

@test "capamemo: capabilities the server no longer has: forgotten, CAPA asked, login tried once more" {
  pf_rc_dovecot implicit 'auth scram-sha-256'
  put_generated 1 3 zero
  pf_run -vv
  [ "$status" -eq 0 ]
  # as if the server had not offered SCRAM-SHA-256 when it was remembered
  sed -i 's/^capa SASL .*/capa SASL PLAIN/' "$(memo)"
  put_generated 1 3 one
  pf_run -vv
  [ "$status" -eq 0 ]
  [[ $output == *"asking CAPA and trying again"* ]]
  [ "$(count_sent CAPA)" -eq 1 ]
  [[ $output == *"logged in as alice (SCRAM-SHA-256)"* ]]
  grep -q '^capa SASL .*SCRAM-SHA-256' "$(memo)"
  run mailcheck count "$MD"
  [ "$output" = 2 ]
}

@test "capamemo: a wrong password with remembered capabilities is exit 3 after one login, and forgotten" {
  pf_rc_dovecot implicit 'auth user'
  put_generated 1 3 zero
  pf_run -vv
  [ "$status" -eq 0 ]
  [ -f "$(memo)" ]
  sed -i 's/^password .*/password wrong/' "$RC"
  put_generated 1 3 one
  pf_run -vv
  [ "$status" -eq 3 ]
  [ "$(sent_before_login)" = "" ] || { sent_before_login; false; }
  [ "$(count_sent PASS)" -eq 1 ]
  [ ! -e "$(memo)" ]
  [ "$(dovecot_count alice)" -eq 1 ]
}

@test "capamemo: STLS is still asked for before any secret; the CAPA after it is remembered" {
  pf_rc_dovecot starttls 'auth user'
  put_generated 1 3 zero
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "CAPA STLS CAPA " ] || { sent_before_login; false; }
  grep -q '^server 127.0.0.1 [0-9]* starttls$' "$(memo)"
  # a memory that claims the server needs no STLS changes nothing: the
  # CAPA before STLS is always asked, and STLS always sent
  sed -i '/^capa STLS/d' "$(memo)"
  put_generated 1 3 one
  pf_run -vv
  [ "$status" -eq 0 ]
  [ "$(sent_before_login)" = "CAPA STLS " ] || { sent_before_login; false; }
  run mailcheck count "$MD"
  [ "$output" = 2 ]
}
