#!/usr/bin/env bats
# popfetch under valgrind (memcheck) against the real Dovecot: no invalid
# access, no use of uninitialised memory, no definite leak, whatever the
# sink, with and without pipelining, on success and on a wrong password.

load lib/common

setup() {
  command -v valgrind >/dev/null || { echo "valgrind is not installed: make deps"; false; }
  # lint-bats: allow make check SANITIZE=1 runs the same code under ASan/UBSan instead
  [[ ${SANITIZE:-} != 1 ]] || skip "valgrind cannot run a sanitizer build"
  pf_setup
  dovecot_start
}

teardown() { pf_teardown; }

vg() {
  run valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    "$POPFETCH" -f "$RC" --state-dir "$SD" "$@"
}

@test "valgrind: Maildir (pipelined and not), mbox, MDA, keep, wrong password" {
  dovecot_put_many alice 30 3000
  pf_rc_dovecot implicit "keep on"
  vg
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  pf_rc_dovecot starttls "pipelining off" "keep on"
  sed -i "s|^delivery .*|delivery mbox $W/mbox|" "$RC"
  vg -a
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  pf_rc_dovecot implicit
  sed -i "s|^delivery .*|delivery mda \"/bin/sh -c 'cat >/dev/null'\"|" "$RC"
  vg -v -a
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(dovecot_count alice)" -eq 0 ]
  pf_rc_dovecot implicit
  sed -i 's/^password .*/password wrong/' "$RC"
  vg
  [ "$status" -eq 3 ] || { echo "$output"; false; }
}
