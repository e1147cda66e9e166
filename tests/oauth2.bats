#!/usr/bin/env bats
# OAuth2 built in: `popfetch --authorize` (authorization code + PKCE with a
# loopback redirect, the device flow), client credentials, the refresh that
# keeps a token for every login, and the token store — against the test
# identity provider (tests/lib/idp.py, HTTPS with its own CA) and a real
# Dovecot whose oauth2 passdb asks that provider whether each token is
# active: a login succeeds only with a token the provider really issued.

load lib/common
bats_require_minimum_version 1.5.0

FAULTS=$PF_TOP/${FAULTS_BIN:-build/popfetch-faults}

setup() {
  pf_setup
  # no desktop: nothing may open a browser
  unset DISPLAY WAYLAND_DISPLAY
}
teardown() {
  [[ -z ${AUTH_PID:-} ]] || kill "$AUTH_PID" 2>/dev/null || true
  [[ -z ${DAEMON_PID:-} ]] || kill "$DAEMON_PID" 2>/dev/null || true
  [[ -z ${HOLDER_PID:-} ]] || kill "$HOLDER_PID" 2>/dev/null || true
  pf_teardown
}

put_one() { printf 'Subject: %s\n\nbody of %s\n' "$1" "$1" | dovecot_put alice; }

# authorize_bg [popfetch options]: `popfetch --authorize t` in the
# background (behind the command in the array AUTH_PREFIX, if any: valgrind);
# waits for the line it prints for the user (the address to open, or the
# device code) and sets AUTH_PID and AUTH_LINE.
AUTH_PREFIX=()
authorize_bg() {
  local pat=${AUTH_WAIT_FOR:-^https://} i
  "${AUTH_PREFIX[@]}" "$POPFETCH" -f "$RC" --state-dir "$SD" --authorize "$@" t \
    >"$W/auth.out" 2>"$W/auth.err" 3>&- &
  AUTH_PID=$!
  for ((i = 0; i < 1500; i++)); do
    AUTH_LINE=$(grep -m1 -E "$pat" "$W/auth.out" || true)
    if [[ -n $AUTH_LINE ]]; then return 0; fi
    kill -0 "$AUTH_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "popfetch --authorize printed no line matching $pat"
  cat "$W/auth.out" "$W/auth.err"
  return 1
}

# authorize_wait: wait for it; its exit status in $status, output in $output.
authorize_wait() {
  local rc=0
  wait "$AUTH_PID" || rc=$?
  AUTH_PID=
  status=$rc
  output=$(cat "$W/auth.out" "$W/auth.err")
}

# authorize: the whole browser step, as the user would do it.
authorize() {
  authorize_bg "$@"
  run idp_browse "$AUTH_LINE"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [[ ${lines[0]} == 200 ]] || { echo "$output"; return 1; }
  authorize_wait
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

@test "--authorize: the code flow with PKCE and a loopback redirect, then a fetch that Dovecot's oauth2 passdb accepts" {
  idp_start
  dovecot_start_oauth2
  put_one first
  pf_rc_oauth2
  authorize_bg
  # the address: the provider's authorize endpoint with PKCE S256 and state
  [[ $AUTH_LINE == "$IDP_URL/authorize?response_type=code&client_id=pf&"* ]]
  [[ $AUTH_LINE == *"&code_challenge_method=S256"* ]]
  [[ $AUTH_LINE == *"redirect_uri=http%3A%2F%2F127.0.0.1%3A"* ]]
  run idp_browse "$AUTH_LINE"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 200 ]
  [[ $output == *"popfetch received the authorization for account t"* ]]
  authorize_wait
  [ "$status" -eq 0 ]
  [[ $output == *"t: authorized; popfetch refreshes the token by itself from now on"* ]]
  # the store: private, in the state directory, beside the seen-state
  [ "$(stat -c %a "$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2")" = 600 ]
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"logged in as alice (OAUTHBEARER)"* ]]
  [ "$(mailcheck count "$MD")" -eq 1 ]
  [ "$(idp_stats introspect)" -ge 1 ]
  [ "$(idp_stats token:authorization_code)" -eq 1 ]
  [ "$(idp_stats token:refresh_token)" -eq 0 ] # the token was reused, not refreshed
}

@test "XOAUTH2 and OAUTHBEARER, each forced by auth: Dovecot checks the token with the provider" {
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  authorize
  local mech
  for mech in xoauth2 oauthbearer; do
    put_one "$mech"
    pf_rc_oauth2 "auth $mech"
    pf_run -v
    [ "$status" -eq 0 ]
    [[ $output == *"logged in as alice (${mech^^})"* ]]
  done
  [ "$(mailcheck count "$MD")" -eq 2 ]
  grep -q 'method=XOAUTH2' "$DC_LOG"
  grep -q 'method=OAUTHBEARER' "$DC_LOG"
  [ "$(idp_stats introspect)" -ge 2 ]
}

@test "auth auto with oauth2: XOAUTH2 when the server offers only it (as Microsoft's); a server with no OAuth2 mechanism never gets the token" {
  idp_start
  DC_OAUTH2_MECHS=xoauth2 dovecot_start_oauth2
  put_one ms
  pf_rc_oauth2
  authorize
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"logged in as alice (XOAUTH2)"* ]]
  [ "$(mailcheck count "$MD")" -eq 1 ]
  grep -q 'method=XOAUTH2' "$DC_LOG"
  # the same token at a server that offers PLAIN, LOGIN, SCRAM... but no
  # OAuth2 mechanism: popfetch says so and sends it under none of them
  local store=$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2
  cp -p "$store" "$W/store"
  dovecot_stop
  dovecot_start
  cp -p "$W/store" "$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2"
  pf_rc_oauth2
  pf_run -vv
  [ "$status" -eq 3 ]
  [[ $output == *"offers neither OAUTHBEARER nor XOAUTH2"* ]]
  [[ $output != *"> AUTH"* && $output != *"> USER"* ]]
  run ! grep -qE 'auth failed|Password mismatch' "$DC_LOG"
}

@test "a token the provider did not issue, or ended early, is refused by Dovecot; popfetch refreshes once and logs in" {
  idp_start
  dovecot_start_oauth2
  put_one one
  pf_rc_oauth2
  authorize
  # the saved access token is replaced by one the provider never issued
  local store=$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2
  sed -i -E 's/"access_token": "[^"]*"/"access_token": "AT.forged"/' "$store"
  grep -q '"AT.forged"' "$store"
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"the server refused the saved OAuth2 token"* ]]
  # the server's SASL error JSON is shown (escaped)
  [[ $output == *'{"status":"invalid_token"'* ]]
  [[ $output == *"logged in as alice (OAUTHBEARER)"* ]]
  [ "$(idp_stats introspect_inactive)" -eq 1 ]
  [ "$(idp_stats token:refresh_token)" -eq 1 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
  run ! grep -q '"AT.forged"' "$store"
  # the provider ends the access token early (the store still thinks it good)
  idp_ctl '{"expire_access": true}'
  put_one two
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"the server refused the saved OAuth2 token"* ]]
  [ "$(idp_stats introspect_inactive)" -eq 2 ]
  [ "$(idp_stats token:refresh_token)" -eq 2 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
}

@test "-vv traces the HTTP exchange with every code, verifier and token as ****" {
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60}' # within popfetch's 5-minute margin: the fetch refreshes
  authorize -vv
  local auth_out=$output
  [[ $auth_out == *"> POST /token HTTP/1.1"* ]]
  [[ $auth_out == *"> grant_type=authorization_code&code=****&redirect_uri="* ]]
  [[ $auth_out == *"&code_verifier=****&client_id=pf"* ]]
  [[ $auth_out == *"< HTTP/1.1 200 OK"* ]]
  [[ $auth_out == *'"access_token":"****"'* ]]
  [[ $auth_out == *'"refresh_token":"****"'* ]]
  pf_run -vv
  [ "$status" -eq 1 ]
  [[ $output == *"> grant_type=refresh_token&refresh_token=****&client_id=pf"* ]]
  # no token or code the provider issued shows anywhere
  local store=$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2 tok
  for tok in $(grep -oE '(AT\.|RT/|C\.)[A-Za-z0-9_-]+' "$IDP_LOG" "$store" | sed 's/^[^:]*://' | sort -u); do
    if [[ $auth_out$output == *"$tok"* ]]; then
      echo "leaked: $tok"
      false
    fi
  done
}

@test "--authorize refuses an answer with a wrong state: exit 3, nothing saved" {
  idp_start
  pf_rc_oauth2
  authorize_bg
  run idp_browse "$AUTH_LINE" --state forged-state
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 400 ]
  [[ $output == *"authorization failed"* ]]
  authorize_wait
  [ "$status" -eq 3 ]
  [[ $output == *"whose \`state\` is not this authorization's"* ]]
  [ "$(idp_stats token)" -eq 0 ] # the code was never exchanged
  run ! ls "$SD"/*.oauth2
}

@test "oauth2_redirect_port: the listener on that port (for ssh -L); a port another program holds is exit 5 naming the key" {
  idp_start
  # a port another program listens on
  "$DC_PYTHON" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(600)' "$W/holder.port" 3>&- &
  HOLDER_PID=$!
  local port i
  for ((i = 0; i < 250; i++)); do
    if [[ -s $W/holder.port ]]; then break; fi
    sleep 0.02
  done
  port=$(<"$W/holder.port")
  pf_rc_oauth2 "oauth2_redirect_port $port"
  # (bounded: a popfetch that listened elsewhere would wait for the browser)
  run timeout 30 "$POPFETCH" -f "$RC" --state-dir "$SD" --authorize t
  [ "$status" -eq 5 ]
  [[ $output == *"cannot listen on 127.0.0.1 port $port for the browser"* ]]
  [[ $output == *"change \`oauth2_redirect_port\`"* ]]
  # once the port is free: the redirect goes to exactly that port
  kill "$HOLDER_PID"
  wait "$HOLDER_PID" || true
  HOLDER_PID=
  authorize_bg
  [[ $AUTH_LINE == *"redirect_uri=http%3A%2F%2F127.0.0.1%3A$port%2F&"* ]]
  run idp_browse "$AUTH_LINE"
  [ "${lines[0]}" = 200 ]
  authorize_wait
  [ "$status" -eq 0 ]
  [[ $output == *"t: authorized"* ]]
}

@test "--authorize: the provider's refusal in the browser is exit 3 with its reason" {
  idp_start
  pf_rc_oauth2
  idp_ctl '{"deny": true}'
  authorize_bg
  run idp_browse "$AUTH_LINE"
  [ "${lines[0]}" = 400 ]
  [[ $output == *"access_denied (The user said &lt;no&gt;)"* ]]
  authorize_wait
  [ "$status" -eq 3 ]
  [[ $output == *"did not authorize popfetch: access_denied (The user said <no>)"* ]]
}

# approve USER_CODE: the user enters the code at the provider
approve() {
  "$DC_PYTHON" - "$IDP_URL/device?user_code=$1" "$IDP_CA" <<'PY'
import ssl, sys, urllib.request
urllib.request.urlopen(sys.argv[1], context=ssl.create_default_context(cafile=sys.argv[2])).read()
PY
}

@test "--authorize --device: the code is shown, polled while pending, then saved; Dovecot accepts the token" {
  idp_start
  dovecot_start_oauth2
  put_one dev
  pf_rc_oauth2
  AUTH_WAIT_FOR='enter the code' authorize_bg --device -vv
  [[ $AUTH_LINE == "To let popfetch read the mail of t, open $IDP_URL/device and enter the code "* ]]
  local code=${AUTH_LINE##* }
  sleep 1.5 # a poll or two: still pending
  approve "$code"
  authorize_wait
  [ "$status" -eq 0 ]
  [[ $output == *"t: authorized"* ]]
  # -vv: the device code (the poller's secret) and the tokens as ****
  [[ $output == *'"device_code":"****"'* ]]
  [[ $output == *"> grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=****"* ]]
  local tok store=$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2
  grep -qE 'device_code=D\.[A-Za-z0-9_-]+' "$IDP_LOG" # what must not show
  for tok in $(grep -hoE '(D\.|AT\.|RT/)[A-Za-z0-9_-]+' "$IDP_LOG" "$store" | sort -u); do
    if [[ $output == *"$tok"* ]]; then
      echo "leaked: $tok"
      false
    fi
  done
  [ "$(idp_stats pending)" -ge 1 ]
  [ "$(idp_stats token:device_code)" -ge 2 ]
  pf_run
  [ "$status" -eq 0 ]
  [ "$(mailcheck count "$MD")" -eq 1 ]
}

@test "--authorize --device: slow_down adds 5 seconds to the interval (RFC 8628); a declined sign-in is exit 3" {
  idp_start
  pf_rc_oauth2
  idp_ctl '{"slow_down": 1, "interval": 1}'
  AUTH_WAIT_FOR='enter the code' authorize_bg --device
  approve "${AUTH_LINE##* }"
  local t0=$SECONDS
  authorize_wait
  [ "$status" -eq 0 ]
  [ "$(idp_stats slow_down)" -eq 1 ]
  [ "$(idp_stats token:device_code)" -eq 2 ] # slow_down, then the tokens
  [ $((SECONDS - t0)) -ge 5 ]                # 1 s, then 1 + 5 s
  AUTH_WAIT_FOR='enter the code' authorize_bg --device
  "$DC_PYTHON" - "$IDP_URL/device?user_code=${AUTH_LINE##* }&deny=1" "$IDP_CA" <<'PY'
import ssl, sys, urllib.request
urllib.request.urlopen(sys.argv[1], context=ssl.create_default_context(cafile=sys.argv[2])).read()
PY
  authorize_wait
  [ "$status" -eq 3 ]
  [[ $output == *"the sign-in was declined"* ]]
}

@test "refresh: an access token about to expire is refreshed before login; one far from expiry is reused" {
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60}' # within popfetch's 5-minute margin
  authorize
  local store=$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2
  local rt
  rt=$(grep -oE '"refresh_token": "[^"]*"' "$store")
  idp_ctl '{"access_lifetime": 3600}'
  put_one a
  pf_run -v
  [ "$status" -eq 0 ]
  [[ $output == *"OAuth2: got a new access token"* ]]
  [ "$(idp_stats token:refresh_token)" -eq 1 ]
  # the provider did not rotate: the refresh token on record is kept
  grep -qF "$rt" "$store"
  put_one b
  pf_run -v
  [ "$status" -eq 0 ]
  [ "$(idp_stats token:refresh_token)" -eq 1 ]
  [ "$(mailcheck count "$MD")" -eq 2 ]
}

@test "refresh with rotation: the new refresh token is stored and the next refresh uses it" {
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60, "rotate": true}'
  authorize
  local store=$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2 rt1 rt2
  rt1=$(grep -oE '"refresh_token": "[^"]*"' "$store")
  pf_run
  [ "$status" -eq 1 ]
  rt2=$(grep -oE '"refresh_token": "[^"]*"' "$store")
  [ "$rt1" != "$rt2" ]
  pf_run
  [ "$status" -eq 1 ]
  [ "$(idp_stats token:refresh_token)" -eq 2 ]
  [ "$(idp_stats refused)" -eq 0 ] # never the revoked one
}

@test "a revoked refresh token: exit 3 with the --authorize hint, said once by a daemon, cured by --authorize" {
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60}'
  authorize
  idp_ctl '{"revoke_refresh": true}'
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"refused the saved refresh token: invalid_grant (AADSTS70008"* ]]
  [[ $output == *"run \`popfetch --authorize t\`"* ]]
  # recorded: the next run says the same without asking the provider again
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"run \`popfetch --authorize t\`"* ]]
  [ "$(idp_stats refused)" -eq 1 ]
  # a daemon says it at its first poll, not at every poll (it polls 3 or 4 times)
  timeout -s TERM 3.5 "$POPFETCH" -f "$RC" --state-dir "$SD" -d 1 >"$W/d.out" 2>"$W/d.err" || true
  [ "$(grep -c 'refused the saved refresh token' "$W/d.err")" -eq 1 ]
  # and when the refusal comes while it runs: once, at the poll that met it
  rm -f "$SD"/*.oauth2
  authorize
  "$POPFETCH" -f "$RC" --state-dir "$SD" -d 1 >"$W/d.out" 2>"$W/d.err" 3>&- &
  DAEMON_PID=$!
  sleep 1.2
  idp_ctl '{"revoke_refresh": true}'
  sleep 2.5
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID" || true
  DAEMON_PID=
  [ "$(grep -c 'refused the saved refresh token' "$W/d.err")" -eq 1 ]
  [ "$(idp_stats refused)" -eq 2 ] # once per refusal: later polls did not ask again
  # --authorize again: fetching works
  authorize
  pf_run
  [ "$status" -eq 1 ]
}

# store_rt: the refresh token on record
store_rt() { grep -oE '"refresh_token": "[^"]*"' "$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2"; }

@test "kill -9 while the rotated refresh token is stored: the next run has a working token (fault build)" {
  [ -x "$FAULTS" ] || { echo "build $FAULTS first (make check does)"; false; }
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60, "rotate": true}'
  authorize
  local point before
  # killed after the new token is written whole (before the rename), and
  # after the rename (before the directory is synced): each time the
  # provider has already revoked the old refresh token
  for point in token-written token-renamed; do
    before=$(store_rt)
    POPFETCH_CRASH_AT=$point:1 run "$FAULTS" -f "$RC" --state-dir "$SD"
    [ "$status" -eq 137 ]
    put_one "$point"
    pf_run
    if [ "$status" -ne 0 ]; then
      echo "after a kill at $point: status $status: $output"
      false
    fi
    [ "$(store_rt)" != "$before" ]
    run ! ls "$SD"/*.oauth2.new
  done
  [ "$(idp_stats refused)" -eq 0 ] # the revoked token was never used
  [ "$(mailcheck count "$MD")" -eq 2 ]
  # killed in the middle of writing: the torn file is dropped and the store
  # is what was saved last (the provider has not rotated this time)
  idp_ctl '{"rotate": false}'
  before=$(store_rt)
  POPFETCH_CRASH_AT=token-half-written:1 run "$FAULTS" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 137 ]
  ls "$SD"/*.oauth2.new # the torn file is there
  pf_run
  [ "$status" -eq 1 ]
  [ "$(store_rt)" = "$before" ]
  run ! ls "$SD"/*.oauth2.new
}

@test "two runs of one account at once (-j, and two processes) refresh once" {
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60, "rotate": true}'
  authorize
  idp_ctl '{"token_delay": 1}' # the refresh takes a second: the runs overlap
  # the same mailbox twice in one config, run side by side with -j 2
  printf 'account t2 : t\ndelivery maildir %s\n' "$W/Maildir2" >>"$RC"
  pf_run -j 2
  [ "$status" -eq 8 ] # the second found the account locked
  [[ $output == *"another popfetch"*"is already fetching"* ]]
  [ "$(idp_stats token:refresh_token)" -eq 1 ]
  # two processes started together
  idp_ctl '{"access_lifetime": 60}'
  sed -i '/^account t2/,$d' "$RC"
  # make the token on record due again
  sed -i -E 's/"expires_at": [0-9]+/"expires_at": 1/' "$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2"
  "$POPFETCH" -f "$RC" --state-dir "$SD" >"$W/r1.out" 2>&1 3>&- &
  local p1=$!
  "$POPFETCH" -f "$RC" --state-dir "$SD" >"$W/r2.out" 2>&1 3>&- &
  local p2=$! s1=0 s2=0
  wait "$p1" || s1=$?
  wait "$p2" || s2=$?
  [ "$(idp_stats token:refresh_token)" -eq 2 ]
  [ "$((s1 + s2))" -eq 9 ] # 1 (no mail) and 8 (locked)
  [ "$(idp_stats refused)" -eq 0 ]
  pf_run
  [ "$status" -eq 1 ]
}

@test "client credentials (app-only): the secret from oauth2_client_secret_eval, sent masked, the token reused" {
  idp_start --client app:s3cr3t-value
  dovecot_start_oauth2
  put_one cc
  printf 's3cr3t-value\n' >"$W/client-secret"
  chmod 600 "$W/client-secret"
  pf_rc_oauth2 "oauth2_flow client_credentials" "oauth2_client_secret_eval \"cat $W/client-secret\""
  sed -i 's/^oauth2_client_id pf$/oauth2_client_id app/' "$RC"
  pf_run -vv
  [ "$status" -eq 0 ]
  [[ $output == *"> grant_type=client_credentials&scope=pop+offline_access&client_id=app&client_secret=****"* ]]
  [[ $output != *s3cr3t-value* ]]
  grep -q 'client_secret=s3cr3t-value' "$IDP_LOG" # it was really sent
  [ "$(mailcheck count "$MD")" -eq 1 ]
  pf_run
  [ "$status" -eq 1 ]
  [ "$(idp_stats token:client_credentials)" -eq 1 ]
  # a wrong secret: the provider's refusal, exit 3
  printf 'wrong\n' >"$W/client-secret"
  run "$POPFETCH" -f "$RC" --state-dir "$SD" --authorize t
  [ "$status" -eq 3 ]
  [[ $output == *"refused the client credentials: invalid_client"* ]]
  # the secret command's file must be ours alone
  chmod 666 "$W/client-secret"
  run "$POPFETCH" -f "$RC" --state-dir "$SD" --authorize t
  [ "$status" -eq 6 ]
}

@test "with a desktop, --authorize hands the address to xdg-open; without one it only prints it" {
  idp_start
  pf_rc_oauth2
  mkdir -p "$W/bin"
  printf '#!/bin/sh\nprintf "%%s\\n" "$1" >"%s/xdg-open.args"\n' "$W" >"$W/bin/xdg-open"
  chmod +x "$W/bin/xdg-open"
  # no DISPLAY, no WAYLAND_DISPLAY (and empty ones count as none)
  DISPLAY= WAYLAND_DISPLAY= PATH=$W/bin:$PATH authorize_bg
  run idp_browse "$AUTH_LINE"
  [ "${lines[0]}" = 200 ]
  authorize_wait
  [ "$status" -eq 0 ]
  [ ! -e "$W/xdg-open.args" ]
  run ! grep -q '(opened in your browser)' "$W/auth.out"
  # a Wayland desktop
  WAYLAND_DISPLAY=wayland-0 PATH=$W/bin:$PATH authorize_bg
  local i
  for ((i = 0; i < 250; i++)); do
    if [[ -s $W/xdg-open.args ]]; then break; fi
    sleep 0.02
  done
  [ "$(cat "$W/xdg-open.args")" = "$AUTH_LINE" ]
  run idp_browse "$AUTH_LINE"
  [ "${lines[0]}" = 200 ]
  authorize_wait
  [ "$status" -eq 0 ]
  rm "$W/xdg-open.args"
  # an X desktop
  DISPLAY=:99 PATH=$W/bin:$PATH authorize_bg
  for ((i = 0; i < 250; i++)); do
    if [[ -s $W/xdg-open.args ]]; then break; fi
    sleep 0.02
  done
  [ "$(cat "$W/xdg-open.args")" = "$AUTH_LINE" ]
  grep -q '(opened in your browser)' "$W/auth.out"
  run idp_browse "$(cat "$W/xdg-open.args")"
  [ "${lines[0]}" = 200 ]
  authorize_wait
  [ "$status" -eq 0 ]
}

@test "what to do is said: never authorized (3), no oauth2 (5), --device alone (5), an untrusted provider (2)" {
  idp_start
  pf_rc_oauth2
  pf_run
  [ "$status" -eq 3 ]
  [[ $output == *"no OAuth2 token for t yet"* ]]
  [[ $output == *"run \`popfetch --authorize t\`"* ]]
  DC_POP3S_PORT=995 DC_CA=$IDP_CA pf_rc_dovecot implicit
  pf_run --authorize t
  [ "$status" -eq 5 ]
  [[ $output == *"has no \`oauth2\` setting"* ]]
  pf_run --device t
  [ "$status" -eq 5 ]
  [[ $output == *"--device goes with --authorize"* ]]
  # the provider's certificate is checked as a POP3 server's is
  pf_rc_oauth2
  sed -i '/^oauth2_trust_file/d' "$RC"
  pf_run --authorize --device t
  [ "$status" -eq 2 ]
  [[ $output == *"cannot trust the certificate of 127.0.0.1"* ]]
}

@test "token endpoints: a redirect to another host is not followed (4), garbage or a huge body is an error (4), chunked is read" {
  idp_start
  dovecot_start_oauth2
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60}'
  authorize
  idp_ctl '{"redirect_token": "https://evil.example/steal"}'
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *'a redirect to "https://evil.example/steal"'* ]]
  idp_ctl '{"redirect_token": "", "garbage_token": "{\"access_token\": [1, 2]}"}'
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *"bad \`access_token\` (not a string)"* ]]
  idp_ctl '{"garbage_token": "<html>oops"}'
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *"not a JSON object"* ]]
  # a body over popfetch's bound (512 KiB)
  idp_ctl '{"garbage_token": "", "pad": 600000}'
  pf_run
  [ "$status" -eq 4 ]
  [[ $output == *"the body is larger than popfetch accepts"* ]]
  # a chunked answer (in 7-byte chunks, with extensions and a trailer) is read whole
  idp_ctl '{"pad": 0, "chunked": true}'
  pf_run -vv
  [ "$status" -eq 1 ]
  [[ $output == *"< Transfer-Encoding: chunked"* ]]
  [[ $output == *"OAuth2: got a new access token"* ]]
}

@test "--import-fetchmailrc: fetchmail 7's auth xoauth2 with a passwordfile fetches with the token in that file, and points to --authorize" {
  idp_start
  DC_OAUTH2_MECHS=xoauth2 dovecot_start_oauth2
  put_one fm7
  # the access token a fetchmail 7 user's helper script keeps in a file
  pf_rc_oauth2
  authorize
  grep -oE '"access_token": "[^"]*"' "$SD/alice@127.0.0.1:$DC_POP3S_PORT.oauth2" |
    cut -d'"' -f4 >"$W/token"
  chmod 600 "$W/token"
  [ -s "$W/token" ]
  cat >"$W/fetchmailrc" <<RC
poll 127.0.0.1 proto pop3 port $DC_POP3S_PORT auth xoauth2
    user "alice" passwordfile "$W/token"
    options ssl sslcertck sslcertfile "$DC_CA"
    mda "cat >> '$W/delivered'"
RC
  "$POPFETCH" --import-fetchmailrc "$W/fetchmailrc" >"$W/out.conf"
  chmod 600 "$W/out.conf"
  grep -qF "run \`popfetch --authorize 127.0.0.1\` once" "$W/out.conf"
  grep -qx 'auth xoauth2' "$W/out.conf"
  run "$POPFETCH" -f "$W/out.conf" --state-dir "$W/sd2" -v
  [ "$status" -eq 0 ] || { echo "$output"; cat "$W/out.conf"; false; }
  [[ $output == *"logged in as alice (XOAUTH2)"* ]]
  [ "$(grep -c '^Subject: fm7' "$W/delivered")" -eq 1 ]
  grep -q 'method=XOAUTH2' "$DC_LOG"
}

@test "valgrind: --authorize, a fetch with a rotated refresh, a refused refresh token" {
  [[ ${SANITIZE:-} != 1 ]] || skip "valgrind cannot run a sanitizer build"
  command -v valgrind >/dev/null || { echo "valgrind is not installed: make deps"; false; }
  idp_start
  dovecot_start_oauth2
  put_one vg
  pf_rc_oauth2
  idp_ctl '{"access_lifetime": 60, "rotate": true}'
  local vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
  AUTH_PREFIX=("${vg[@]}")
  authorize -vv
  run "${vg[@]}" "$POPFETCH" -f "$RC" --state-dir "$SD" -vv
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(mailcheck count "$MD")" -eq 1 ]
  [ "$(idp_stats token:refresh_token)" -eq 1 ]
  idp_ctl '{"revoke_refresh": true}'
  run "${vg[@]}" "$POPFETCH" -f "$RC" --state-dir "$SD"
  [ "$status" -eq 3 ] || { echo "$output"; false; }
}
