#!/bin/sh
# Run every test binary in BUILD/tests: unit tests first, then the
# integration tests against BUILD/seawatchd.  Exit non-zero if any fails.
set -u
build=${1:-build}
SEAWATCHD="$(cd "$build" && pwd)/seawatchd"
export SEAWATCHD
fail=0
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	echo "== $name"
	# Integration tests run two at a time: real processes, real timeouts.
	if ! "$t" --jobs 2 --short-filename; then
		echo "FAILED: $name"
		fail=1
	fi
done
exit $fail
