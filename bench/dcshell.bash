#!/bin/bash
# bench/dcshell.bash — a command loop around tests/lib/dovecot.bash, driven by
# bench/run over a pipe.
#
# bench/run starts this once, sends one shell command per line on stdin and
# reads the command's stdout up to a line "__BENCH_DONE__ RC".  Keeping one
# bash alive for the whole benchmark keeps the Dovecot master our own child
# (so it is reaped and stopped by pid) and keeps DC_* between commands.
#
# Users: BENCH_USERS (space separated) all get the password BENCH_PASS.  They
# replace the library's fixed alice/bob list before dovecot_start reads it.
#
# On EOF (bench/run exited or died) the server is stopped and its directory
# removed.  SIGINT is ignored: bench/run handles ^C and then closes our stdin.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR/.. source=tests/lib/dovecot.bash
source "$here/../tests/lib/dovecot.bash"

_DC_USERS=()
_DC_PASSWORDS=()
for _u in ${BENCH_USERS:?BENCH_USERS is not set}; do
  _DC_USERS+=("$_u")
  # (associative, declared by dovecot.bash: the $ is needed)
  # shellcheck disable=SC2004
  _DC_PASSWORDS[$_u]=${BENCH_PASS:?BENCH_PASS is not set}
done

# With BENCH_STACK=1 (bench/run --server stack, the default when scenario G
# runs) the server runs as a mail stack would for many short sessions,
# appended to the test library's configuration (DC_EXTRA_CONF):
# - pop3-login in high-performance mode (service_count = 0): a few login
#   processes, started beforehand, each serving many connections, instead
#   of a process forked per connection (Dovecot's documented choice for a
#   busy server; the test library's default, a process per connection, is
#   its "high-security" mode);
# - pop3 processes reused (service_count = 0, client_limit stays 1, some
#   started beforehand): safe when every mailbox has one uid, as in stacks
#   with a single virtual-mail user (Mailu, docker-mailserver, mailcow);
# - the auth cache, so a user's password lookup is not repeated per poll;
# - no request for a client certificate (the test library asks for one
#   for its EXTERNAL tests; a stack's POP3 service does not).
# The server certificate stays the library's ECDSA P-256 (the kind a stack
# gets from Let's Encrypt with an ECDSA key; cheaper to sign with than RSA).
if [[ -n ${BENCH_STACK:-} ]]; then
  DC_EXTRA_CONF='ssl_verify_client_cert = no
auth_cache_size = 10M
auth_cache_ttl = 1 hour
service pop3-login {
  service_count = 0
  process_min_avail = 2
}
service pop3 {
  service_count = 0
  process_min_avail = 16
  process_limit = 64
}'
  export DC_EXTRA_CONF
fi

trap '' INT
trap 'dovecot_stop; exit 143' TERM

# bench_reset USER: throw USER's mailbox away (server not in a session).
bench_reset() {
  local md
  md=$(dovecot_maildir "$1") || return 1
  rm -rf -- "$md"
  mkdir -p "$md/cur" "$md/new" "$md/tmp"
  if [[ $EUID -eq 0 ]]; then
    chown nobody:nogroup "$md" "$md/cur" "$md/new" "$md/tmp"
  fi
}

# bench_remove_put USER FIRST N: delete from USER's mailbox the N messages
# that dovecot_put/dovecot_put_dir named FIRST.. FIRST+N-1 (in new/ or, with
# flags appended, in cur/).  Used by scenario C to swap the "new" messages.
bench_remove_put() {
  local md t k
  md=$(dovecot_maildir "$1") || return 1
  for ((k = 0; k < $3; k++)); do
    t=$(($2 + k))
    rm -f -- "$md/new/$t.M$((t - _DC_TIME_BASE)).pfhost" \
      "$md/cur/$t.M$((t - _DC_TIME_BASE)).pfhost"*
  done
}

# bench_start: start the server, with file names whose sequence part has
# the same number of digits (6) for every tool.  Dovecot 2.3 looks Maildir
# names up in a hash table whose hash collides badly for the library's first
# names (1700000000.M0.pfhost, .M1., ...): a session on a 10,000-message
# mailbox named from M0 costs Dovecot ~0.4 s more than one named from
# M100000 (perf: maildir_filename_base_cmp).  Whichever tool's mailbox was
# filled first paid for it in scenario C.
#
# With BENCH_HOME_DIR set (bench/run --tool-fs tmpfs, or scenario L), the users' homes and
# mailboxes move there (the tools' file system) and $DC_DIR/home becomes a link to them:
# the library keeps $DC_DIR under /tmp when we are root.
bench_start() {
  dovecot_start "$@" || return 1
  echo $((_DC_TIME_BASE + 100000)) >"$DC_DIR/put.seq"
  if [[ -n ${BENCH_HOME_DIR:-} ]]; then
    cp -a "$DC_DIR/home" "$BENCH_HOME_DIR/" && rm -rf -- "$DC_DIR/home" &&
      ln -s "$BENCH_HOME_DIR/home" "$DC_DIR/home"
  fi
}

# bench_next_time: the file-name time the next put will use.
bench_next_time() { cat "$DC_DIR/put.seq"; }

while IFS= read -r _line; do
  eval "$_line"
  _rc=$?
  printf '\n__BENCH_DONE__ %d\n' "$_rc"
done
dovecot_stop
