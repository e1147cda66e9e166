#!/usr/bin/env bats
# The daemon as a scheduler for many accounts (-d with -j): 200 accounts,
# each with its own state, polled every cycle with jitter within its
# documented bound (a tenth of the interval), a hanging server and a wrong
# password delaying nobody else, a failing account retried with a growing
# back-off and reported once, and the daemon's memory and descriptors flat
# from cycle to cycle. The server is tests/lib/manypop3.py (many short
# plain-text sessions a second; it logs every login, so what was polled is
# checked on the server's side too).

load lib/common

setup() {
  pf_setup
  MANY_PID=
  DPID=
}

teardown() {
  if [[ -n ${DPID:-} ]]; then kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
  if [[ -n ${MANY_PID:-} ]]; then kill "$MANY_PID" 2>/dev/null || true; wait "$MANY_PID" 2>/dev/null || true; fi
  pf_teardown
}

many_start() {
  rm -f "$W/many.port" "$W/stall.port"
  "$DC_PYTHON" "$PF_TOP/tests/lib/manypop3.py" --port-file "$W/many.port" \
    --stall-port-file "$W/stall.port" --log "$W/logins" 3>&- &
  MANY_PID=$!
  local i
  for ((i = 0; i < 250; i++)); do
    if [[ -s $W/many.port ]]; then break; fi
    sleep 0.02
  done
  MANY_PORT=$(<"$W/many.port")
  STALL_PORT=$(<"$W/stall.port")
}

# many_config N: accounts `bad` (wrong password) and `hang` (a server that
# never answers), then a001..aN (password right), each with a state
# directory of its own.
many_config() {
  local i
  {
    printf 'defaults\nhost 127.0.0.1\nport %s\ntls off\nallow_plaintext on\nauth user\n\n' "$MANY_PORT"
    printf 'account bad\nuser ubad\npassword nope\ndelivery maildir %s/md/bad\nstate_dir %s/st/bad\n\n' "$W" "$W"
    printf 'account hang\ntimeout 4\nport %s\nuser uhang\npassword pw-uhang\ndelivery maildir %s/md/hang\nstate_dir %s/st/hang\n' \
      "$STALL_PORT" "$W" "$W"
    for ((i = 1; i <= $1; i++)); do
      printf 'account a%03d\nuser u%03d\npassword pw-u%03d\ndelivery maildir %s/md/a%03d\nstate_dir %s/st/a%03d\n\n' \
        "$i" "$i" "$i" "$W" "$i" "$W" "$i"
    done
  } >"$RC"
  chmod 600 "$RC"
  mkdir -p "$W/md"
}

# bad_polled COUNT: the account `bad` has at least COUNT --json lines
bad_polled() { [ "$(grep -c '"account":"bad"' "$W/out.jsonl")" -ge "$1" ]; }

# every_good_polled N COUNT: each of a001..aN has at least COUNT lines
every_good_polled() {
  "$DC_PYTHON" - "$W/out.jsonl" "$1" "$2" <<'PY'
import collections, json, sys
n, want = int(sys.argv[2]), int(sys.argv[3])
c = collections.Counter()
for line in open(sys.argv[1]):
    try:
        c[json.loads(line)["account"]] += 1
    except ValueError:
        pass  # a line being written
sys.exit(0 if all(c[f"a{i:03d}"] >= want for i in range(1, n + 1)) else 1)
PY
}

# wait_until SECONDS CMD...
wait_until() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 4; i++)); do
    if "$@"; then return 0; fi
    sleep 0.25
  done
  return 1
}

# fds_not_pipes PID / rss_kib PID: the daemon's own descriptors other than
# the pipes of running polls (the fewest of 10 looks: a status file being
# written is open for a moment), and its resident set
fds_not_pipes() {
  local i n min=
  for ((i = 0; i < 10; i++)); do
    n=$(find "/proc/$1/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | grep -vc '^pipe:')
    if [[ -z $min ]] || ((n < min)); then min=$n; fi
    sleep 0.05
  done
  echo "$min"
}
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

@test "200 accounts, -d 8 -j 8: every account every cycle, jitter in bounds, failures delay nobody, memory flat" {
  many_start
  many_config 200
  local t0=$SECONDS
  "$POPFETCH" -d 8 -j 8 --json -f "$RC" >"$W/out.jsonl" 2>"$W/err" &
  DPID=$!
  # after the first cycles: the daemon's descriptors and memory
  wait_until 40 every_good_polled 200 2
  local fd1 rss1
  fd1=$(fds_not_pipes "$DPID")
  rss1=$(rss_kib "$DPID")
  wait_until 60 every_good_polled 200 4
  wait_until 20 bad_polled 3
  local fd2 rss2
  fd2=$(fds_not_pipes "$DPID")
  rss2=$(rss_kib "$DPID")
  kill -TERM "$DPID"
  local rc=0
  wait "$DPID" || rc=$?
  DPID=
  [ "$rc" -eq 0 ]
  echo "took $((SECONDS - t0)) s; fds $fd1 -> $fd2; RSS $rss1 -> $rss2 KiB"
  [ "$fd2" -eq "$fd1" ]
  # (under ASan, freed memory waits in its quarantine: RSS says nothing there)
  if [[ ${SANITIZE:-} != 1 ]]; then
    [ "$rss2" -le $((rss1 + 256)) ] || false
  fi

  "$DC_PYTHON" - "$W/out.jsonl" "$W/logins" <<'PY'
import collections, datetime, json, sys

def t(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()

interval, jitter = 8.0, 0.8  # -d 8; the bound: a tenth of the interval
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["account"]].append(r)
bad = []
good = [f"a{i:03d}" for i in range(1, 201)]
offsets = []
lates = []
for a in good:
    rs = [r for r in runs[a] if r["outcome"] != "interrupted"]
    if len(rs) < 4:
        bad.append(f"{a}: only {len(rs)} polls")
        continue
    for r in rs:
        if r["outcome"] != "no-mail" or r["exit_status"] != 1:
            bad.append(f"{a}: outcome {r['outcome']} after {r['duration']} s at {r['started']}: {r['error']['message'] if r['error'] else ''}")
        if r["next_poll"] is None:
            bad.append(f"{a}: no next_poll")
            continue
        # the schedule: next poll = start + interval + jitter in [0, bound]
        off = t(r["next_poll"]) - t(r["started"]) - interval
        offsets.append(off)
        # (the plan is made as the poll starts; the run's own clock may
        # start it a little later on a loaded machine)
        if not -2.0 <= off <= jitter + 0.05:
            bad.append(f"{a}: next poll {off:+.3f} s off the interval")
    # each poll came when its predecessor said, not a cycle later, and
    # not before
    for p, q in zip(rs, rs[1:]):
        late = t(q["started"]) - t(p["next_poll"])
        lates.append(late)
        if not -0.05 <= late <= interval / 2:
            bad.append(f"{a}: polled {late:+.3f} s after its time")
if offsets and max(offsets) - min(offsets) < jitter / 3:
    bad.append(f"no jitter to speak of: {min(offsets):.3f}..{max(offsets):.3f}")
lates.sort()
if lates and lates[len(lates) * 9 // 10] > 2.0:
    bad.append(f"polls late: 90% within {lates[len(lates) * 9 // 10]:.3f} s")
# the server saw every account log in every cycle
logins = collections.Counter(l.split()[2] for l in open(sys.argv[2]) if l.endswith(" ok\n"))
for a in good:
    if logins["u" + a[1:]] < 4:
        bad.append(f"{a}: the server saw {logins['u' + a[1:]]} logins")
# the hanging server costs its own account time, nobody else's
hang = runs["hang"]
if not hang or any(r["outcome"] != "timeout" for r in hang if r["outcome"] != "interrupted"):
    bad.append(f"hang: {[r['outcome'] for r in hang]}")
if any(r["duration"] < 3.9 for r in hang if r["outcome"] == "timeout"):
    bad.append("hang: gave up before its timeout")
# while it hung (it is polled first, as the first cycle begins), the others
# were polled (one after another, none would be)
starts = [t(r["started"]) for a in good for r in runs[a]]
during = [sum(1 for s in starts if t(r["started"]) + 0.5 < s < t(r["started"]) + r["duration"] - 0.5)
          for r in hang if r["outcome"] == "timeout"]
if not during or during[0] < 10:
    bad.append(f"hang: other polls started during its own: {during}")
# the wrong password: backed off (8 s, then 16 s...)
b = [r for r in runs["bad"] if r["outcome"] == "auth"]
if len(b) < 3:
    bad.append(f"bad: {len(b)} polls")
else:
    gaps = [t(q["started"]) - t(p["started"]) for p, q in zip(b, b[1:])]
    if not (7.9 <= gaps[0] <= 11 and 15.9 <= gaps[1] <= 19):
        bad.append(f"bad: gaps {gaps}, not 8 then 16 s")
print("\n".join(bad[:40]))
sys.exit(1 if bad else 0)
PY
  # the wrong password was reported once, not at every poll
  grep "bad:" "$W/err"
  [ "$(grep -c 'bad: login (USER) failed' "$W/err")" -eq 1 ]
  grep -q 'bad: warning: polled again in ' "$W/err"
}

# json_count ACCOUNT: the --json objects of ACCOUNT so far
json_count() { grep -c "\"account\":\"$1\"" "$W/out.jsonl" || true; }
# polled ACCOUNT N: ACCOUNT has at least N objects
polled() { [ "$(json_count "$1")" -ge "$2" ]; }

# few_config BAD_PASSWORD A002_TIMEOUT ACCOUNTS...: accounts from
# a001..a004 (a002's timeout as given) and `bad` with that password
few_config() {
  local pw=$1 t=$2 a
  shift 2
  {
    printf 'defaults\nhost 127.0.0.1\nport %s\ntls off\nallow_plaintext on\nauth user\n\n' "$MANY_PORT"
    printf 'account bad\nuser ubad\npassword %s\ndelivery maildir %s/md/bad\nstate_dir %s/st/bad\n\n' "$pw" "$W" "$W"
    for a in "$@"; do
      printf 'account %s\nuser u%s\npassword pw-u%s\ndelivery maildir %s/md/%s\nstate_dir %s/st/%s\n' \
        "$a" "${a#a}" "${a#a}" "$W" "$a" "$W" "$a"
      if [[ $a == a002 ]]; then printf 'timeout %s\n' "$t"; fi
      printf '\n'
    done
  } >"$RC.new"
  chmod 600 "$RC.new"
  mv "$RC.new" "$RC"
}

@test "daemon -j: a failure reported once, SIGUSR1 polls at once, SIGHUP keeps unchanged schedules, recovery reported" {
  many_start
  mkdir -p "$W/md"
  few_config nope 60 a001 a002 a003
  "$POPFETCH" -d 60 -j 4 --json -f "$RC" >"$W/out.jsonl" 2>"$W/err" &
  DPID=$!
  # the first poll of every account, at once
  wait_until 10 polled a003 1
  wait_until 10 polled bad 1
  wait_until 10 grep -q 'bad: login (USER) failed' "$W/err"
  local next1
  next1=$(grep '"account":"a001"' "$W/out.jsonl" | "$DC_PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.readline())["next_poll"])')
  # SIGUSR1: every account again at once; the same failure is not reported again
  kill -USR1 "$DPID"
  wait_until 10 polled a001 2
  wait_until 10 polled a003 2
  wait_until 10 polled bad 2
  sleep 0.5
  [ "$(grep -c 'bad: login (USER) failed' "$W/err")" -eq 1 ]
  "$DC_PYTHON" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["consecutive_failures"] != 2)' \
    "$W/st/bad/bad.status"
  next1=$(grep '"account":"a001"' "$W/out.jsonl" | tail -n 1 | "$DC_PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.readline())["next_poll"])')
  # SIGHUP: a001 unchanged (keeps its schedule: not polled now), a002
  # changed and bad fixed (polled at once), a003 removed, a004 new
  few_config pw-ubad 30 a001 a002 a004
  kill -HUP "$DPID"
  wait_until 10 grep -q 'SIGHUP: re-read' "$W/err"
  grep 'SIGHUP: re-read' "$W/err"
  grep -q 'SIGHUP: re-read .*: 4 accounts (1 unchanged, 2 changed, 1 new, 1 removed)' "$W/err"
  wait_until 10 polled a004 1
  wait_until 10 polled a002 3
  wait_until 10 polled bad 3
  wait_until 10 grep -q 'bad: recovered (no-mail) after 2 failed polls since ' "$W/err"
  sleep 1
  [ "$(json_count a001)" -eq 2 ]
  [ "$(json_count a003)" -eq 2 ]
  kill -TERM "$DPID"
  local rc=0
  wait "$DPID" || rc=$?
  DPID=
  [ "$rc" -eq 0 ]
  # a001's next poll is still the one planned before the reload
  "$DC_PYTHON" - "$W/st/a001/a001.status" "$next1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if s["next_poll"] == sys.argv[2] else f"{s['next_poll']} != {sys.argv[2]}")
PY
  # the recovery and the failure each said once; the server saw the logins
  [ "$(grep -c 'bad: recovered' "$W/err")" -eq 1 ]
  [ "$(grep -c ' ubad bad$' "$W/logins")" -eq 2 ]
  [ "$(grep -c ' ubad ok$' "$W/logins")" -eq 1 ]
}
