# shellcheck shell=bash
#
# tests/lib/postfix.bash — a private, throw-away Postfix for the SMTP
# delivery tests: its own config_directory, queue and logs in a temporary
# directory, smtpd on 127.0.0.1 and a free port, virtual delivery into
# Maildirs there, STARTTLS with the test CA's certificate, XFORWARD allowed
# from 127.0.0.1, and a sender restriction that rejects
# rejected@spam.example; the message's own Return-Path: field is kept
# (message_drop_headers) so what arrives can be compared byte for byte.
# Never touches the system instance and never binds
# port 25.
#
#   postfix_start            sets PX_DIR PX_PORT PX_SMTPS_PORT (implicit TLS)
#                            PX_CA (needs root: Postfix's master and its
#                            queue permissions); with DC_SASL=1 and the
#                            test Dovecot started first, PX_SUB_PORT too: a
#                            submission port taking mail only after AUTH
#                            (Dovecot's SASL, the Dovecot users), which it
#                            offers only after STARTTLS
#   postfix_stop             `postfix -c DIR stop`, then the master by pid
#   postfix_maildir USER     USER@test.example's Maildir
#   postfix_wait_count USER N [SECS]  wait until USER's Maildir holds N
#                            messages (Postfix delivers after it answered)
#
# Facts it relies on are in /work/shared/dovecot-notes.md ("A private
# Postfix 3.7"): Debian's package installed with "No configuration" leaves
# no /etc/postfix/main.cf, and `postfix -c DIR` needs one (a single
# compatibility_level line), which postfix_start writes when it is missing.

_px_err() { printf 'postfix.bash: %s\n' "$*" >&2; }

postfix_start() {
  if [[ $EUID -ne 0 ]]; then
    _px_err "the private Postfix needs root"
    return 1
  fi
  command -v postfix >/dev/null || { _px_err "postfix is not installed"; return 1; }
  [[ -e /etc/postfix/main.cf ]] || echo "compatibility_level = 3.6" >/etc/postfix/main.cf
  PX_DIR=$(TMPDIR=/tmp mktemp -d -t pfpx.XXXXXX) || return 1
  chmod 755 "$PX_DIR"
  read -r PX_PORT PX_SMTPS_PORT PX_SUB_PORT < <(_dc_free_ports 127.0.0.1)
  mkdir -p "$PX_DIR/certs" "$PX_DIR/vmail/bob/Maildir"/{cur,new,tmp} "$PX_DIR/queue" "$PX_DIR/data"
  chown postfix "$PX_DIR/data"
  dovecot_make_certs "$PX_DIR/certs" || return 1
  PX_CA=$PX_DIR/certs/ca.pem
  local uid gid
  uid=$(id -u nobody) gid=$(getent group nogroup | cut -d: -f3)
  chown -R "$uid:$gid" "$PX_DIR/vmail"
  printf 'bob@test.example bob/Maildir/\n' >"$PX_DIR/vmailbox"
  printf 'rejected@spam.example REJECT spam is not welcome\n' >"$PX_DIR/senders"
  cat >"$PX_DIR/main.cf" <<EOF2
compatibility_level = 3.6
queue_directory = $PX_DIR/queue
data_directory = $PX_DIR/data
maillog_file = $PX_DIR/maillog
maillog_file_prefixes = $PX_DIR
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = px.test.example
mydestination =
mynetworks = 127.0.0.0/8
local_header_rewrite_clients =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_sender_restrictions = check_sender_access texthash:$PX_DIR/senders
smtpd_authorized_xforward_hosts = 127.0.0.0/8
virtual_mailbox_domains = test.example
virtual_mailbox_base = $PX_DIR/vmail
virtual_mailbox_maps = texthash:$PX_DIR/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
smtpd_tls_cert_file = $PX_DIR/certs/server.pem
smtpd_tls_key_file = $PX_DIR/certs/server.key
smtpd_tls_security_level = may
# Postfix drops a message's own Return-Path: by default (the envelope
# sender's takes its place); keep it so the byte-for-byte checks hold.
message_drop_headers = bcc, content-length, resent-bcc
EOF2
  # the system's master.cf with the smtpd on our port and no chroot anywhere
  awk -v port="$PX_PORT" '
    /^#/ || /^[ \t]/ || NF < 8 { print; next }
    $1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
    { $5 = "n"; print }' /etc/postfix/master.cf >"$PX_DIR/master.cf"
  printf '127.0.0.1:%s inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n' \
    "$PX_SMTPS_PORT" >>"$PX_DIR/master.cf"
  if [[ -n ${DC_SASL:-} ]]; then
    printf '127.0.0.1:%s inet n - n - - smtpd %s\n' "$PX_SUB_PORT" \
      "-o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=$DC_SASL_SOCKET -o smtpd_tls_auth_only=yes -o smtpd_relay_restrictions=permit_sasl_authenticated,reject -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject" \
      >>"$PX_DIR/master.cf"
  fi
  {
    postfix -c "$PX_DIR" post-install create-missing &&
      postfix -c "$PX_DIR" set-permissions &&
      postfix -c "$PX_DIR" start
  } >"$PX_DIR/start.log" 2>&1 || {
    _px_err "postfix did not start:"
    cat "$PX_DIR/start.log" "$PX_DIR/maillog" >&2 2>/dev/null
    return 1
  }
  local i
  for ((i = 0; i < 250; i++)); do
    "$DC_PYTHON" -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" \
      "$PX_PORT" 2>/dev/null && break
    sleep 0.02
  done
  export PX_DIR PX_PORT PX_SMTPS_PORT PX_SUB_PORT PX_CA
}

postfix_stop() {
  [[ -n ${PX_DIR:-} && -d $PX_DIR ]] || return 0
  local pid=
  [[ -r $PX_DIR/queue/pid/master.pid ]] && pid=$(tr -d ' \n' <"$PX_DIR/queue/pid/master.pid")
  postfix -c "$PX_DIR" stop >/dev/null 2>&1 || true
  if [[ -n $pid ]]; then
    local i
    for ((i = 0; i < 250; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.02
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$PX_DIR"
  PX_DIR=
}

postfix_maildir() { printf '%s\n' "$PX_DIR/vmail/$1/Maildir"; }

postfix_wait_count() {
  local md i n
  md=$(postfix_maildir "$1")
  for ((i = 0; i < ${3:-10} * 10; i++)); do
    n=$(find "$md/new" "$md/cur" -type f | wc -l)
    [[ $n -ge $2 ]] && break
    sleep 0.1
  done
  [[ $n -eq $2 ]] || { _px_err "$md holds $n messages, expected $2"; tail -20 "$PX_DIR/maillog" >&2; return 1; }
}
