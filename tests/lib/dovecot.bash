# shellcheck shell=bash
#
# tests/lib/dovecot.bash — a private, throw-away Dovecot 2.3 POP3 server for
# popfetch's bats tests.
#
# This file owns everything about the real test server: its temporary
# directory, a throw-away CA and server certificate, the dovecot.conf, starting
# and stopping the master process, filling the users' Maildirs and reading the
# server's own counts back from its log.  Source it from a .bats file:
#
#     load lib/dovecot          # at top level: every test process needs the
#                               # functions, even with setup_file
#     setup()    { dovecot_start; }
#     teardown() { dovecot_stop; }
#
# DC_PYTHON (set here) is a fast python3 for tests/lib/fakepop3.py too.
#
# Functions (all return non-zero and explain on stderr when they fail):
#   dovecot_start [ADDR]          start a server on ADDR (default 127.0.0.1);
#                                 with DC_LMTP=1 set, an LMTP service too
#   dovecot_stop                  stop it and remove its directory (idempotent)
#   dovecot_put USER [FILE]       deliver one message (FILE or stdin)
#   dovecot_put_many USER N SIZE  deliver N generated messages of SIZE bytes
#   dovecot_count USER            number of messages in USER's Maildir
#   dovecot_maildir USER          path of USER's Maildir
#   dovecot_retr_del_counts       "R D": RETRs and DELEs the server counted
#   dovecot_wait_logouts [SECS]   wait until every logged-in session has ended
#   dovecot_log_mark, dovecot_retr_del_since MARK   RETR/DELE counts of the
#                                 sessions begun after the mark
#   dovecot_make_certs DIR        CA + localhost certificate (also usable alone)
#   dovecot_client_cert NAME DIR  a client certificate for NAME signed by the
#                                 server's CA: DIR/NAME.pem and DIR/NAME.key
#
# Variables exported by dovecot_start:
#   DC_DIR DC_ADDR DC_POP3_PORT DC_POP3S_PORT DC_PID DC_LOG
#   DC_CA DC_CA_KEY (CA certificate / key, PEM)  DC_CERT DC_KEY (server's)
#   DC_LMTP_PORT (TCP) DC_LMTP_SOCKET (Unix socket): LMTP, with DC_LMTP=1
#   DC_SASL_SOCKET: Dovecot's auth socket for Postfix's SASL, with DC_SASL=1
#   (needs dovecot-lmtpd; delivers to the users below, e.g. RCPT TO:<bob>)
# DC_EXTRA_CONF, when set before dovecot_start, is appended to dovecot.conf
# (Dovecot merges a repeated `service X {}` block and the last value of a
# setting wins): bench/dcshell.bash gives the bench's server a production
# stack's service settings this way.
#
# Users: alice/secret and bob/hunter2 (stored as PLAIN, so USER/PASS, APOP,
# CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256 all work).
#
# OAuth2 logins (XOAUTH2, OAUTHBEARER): with DC_OAUTH2_INTROSPECT set to an
# RFC 7662 introspection URL (https://127.0.0.1:PORT/introspect, e.g. the
# test identity provider tests/lib/idp.py) and DC_OAUTH2_CA to the PEM file
# of the CA that signed its certificate, dovecot_start adds Dovecot's oauth2
# passdb: a login succeeds only with a token that endpoint calls active for
# that user ({"active": true, "username": USER}); nothing is cached.
# DC_OAUTH2_MECHS (default "xoauth2 oauthbearer") names the OAuth2
# mechanisms it offers: "xoauth2" alone is what Microsoft's servers offer.
#
# Facts this relies on are in /work/shared/dovecot-notes.md.  In short: the
# whole server runs as one unprivileged account (nobody via setpriv when we
# are root, else the current user), never chroots, and keeps every path,
# socket and log inside DC_DIR.  Nothing here ever signals a process other
# than the master we started and its own children (by pid, never by name).

declare -g DOVECOT_BIN=${DOVECOT_BIN:-/usr/sbin/dovecot}
# The system python3 starts in ~20 ms; a pyenv shim on PATH can take 350 ms.
if [[ -z ${DC_PYTHON:-} ]]; then
  if [[ -x /usr/bin/python3 ]]; then DC_PYTHON=/usr/bin/python3; else DC_PYTHON=python3; fi
fi
declare -g DC_PYTHON

# Users created in every instance: name and PLAIN password.
declare -ga _DC_USERS=(alice bob)
# -g: bats' load sources this file inside a function.
declare -gA _DC_PASSWORDS=([alice]=secret [bob]=hunter2)

# First Maildir file-name timestamp; dovecot_put counts up from here.  Fixed,
# so runs are reproducible; it only has to increase strictly.
declare -g _DC_TIME_BASE=1700000000

_dc_err() { printf 'dovecot.bash: %s\n' "$*" >&2; }

# _dc_make_dir: a short private directory.  UNIX sockets live under it and
# their paths must stay below 108 bytes, and when we are root the server's
# account (nobody) must be able to reach it, so fall back to /tmp when
# $TMPDIR is long or when we are root.
_dc_make_dir() {
  local base=${TMPDIR:-/tmp}
  if [[ $EUID -eq 0 || ${#base} -gt 40 ]]; then
    base=/tmp
  fi
  TMPDIR=$base mktemp -d -t pfdc.XXXXXX
}

# dovecot_make_certs DIR: write ca.pem/ca.key (a throw-away CA) and
# server.pem/server.key (CN=localhost, SAN localhost, 127.0.0.1, 127.0.0.2,
# ::1, signed by that CA) into DIR.  EC P-256 keys: about 0.1 s in all.
dovecot_make_certs() {
  local dir=${1:?usage: dovecot_make_certs DIR}
  local out
  if ! out=$(
    set -e
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout ca.key -out ca.pem -days 3650 -subj "/CN=popfetch test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>&1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj "/CN=localhost" 2>&1
    printf '%s\n' \
      "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:::1" \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" \
      "subjectKeyIdentifier=hash" \
      "authorityKeyIdentifier=keyid" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
      -set_serial "0x$(openssl rand -hex 8)" -days 3650 \
      -extfile server.ext -out server.pem 2>&1
    rm -f server.csr server.ext
  ); then
    _dc_err "certificate generation failed:"
    printf '%s\n' "$out" >&2
    return 1
  fi
}

# _dc_free_ports ADDR: print three distinct free TCP ports on ADDR.  The kernel
# picks them; they are released again before dovecot binds them, so a rare
# race is possible — dovecot_start retries with new ports when that happens.
_dc_free_ports() {
  "$DC_PYTHON" - "$1" <<'EOF'
import socket, sys
addr = sys.argv[1]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
socks = []
for _ in range(3):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((addr, 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# _dc_pid_alive PID: true while PID exists and is not a zombie.
_dc_pid_alive() {
  local stat
  [[ -r /proc/$1/stat ]] || return 1
  # the process may vanish between the test above and the read
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # the field after "(comm) " is the state
  [[ ${stat:0:1} != Z ]]
}

# _dc_write_conf: write $DC_DIR/dovecot.conf for the current DC_* settings.
# Arguments: internal user, internal group, mail uid, mail gid.
_dc_write_conf() {
  local user=$1 group=$2 uid=$3 gid=$4
  cat >"$DC_DIR/dovecot.conf" <<EOF
# Written by tests/lib/dovecot.bash; -c replaces the whole configuration.
instance_name = ${DC_DIR##*/}
base_dir = $DC_DIR/run
state_dir = $DC_DIR/state
log_path = $DC_LOG
info_log_path = $DC_LOG
debug_log_path = $DC_LOG

protocols = pop3${DC_LMTP:+ lmtp}
listen = $DC_ADDR

# Everything runs as one unprivileged account.
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
first_valid_uid = 1
first_valid_gid = 1

ssl = yes
ssl_cert = <$DC_CERT
ssl_key = <$DC_KEY
# Client certificates signed by the test CA are accepted (not required);
# EXTERNAL takes the user name from the certificate's CN.
ssl_ca = <$DC_CA
ssl_verify_client_cert = yes
ssl_require_crl = no
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
# Loopback (127.0.0.1) always counts as secured; 127.0.0.2 does not, so there
# this refuses USER/PASS before STLS.
disable_plaintext_auth = yes

auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop external${DC_OAUTH2_INTROSPECT:+ ${DC_OAUTH2_MECHS:-xoauth2 oauthbearer}}
auth_verbose = yes
# Failed logins cost ~0.5 s instead of 2 s plus a growing per-IP penalty
# (see also the anvil-auth-penalty listener below).
auth_failure_delay = 0

$(_dc_oauth2_passdb)
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC_DIR/users
  # (Dovecot 2.3 has no negation here: list every other mechanism.)
  mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop
}
# EXTERNAL: the verified client certificate is the credential.
passdb {
  driver = static
  args = nopassword=y
  mechanisms = external
}
userdb {
  driver = passwd-file
  args = username_format=%u $DC_DIR/users
  default_fields = uid=$uid gid=$gid home=$DC_DIR/home/%u
}

mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
mail_max_userip_connections = 50

service pop3-login {
  chroot =
  inet_listener pop3 {
    port = $DC_POP3_PORT
  }
  inet_listener pop3s {
    port = $DC_POP3S_PORT
    ssl = yes
  }
}
service anvil {
  chroot =
  # mode 0 disables the per-IP authentication failure penalty.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service ipc {
  chroot =
}
service old-stats {
  chroot =
}
service auth-worker {
  user = $user
}
EOF
  if [[ -n ${DC_SASL:-} ]]; then
    cat >>"$DC_DIR/dovecot.conf" <<EOF
# Dovecot SASL for a private Postfix (tests/lib/postfix.bash, smtpd_sasl_type dovecot)
service auth {
  unix_listener auth-smtp {
    mode = 0666
  }
}
EOF
  fi
  if [[ -n ${DC_EXTRA_CONF:-} ]]; then
    printf '# DC_EXTRA_CONF\n%s\n' "$DC_EXTRA_CONF" >>"$DC_DIR/dovecot.conf"
  fi
  if [[ -n ${DC_LMTP:-} ]]; then
    cat >>"$DC_DIR/dovecot.conf" <<EOF
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    port = $DC_LMTP_PORT
  }
}
EOF
  fi
}

# _dc_oauth2_passdb: the oauth2 passdb block (and its args file) when
# DC_OAUTH2_INTROSPECT is set; nothing otherwise.
_dc_oauth2_passdb() {
  [[ -n ${DC_OAUTH2_INTROSPECT:-} ]] || return 0
  cp -- "${DC_OAUTH2_CA:?DC_OAUTH2_CA: the CA of the introspection endpoint}" \
    "$DC_DIR/oauth2-ca.pem"
  cat >"$DC_DIR/oauth2.conf" <<EOF2
introspection_mode = post
introspection_url = $DC_OAUTH2_INTROSPECT
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $DC_DIR/oauth2-ca.pem
EOF2
  [[ $EUID -eq 0 ]] && chown nobody:nogroup "$DC_DIR/oauth2-ca.pem" "$DC_DIR/oauth2.conf"
  printf 'passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s\n}\n' \
    "$DC_DIR/oauth2.conf"
}

# _dc_launch: start the master on the current ports and wait until it is
# listening.  Returns 0 when ready, 1 on failure, 2 when a port was taken
# (caller retries with other ports).
_dc_launch() {
  local -a cmd=("$DOVECOT_BIN" -F -c "$DC_DIR/dovecot.conf")
  if [[ $EUID -eq 0 ]]; then
    cmd=(setpriv --reuid=nobody --regid=nogroup --clear-groups "${cmd[@]}")
  fi
  : >"$DC_LOG"
  [[ $EUID -eq 0 ]] && chown nobody:nogroup "$DC_LOG"
  # Close fd 3 (bats waits for it) and keep the master's own output.
  "${cmd[@]}" </dev/null >"$DC_DIR/stderr.log" 2>&1 3>&- &
  DC_PID=$!
  export DC_PID

  # The master binds both listeners before it logs "starting up", so that
  # line means both ports accept connections (without making a connection
  # that would show up in the log).  Poll every 20 ms for up to ~5 s.
  local i
  for ((i = 0; i < 250; i++)); do
    if grep -q 'starting up' "$DC_LOG" 2>/dev/null; then
      return 0
    fi
    _dc_pid_alive "$DC_PID" || break
    sleep 0.02
  done

  local rc=1
  if grep -qi 'address already in use' "$DC_LOG" "$DC_DIR/stderr.log" 2>/dev/null; then
    rc=2
  else
    _dc_err "dovecot did not become ready on $DC_ADDR:$DC_POP3_PORT/$DC_POP3S_PORT"
  fi
  _dc_kill_master
  return "$rc"
}

# dovecot_start [ADDR]: create a fresh instance and start it (see header).
dovecot_start() {
  local addr=${1:-127.0.0.1}
  if [[ -n ${DC_PID:-} ]] && _dc_pid_alive "$DC_PID"; then
    _dc_err "a server is already running (pid $DC_PID); call dovecot_stop first"
    return 1
  fi

  local user group uid gid
  if [[ $EUID -eq 0 ]]; then
    user=nobody group=nogroup
    uid=$(id -u nobody) gid=$(getent group nogroup | cut -d: -f3)
  else
    user=$(id -un) group=$(id -gn) uid=$(id -u) gid=$(id -g)
  fi

  DC_DIR=$(_dc_make_dir) || { _dc_err "mktemp failed"; return 1; }
  DC_ADDR=$addr
  DC_LOG=$DC_DIR/dovecot.log
  DC_CA=$DC_DIR/ca.pem
  DC_CA_KEY=$DC_DIR/ca.key
  DC_CERT=$DC_DIR/server.pem
  DC_KEY=$DC_DIR/server.key
  export DC_DIR DC_ADDR DC_LOG DC_CA DC_CA_KEY DC_CERT DC_KEY

  dovecot_make_certs "$DC_DIR" || { dovecot_stop; return 1; }

  local u
  : >"$DC_DIR/users"
  for u in "${_DC_USERS[@]}"; do
    printf '%s:{PLAIN}%s::::::\n' "$u" "${_DC_PASSWORDS[$u]}" >>"$DC_DIR/users"
    mkdir -p "$DC_DIR/home/$u/Maildir/"{cur,new,tmp}
  done
  mkdir -p "$DC_DIR/run" "$DC_DIR/state"
  echo "$_DC_TIME_BASE" >"$DC_DIR/put.seq"
  chmod 711 "$DC_DIR"
  if [[ $EUID -eq 0 ]]; then
    chown -R nobody:nogroup "$DC_DIR"
  fi

  local attempt ports rc=1
  for attempt in 1 2 3 4 5; do
    ports=$(_dc_free_ports "$addr") || { _dc_err "cannot bind to $addr"; break; }
    read -r DC_POP3_PORT DC_POP3S_PORT DC_LMTP_PORT <<<"$ports"
    DC_LMTP_SOCKET=$DC_DIR/run/lmtp
    DC_SASL_SOCKET=$DC_DIR/run/auth-smtp
    export DC_POP3_PORT DC_POP3S_PORT DC_LMTP_PORT DC_LMTP_SOCKET DC_SASL_SOCKET
    _dc_write_conf "$user" "$group" "$uid" "$gid"
    _dc_launch && return 0
    rc=$?
    [[ $rc -eq 2 ]] || break
    _dc_err "port taken (attempt $attempt), retrying with other ports"
  done

  {
    echo "----- $DC_LOG"
    cat "$DC_LOG" 2>/dev/null
    echo "----- dovecot stderr"
    cat "$DC_DIR/stderr.log" 2>/dev/null
    echo "-----"
  } >&2
  dovecot_stop
  return 1
}

# _dc_kill_master: SIGTERM the master and its own children, wait up to ~5 s,
# then SIGKILL what is left.  Reaps the master when it is our child.
#
# Why the children too: on SIGTERM alone the master waits about 1.1 s before
# it exits, and about 6 s when it is signalled within a few milliseconds of
# starting up (anvil is then still reading its configuration).  Signalling the
# master and its children (all dovecot processes of this instance are direct
# children of the master) together makes it exit in ~20 ms.
_dc_kill_master() {
  local pid=${DC_PID:-} i
  local -a kids=()
  [[ -n $pid ]] || return 0
  if _dc_pid_alive "$pid"; then
    mapfile -t kids < <(pgrep -P "$pid" 2>/dev/null || true)
    kill -TERM "$pid" "${kids[@]}" 2>/dev/null || true
    for ((i = 0; i < 250; i++)); do
      _dc_pid_alive "$pid" || break
      sleep 0.02
    done
    if _dc_pid_alive "$pid"; then
      _dc_err "dovecot (pid $pid) ignored SIGTERM; killing it"
      mapfile -t -O "${#kids[@]}" kids < <(pgrep -P "$pid" 2>/dev/null || true)
      kill -KILL "$pid" "${kids[@]}" 2>/dev/null || true
      sleep 0.1
    fi
  fi
  wait "$pid" 2>/dev/null || true   # reap it if it was our child
  # A child that outlived the master (should not happen) gets SIGKILL.
  for i in "${kids[@]}"; do
    if _dc_pid_alive "$i"; then
      kill -KILL "$i" 2>/dev/null || true
    fi
  done
  DC_PID=
}

# dovecot_stop: stop the server and remove its directory.  Safe to call
# twice or without a running server.
dovecot_stop() {
  _dc_kill_master
  if [[ -n ${DC_DIR:-} && -d $DC_DIR && ${DC_DIR##*/} == pfdc.* ]]; then
    rm -rf -- "$DC_DIR"
  fi
  DC_DIR=
}

# _dc_check_user USER: the user must be one we created.
_dc_check_user() {
  if [[ -z ${DC_DIR:-} || ! -d ${DC_DIR:-/nonexistent} ]]; then
    _dc_err "no server; call dovecot_start first"
    return 1
  fi
  if [[ -z ${1:-} || ! -d $DC_DIR/home/$1/Maildir ]]; then
    _dc_err "unknown user '${1:-}'"
    return 1
  fi
}

# dovecot_maildir USER: print the path of USER's Maildir on the server.
dovecot_maildir() {
  _dc_check_user "${1:-}" || return 1
  printf '%s\n' "$DC_DIR/home/$1/Maildir"
}

# _dc_next_times N: reserve N consecutive file-name timestamps; prints the
# first.  The counter lives in a file, so it survives bats running each test
# in its own process (e.g. dovecot_start in setup_file).
_dc_next_times() {
  local first
  first=$(<"$DC_DIR/put.seq")
  echo $((first + $1)) >"$DC_DIR/put.seq"
  echo "$first"
}

# dovecot_put USER [FILE]: deliver one message from FILE (or stdin) into
# USER's Maildir/new.  Messages get POP3 numbers in the order they are put.
dovecot_put() {
  _dc_check_user "${1:-}" || return 1
  local md=$DC_DIR/home/$1/Maildir src=${2:--} t name
  if [[ $src != - && ! -r $src ]]; then
    _dc_err "cannot read '$src'"
    return 1
  fi
  mkdir -p "$md/cur" "$md/new" "$md/tmp"
  t=$(_dc_next_times 1)
  name=$t.M$((t - _DC_TIME_BASE)).pfhost
  if [[ $src == - ]]; then
    cat >"$md/tmp/$name" || return 1
  else
    cat -- "$src" >"$md/tmp/$name" || return 1
  fi
  if [[ $EUID -eq 0 ]]; then
    chown nobody:nogroup "$md" "$md/cur" "$md/new" "$md/tmp" "$md/tmp/$name"
  fi
  mv -- "$md/tmp/$name" "$md/new/$name"
}

# dovecot_put_many USER N SIZE: deliver N generated messages of SIZE bytes
# each (exactly, on disk with LF line ends, unless SIZE is smaller than the
# headers).  Subject "msg 00001", "msg 00002", ...; distinct Message-IDs;
# body lines of 70 characters.  One python3 process: 10,000 x 4 KiB ~ 1 s.
dovecot_put_many() {
  _dc_check_user "${1:-}" || return 1
  local n=${2:-} size=${3:-}
  if ! [[ $n =~ ^[0-9]+$ && $size =~ ^[0-9]+$ ]]; then
    _dc_err "usage: dovecot_put_many USER N SIZE"
    return 1
  fi
  local md=$DC_DIR/home/$1/Maildir first owner=
  mkdir -p "$md/cur" "$md/new" "$md/tmp"
  first=$(_dc_next_times "$n")
  if [[ $EUID -eq 0 ]]; then
    owner="$(id -u nobody):$(getent group nogroup | cut -d: -f3)"
    chown "$owner" "$md" "$md/cur" "$md/new" "$md/tmp"
  fi
  "$DC_PYTHON" - "$md" "$n" "$size" "$first" "$_DC_TIME_BASE" "$1" "$owner" <<'EOF'
import os, sys
md, n, size, first, base, user, owner = sys.argv[1:]
n, size, first, base = int(n), int(size), int(first), int(base)
uid, gid = map(int, owner.split(":")) if owner else (None, None)
alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
for i in range(1, n + 1):
    t = first + i - 1
    seq = t - base
    head = (
        f"Return-Path: <sender@example.org>\n"
        f"From: Test Sender <sender@example.org>\n"
        f"To: {user}@example.org\n"
        f"Subject: msg {i:05d}\n"
        f"Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
        f"Message-ID: <pf-{seq}.{i}@popfetch.test>\n"
        f"MIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=us-ascii\n"
        f"\n"
    )
    parts = [head]
    left = size - len(head)
    j = 0
    while left > 0:
        # 70 characters + LF; the last line is shortened to hit SIZE exactly.
        k = j % len(alpha)
        line = (f"{i:05d}.{j:05d} " + (alpha[k:] + alpha[:k]) * 2)[:70]
        line = line[: max(left - 1, 0)] + "\n"
        parts.append(line)
        left -= len(line)
        j += 1
    name = f"{t}.M{seq}.pfhost"
    tmp = os.path.join(md, "tmp", name)
    with open(tmp, "w", encoding="ascii") as f:
        f.write("".join(parts))
    if uid is not None:
        os.chown(tmp, uid, gid)
    os.rename(tmp, os.path.join(md, "new", name))
EOF
}

# dovecot_count USER: number of messages in USER's Maildir (new + cur).
dovecot_count() {
  _dc_check_user "${1:-}" || return 1
  local md=$DC_DIR/home/$1/Maildir
  find "$md/new" "$md/cur" -maxdepth 1 -type f ! -name '.*' | wc -l
}

# dovecot_wait_logouts [SECS]: wait (default up to 20 s) until every
# successful login has its "Disconnected" line in the log.  The pop3 process
# writes that line only after answering QUIT, so a test that just saw its
# client exit may otherwise read the log too early; on a loaded machine
# (make check beside other builds) the line has come 5 s late.  (Dovecot 2.3 writes
# "pop3-login: Info: Login: user=<...>"; the level may be left out.)
dovecot_wait_logouts() {
  local limit=${1:-20} i logins outs
  for ((i = 0; i < limit * 50; i++)); do
    logins=$(grep -cE 'pop3-login: (Info: )?Login: ' "$DC_LOG" 2>/dev/null) || true
    outs=$(grep -c 'pop3(.*Disconnected.* retr=' "$DC_LOG" 2>/dev/null) || true
    ((${outs:-0} >= ${logins:-0})) && return 0
    sleep 0.02
  done
  _dc_err "still ${logins:-?} logins but ${outs:-?} logouts after ${limit}s"
  return 1
}

# dovecot_retr_del_counts: print "R D", the sums of retr= and del= over all
# the server's "Disconnected: ... top=T/b, retr=R/b, del=D/total" lines —
# the server's own count of messages retrieved and deleted.  Waits for
# pending logouts first (see dovecot_wait_logouts); prints nothing and fails
# when one is still pending after 20 s (the sums would leave its RETRs out).
dovecot_retr_del_counts() {
  [[ -n ${DC_LOG:-} ]] || { _dc_err "no server; call dovecot_start first"; return 1; }
  dovecot_wait_logouts || return 1
  awk '
    /Disconnected/ && / retr=/ {
      if (match($0, / retr=[0-9]+/)) r += substr($0, RSTART + 6, RLENGTH - 6)
      if (match($0, / del=[0-9]+/))  d += substr($0, RSTART + 5, RLENGTH - 5)
    }
    END { printf "%d %d\n", r, d }
  ' "$DC_LOG"
}

# dovecot_log_mark: the log's length now, for dovecot_retr_del_since.
dovecot_log_mark() {
  [[ -n ${DC_LOG:-} ]] || { _dc_err "no server; call dovecot_start first"; return 1; }
  wc -l <"$DC_LOG"
}

# dovecot_retr_del_since MARK: print "R D" as dovecot_retr_del_counts does,
# but only for the sessions that logged in after dovecot_log_mark printed
# MARK, matched by their session ids; waits (up to 20 s) for each one's
# Disconnected line.  A session killed before the mark may never get its
# line: at load, Dovecot's pop3 process has been seen still waiting a
# minute after its client was SIGKILLed in the middle of a large RETR, so
# comparing totals around a rerun would wait on it.
dovecot_retr_del_since() {
  local mark=${1:?usage: dovecot_retr_del_since MARK} i out
  for ((i = 0; i < 20 * 50; i++)); do
    out=$(awk -v mark="$mark" '
      NR > mark && /pop3-login: (Info: )?Login: / && match($0, /session=<[^>]+>/) {
        want[substr($0, RSTART + 9, RLENGTH - 10)] = 1; n++
      }
      /Disconnected/ && / retr=/ && match($0, /><[^>]+>: /) {
        id = substr($0, RSTART + 2, RLENGTH - 5)
        if (!(id in want) || (id in seen)) next
        seen[id] = 1; got++
        if (match($0, / retr=[0-9]+/)) r += substr($0, RSTART + 6, RLENGTH - 6)
        if (match($0, / del=[0-9]+/))  d += substr($0, RSTART + 5, RLENGTH - 5)
      }
      END { if (got == n) printf "%d %d\n", r, d }
    ' "$DC_LOG")
    [[ -n $out ]] && { echo "$out"; return 0; }
    sleep 0.02
  done
  _dc_err "a session logged in after line $mark has no Disconnected line after 20s"
  return 1
}

# dovecot_put_dir USER DIR: deliver every file in DIR, in numeric order of
# their names, with one python3 process (fast for hundreds of messages).
dovecot_put_dir() {
  _dc_check_user "${1:-}" || return 1
  local md=$DC_DIR/home/$1/Maildir dir=${2:?usage: dovecot_put_dir USER DIR} n first owner=
  n=$(find "$dir" -maxdepth 1 -type f | wc -l)
  mkdir -p "$md/cur" "$md/new" "$md/tmp"
  first=$(_dc_next_times "$n")
  if [[ $EUID -eq 0 ]]; then
    owner="$(id -u nobody):$(getent group nogroup | cut -d: -f3)"
    chown "$owner" "$md" "$md/cur" "$md/new" "$md/tmp"
  fi
  "$DC_PYTHON" - "$md" "$dir" "$first" "$_DC_TIME_BASE" "$owner" <<'EOF2'
import os, shutil, sys
md, src, first, base, owner = sys.argv[1:]
first, base = int(first), int(base)
uid, gid = map(int, owner.split(":")) if owner else (None, None)
def key(name):
    return (0, int(name)) if name.isdigit() else (1, name)
for k, name in enumerate(sorted(os.listdir(src), key=key)):
    t = first + k
    fname = f"{t}.M{t - base}.pfhost"
    tmp = os.path.join(md, "tmp", fname)
    shutil.copyfile(os.path.join(src, name), tmp)
    if uid is not None:
        os.chown(tmp, uid, gid)
    os.rename(tmp, os.path.join(md, "new", fname))
EOF2
}

# dovecot_client_cert NAME DIR: a client certificate (CN=NAME) signed by the
# running server's CA, written to DIR/NAME.pem and DIR/NAME.key.
dovecot_client_cert() {
  local name=${1:?usage: dovecot_client_cert NAME DIR} dir=${2:?usage: dovecot_client_cert NAME DIR}
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null &&
    printf 'extendedKeyUsage=clientAuth\n' >"$dir/$name.ext" &&
    openssl x509 -req -in "$dir/$name.csr" -CA "$DC_CA" -CAkey "$DC_CA_KEY" \
      -set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$dir/$name.ext" \
      -out "$dir/$name.pem" 2>/dev/null &&
    rm -f "$dir/$name.csr" "$dir/$name.ext"
}
