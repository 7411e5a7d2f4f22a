#!/bin/sh
# `make run`: start seawatchd on etc/demo.conf in the foreground and drop a
# few sample files into demo/incoming so you can watch them being processed.
# Ctrl-C stops it (gracefully).
set -eu
daemon=${1:-build/seawatchd}
top=$(pwd)
mkdir -p demo/incoming demo/incoming-lines demo/done demo/failed demo/out
# The script's output directory is given relative to etc/ in the config,
# but a command runs with the daemon's working directory: use an absolute one.
sed "s#\"../demo/out\"#\"$top/demo/out\"#" etc/demo.conf > demo/demo.conf
sed -i "s#\"\.\./#\"$top/#g" demo/demo.conf
# seawatchctl's socket, where a Unix socket's path fits (107 bytes).
if [ ${#top} -lt 80 ]; then
	echo "control_socket = \"$top/demo/run/control.sock\";" >> demo/demo.conf
	ctl="; try: build/seawatchctl -s demo/run/control.sock status"
else
	ctl=""
fi
(
	sleep 1
	i=1
	while [ $i -le 5 ]; do
		printf 'device-%d log line\nsecond line\n' $i > demo/.tmp.$i
		mv demo/.tmp.$i demo/incoming/sample-$i.sea
		i=$((i + 1))
	done
	: > demo/.tmp.empty
	mv demo/.tmp.empty demo/incoming/empty.sea   # goes to failed/ (exit 65)
	# Binary device logs for the lines-mode drop: 8-byte records (time,
	# sensor, value in tenths), parsed by examples/parse-sea.py.
	i=1
	while [ $i -le 3 ]; do
		s=$(printf '\\%03o' $i)   # the sensor's byte, as an escape for printf
		printf "\\001\\000\\000\\000$s\\000\\144\\000\\002\\000\\000\\000$s\\000\\310\\000" \
			> demo/.tmp.b$i
		mv demo/.tmp.b$i demo/incoming-lines/device-$i.sea
		i=$((i + 1))
	done
	printf 'short' > demo/.tmp.short
	mv demo/.tmp.short demo/incoming-lines/truncated.sea   # failed/: "65 5 bytes: ..."
	sleep 2
	echo
	echo "demo: done/:   $(ls demo/done | tr '\n' ' ')"
	echo "demo: failed/: $(ls demo/failed | tr '\n' ' ')"
	echo "demo: out/:    $(ls demo/out | tr '\n' ' ')"
	echo "demo: out/records.csv (lines mode):"; sed 's/^/  /' demo/out/records.csv
	echo "demo: drop more files into $top/demo/incoming/ or incoming-lines/ (name them *.sea)$ctl; Ctrl-C to stop."
) &
echo "demo: starting seawatchd -c demo/demo.conf (Ctrl-C to stop)"
exec "$daemon" -c demo/demo.conf
