#!/usr/bin/env bats
# Faults on our side, on real small or read-only file systems (tmpfs):
# a full disk under the Maildir or the state, a read-only state directory,
# a Maildir whose parent does not exist. Nothing undelivered is deleted,
# the state stays consistent, and the next run with room delivers once.

load lib/common

setup() {
  pf_setup
  SMALL=$W/small
  mkdir -p "$SMALL"
  # lint-bats: allow mounting a tmpfs needs root (CAP_SYS_ADMIN), which no make target can give
  mount -t tmpfs -o size=${SMALL_SIZE:-200k} tmpfs "$SMALL" 2>/dev/null || skip "cannot mount a tmpfs here"
  dovecot_start
}

teardown() {
  mountpoint -q "$SMALL" && umount "$SMALL"
  pf_teardown
}

put_samples() { # N BODY_LINES
  mkdir -p "$W/orig"
  local i
  for ((i = 1; i <= $1; i++)); do
    { printf 'Subject: lf %d\n\n' "$i"; for ((j = 0; j < $2; j++)); do echo "line $j of message $i"; done; } >"$W/orig/$i"
    dovecot_put alice "$W/orig/$i"
  done
}

@test "Maildir on a full disk: nothing undelivered is deleted; the next run delivers once" {
  put_samples 6 2500   # ~55 KB each: three fit in 200 KiB, six do not
  pf_rc_dovecot implicit
  sed -i "s|^delivery .*|delivery maildir $SMALL/md|" "$RC"
  pf_run
  [ "$status" -eq 10 ] # local storage failed
  [[ $output == *"disk is full"* || $output == *"No space left"* ]]
  local got
  got=$(mailcheck count "$SMALL/md")
  mailcheck clean "$SMALL/md"
  # exactly what was delivered left the server
  [ "$(dovecot_count alice)" -eq $((6 - got)) ]
  mailcheck gone-are-delivered "$SMALL/md" "$(dovecot_maildir alice)" "$W"/orig/*
  # room again: the next run delivers the rest, once
  mkdir -p "$W/md"
  cp -a "$SMALL/md/." "$W/md/"
  umount "$SMALL"
  sed -i "s|^delivery .*|delivery maildir $W/md|" "$RC"
  pf_run
  [ "$status" -eq 0 ]
  mailcheck same "$W/md" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "state on a full disk: a clear error, nothing deleted, the next run is consistent" {
  put_samples 3 20
  # fill the small file system up to the last few bytes
  head -c $((200 * 1024 - 200)) /dev/zero >"$SMALL/filler" 2>/dev/null || true
  pf_rc_dovecot implicit
  run "$POPFETCH" -f "$RC" --state-dir "$SMALL/state"
  [ "$status" -eq 10 ] # local storage failed
  [[ $output == *"state"* || $output == *"journal"* || $output == *"No space"* ]]
  [ "$(dovecot_count alice)" -eq 3 ]
  # with room (a new state dir), every message once
  rm -f "$SMALL/filler"
  run "$POPFETCH" -f "$RC" --state-dir "$SMALL/state"
  [ "$status" -eq 0 ]
  mailcheck same "$MD" "$W"/orig/*
  [ "$(dovecot_count alice)" -eq 0 ]
}

@test "read-only state directory and a Maildir without parent: clear errors, nothing fetched" {
  put_samples 1 5
  mkdir -p "$SMALL/state"
  mount -o remount,ro "$SMALL"
  pf_rc_dovecot implicit
  run "$POPFETCH" -f "$RC" --state-dir "$SMALL/state"
  [ "$status" -eq 10 ]
  [[ $output == *"Read-only file system"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
  if grep -q 'Login: user=<alice>' "$DC_LOG"; then false; fi
  sed -i "s|^delivery .*|delivery maildir $W/no/such/parent/md|" "$RC"
  pf_run
  [ "$status" -eq 10 ]
  [[ $output == *"parent directory does not exist"* ]]
  [ "$(dovecot_count alice)" -eq 1 ]
}
