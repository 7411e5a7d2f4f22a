#!/bin/bash
# tests/system/sysv.sh - the SysV init script, run for real on this machine
# (issue 10, item 5): start returns once the daemon is ready, status says
# LSB's codes, reload reloads, stop waits and stops, restart restarts, a
# bad config makes start fail with 6 and says why.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
script=$top/packaging/sysv/seawatchd
build=$(cd "${1:-$top/build}" && pwd)
w=$(mktemp -d /tmp/seawatch-sysv.XXXXXX)
trap '"$script" stop >/dev/null 2>&1; rm -rf "$w"' EXIT
fail=0
check() { local what=$1; shift; if "$@"; then echo "PASS $what"; else echo "FAIL $what"; fail=1; fi; }
# shellcheck disable=SC2317 # called through check
wait_for() { local _; for _ in $(seq 1 100); do "$@" && return 0; sleep 0.05; done; return 1; }

mkdir -p "$w/in" "$w/done" "$w/failed" "$w/out"
cat > "$w/seawatch.conf" <<CONF
workers = 1;
shutdown_grace = "2s";
drops = ( { name = "d"; path = "$w/in"; done = "$w/done"; failed = "$w/failed";
            command = [ "$top/examples/process-sea.sh", "{file}", "$w/out" ]; } );
CONF
cat > "$w/env" <<ENV
DAEMON=$build/seawatchd
CONFIG=$w/seawatch.conf
PIDFILE=$w/seawatchd.pid
LOGFILE=$w/seawatchd.log
USER=
GROUP=
TIMEOUT=10
ENV
export SEAWATCHD_INIT_ENV=$w/env

"$script" status >/dev/null; check "status before start is 3 (not running)" [ $? = 3 ]
"$script" start >/dev/null; rc=$?
check "start exits 0" [ $rc = 0 ]
# Ready when start returned: a file renamed in now is taken.
echo "data" > "$w/.a" && mv "$w/.a" "$w/in/a.sea"
check "start returned once ready: the file is processed" wait_for test -e "$w/done/a.sea"
"$script" status >/dev/null; check "status when running is 0" [ $? = 0 ]
check "the pid file names the daemon" \
	sh -c "[ \"\$(readlink /proc/\$(cat $w/seawatchd.pid)/exe)\" = \"$build/seawatchd\" ]"
check "its log goes to LOGFILE" grep -q "event=ready" "$w/seawatchd.log"
"$script" reload >/dev/null; check "reload exits 0" [ $? = 0 ]
check "reload reloads" wait_for grep -q "event=reloaded" "$w/seawatchd.log"
pid=$(cat "$w/seawatchd.pid")
"$script" restart >/dev/null; check "restart exits 0" [ $? = 0 ]
# (Gone, or a zombie: PID 1 of this machine may not reap what it adopted.)
check "restart made a new daemon" sh -c "[ \"\$(cat $w/seawatchd.pid)\" != $pid ] && \
	! ps -o stat= -p $pid | grep -qv Z"
"$script" stop >/dev/null; check "stop exits 0" [ $? = 0 ]
check "stop stopped it cleanly" grep -q "event=stopped status=0" "$w/seawatchd.log"
"$script" status >/dev/null; check "status after stop is 3" [ $? = 3 ]
"$script" stop >/dev/null; check "stop when stopped exits 0" [ $? = 0 ]
"$script" reload >/dev/null 2>&1; check "reload when stopped exits 7" [ $? = 7 ]
sed -i 's/^workers = 1;/workers = 0;/' "$w/seawatch.conf"
out=$("$script" start 2>&1); rc=$?
check "a bad config: start exits 6" [ $rc = 6 ]
check "... and says why" sh -c "echo \"\$0\" | grep -q 'workers'" "$out"
"$script" bogus >/dev/null 2>&1; check "an unknown action exits 2" [ $? = 2 ]
[ $fail = 0 ] && echo "sysv: all passed"
exit $fail
