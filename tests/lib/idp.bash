# shellcheck shell=bash
#
# tests/lib/idp.bash — the test identity provider (tests/lib/idp.py) for the
# OAuth2 tests, and a Dovecot that asks it whether a token is good.
#
#   idp_start [idp.py serve options...]  start it on 127.0.0.1 with a fresh CA
#                                   ($W/idp); sets IDP_PORT IDP_PID IDP_CA
#                                   IDP_URL IDP_LOG; registers client "pf"
#                                   (public) unless --client is given
#   idp_stop                        stop it (pf_teardown does)
#   idp_ctl JSON                    set knobs (idp.py's /control)
#   idp_stats [KEY]                 what it was asked (one count with KEY)
#   idp_browse URL [idp.py browse options]  the user's browser
#   dovecot_start_oauth2            dovecot_start with its oauth2 passdb
#                                   pointed at the IdP's introspection
#   pf_rc_oauth2 [extra lines...]   account "t": alice on that Dovecot, with
#                                   `oauth2 custom` at the IdP

idp_start() {
  local args=("$@")
  [[ " ${args[*]} " == *" --client "* ]] || args+=(--client pf)
  mkdir -p "$W/idp"
  [[ -f $W/idp/server.pem ]] || dovecot_make_certs "$W/idp" || return 1
  IDP_CA=$W/idp/ca.pem
  IDP_LOG=$W/idp/requests.log
  rm -f "$W/idp/port"
  "$DC_PYTHON" "$PF_TOP/tests/lib/idp.py" serve --port-file "$W/idp/port" \
    --cert "$W/idp/server.pem" --key "$W/idp/server.key" --log "$IDP_LOG" "${args[@]}" \
    3>&- &
  IDP_PID=$!
  local i
  for ((i = 0; i < 250; i++)); do
    [[ -s $W/idp/port ]] && break
    sleep 0.02
  done
  [[ -s $W/idp/port ]] || { echo "idp.py did not start" >&2; return 1; }
  IDP_PORT=$(<"$W/idp/port")
  IDP_URL=https://127.0.0.1:$IDP_PORT
  export IDP_CA IDP_LOG IDP_PID IDP_PORT IDP_URL
}

idp_stop() {
  [[ -n ${IDP_PID:-} ]] || return 0
  kill "$IDP_PID" 2>/dev/null || true
  wait "$IDP_PID" 2>/dev/null || true
  IDP_PID=
}

idp_ctl() { "$DC_PYTHON" "$PF_TOP/tests/lib/idp.py" ctl --port-file "$W/idp/port" --ca "$IDP_CA" "$1"; }
idp_stats() { "$DC_PYTHON" "$PF_TOP/tests/lib/idp.py" stats --port-file "$W/idp/port" --ca "$IDP_CA" "$@"; }
idp_browse() { "$DC_PYTHON" "$PF_TOP/tests/lib/idp.py" browse --ca "$IDP_CA" "$@"; }

dovecot_start_oauth2() {
  DC_OAUTH2_INTROSPECT=$IDP_URL/introspect DC_OAUTH2_CA=$IDP_CA dovecot_start "$@"
}

pf_rc_oauth2() {
  {
    printf 'account t\nhost 127.0.0.1\nport %s\nuser alice\n' "${DC_POP3S_PORT:-995}"
    printf 'tls implicit\ntls_trust_file %s\ndelivery maildir %s\n' "${DC_CA:-$IDP_CA}" "$MD"
    printf 'oauth2 custom\noauth2_client_id pf\noauth2_trust_file %s\n' "$IDP_CA"
    printf 'oauth2_authorize_url %s/authorize\noauth2_token_url %s/token\n' "$IDP_URL" "$IDP_URL"
    printf 'oauth2_device_url %s/device\noauth2_scope "pop offline_access"\n' "$IDP_URL"
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } >"$RC"
  chmod 600 "$RC"
}
