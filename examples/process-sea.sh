#!/bin/sh
# Example processing script, in the classic "process_sea.sh <input> <output_dir>"
# form: seawatchd runs it as  process-sea.sh {file} OUTDIR.
# It "decodes" a .sea file by counting its bytes and lines into OUTDIR/NAME.txt.
# Exit 0: the input goes to done/.  Exit 65 (EX_DATAERR, listed in the demo's
# no_retry): straight to failed/.  Anything else: retried, then failed/.
set -eu
in=$1
out=$2
name=$(basename "$in")
if [ ! -s "$in" ]; then
	echo "empty input: $name" >&2
	exit 65
fi
bytes=$(wc -c < "$in")
lines=$(wc -l < "$in")
printf 'file=%s bytes=%s lines=%s attempt=%s\n' "$name" "$bytes" "$lines" \
	"${SEAWATCH_ATTEMPT:-?}" > "$out/$name.txt"
echo "decoded $name: $bytes bytes"
