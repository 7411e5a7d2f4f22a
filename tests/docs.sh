#!/bin/sh
# tests/docs.sh - the docs say what the daemon does: every event name the
# daemon can log is listed in README.md and in seawatchd(8), and the man
# pages lint clean (mandoc -T lint).
set -u
cd "$(dirname "$0")/.." || exit 1
fail=0
# "event=NAME" as written in the sources (events logged through "event=%s"
# are listed by hand: done, failed, pause-not-saved, resume-not-saved).
events=$(grep -oh 'event=[a-z-]*' src/*.c | sed 's/event=//' | grep -v '^$' | sort -u)
for e in $events "done" "failed" "pause-not-saved" "resume-not-saved"; do
	grep -q "\`$e\`" README.md || { echo "docs: README.md does not list event $e"; fail=1; }
	grep -q "\\\\fB$e\\\\fR" man/seawatchd.8 || { echo "docs: seawatchd(8) does not list event $e"; fail=1; }
done
if ! mandoc -T lint -W warning man/*.[1-8]; then
	echo "docs: mandoc -T lint complains"
	fail=1
fi
[ $fail = 0 ] && echo "docs: $(echo "$events" | wc -l) events listed; man pages lint clean"
exit $fail
