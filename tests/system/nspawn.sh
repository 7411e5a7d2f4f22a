#!/bin/bash
# tests/system/nspawn.sh - a real systemd runs seawatchd (issue 10).
#
# Builds a minimal Debian 12 root (mmdebstrap, cached under $SYSTEST_CACHE),
# installs the package `make deb` built (build-deb/) into it, boots it with
# systemd-nspawn, and checks inside, from a oneshot unit that powers the
# machine off when done: the unit verifies clean; the service is active as
# Type=notify, runs as the seawatch user, with its commands' cgroups
# delegated; a dropped file ends in done/; `systemctl reload` reloads;
# `systemctl stop` stops it cleanly and quickly.  Prints what it saw;
# exits 0 if every check passed.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${SYSTEST_CACHE:-/var/cache/seawatch-systest}
base=$cache/bookworm-base-2.tar
work=$(mktemp -d /var/tmp/seawatch-systest.XXXXXX)
root=$work/root
trap 'rm -rf "$work"' EXIT

if [ "$(id -u)" != 0 ]; then
	echo "systest: needs root (mmdebstrap, systemd-nspawn)" >&2
	exit 1
fi
mkdir -p "$cache"
if [ ! -s "$base" ]; then
	echo "systest: building the Debian 12 root (once; cached in $base)"
	mmdebstrap --quiet --variant=minbase --format=tar \
		--include=systemd,systemd-sysv,dbus,libconfig9,libinotifytools0,procps,man-db \
		bookworm "$base.new" http://deb.debian.org/debian
	mv "$base.new" "$base"
fi
mkdir -p "$root"
tar -C "$root" -xf "$base"

# The package, installed as an operator would: its maintainer scripts make
# the user and the directories, and enable the service.
deb=$(find "$top/build-deb" -maxdepth 1 -name 'seawatch_*_*.deb' 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	echo "systest: no package in build-deb/ (make deb first)" >&2
	exit 1
fi
cp "$deb" "$root/var/tmp/seawatch.deb"
mount -t proc proc "$root/proc"
chroot "$root" dpkg -i /var/tmp/seawatch.deb >"$work/dpkg.log" 2>&1
rc=$?
umount "$root/proc"
if [ $rc != 0 ]; then
	echo "systest: dpkg -i failed:" >&2
	cat "$work/dpkg.log" >&2
	exit 1
fi

# The checks, run inside once the system is up.
cat > "$root/usr/local/sbin/systest" <<'IN'
#!/bin/bash
# Runs inside the booted root: each check says PASS or FAIL; all end up in
# /systest.result, then the machine powers off.
out=/systest.result
: > $out
say() { echo "$*" >> $out; }
check() { local what=$1; shift; if "$@" >> $out 2>&1; then say "PASS $what"; else say "FAIL $what"; fi; }
wait_for() { local i; for i in $(seq 1 200); do "$@" && return 0; sleep 0.05; done; return 1; }

check "the package enabled the service" systemctl -q is-enabled seawatchd
check "systemd-analyze verify is clean" \
	sh -c 'o=$(systemd-analyze verify seawatchd.service 2>&1); echo "$o"; [ -z "$o" ]'
# As the user the unit runs it as: the spool's owner is checked against it.
check "the config validates as installed" \
	runuser -u seawatch -- seawatchd --check-config -c /etc/seawatch/seawatch.conf
check "the service is active" wait_for systemctl -q is-active seawatchd
check "Type=notify" sh -c '[ "$(systemctl show -p Type --value seawatchd)" = notify ]'
check "it runs as seawatch" sh -c \
	'[ "$(ps -o user= -p "$(systemctl show -p MainPID --value seawatchd)")" = seawatch ]'
check "its commands' cgroups are delegated" sh -c \
	'journalctl -b -u seawatchd -o cat | grep "event=cgroups path="'
check "STATUS= reaches systemd" sh -c \
	'systemctl show -p StatusText --value seawatchd | grep " drops, "'
runuser -u seawatch -- sh -c 'echo "hello" > /var/spool/seawatch/incoming/.up && \
	mv /var/spool/seawatch/incoming/.up /var/spool/seawatch/incoming/a.sea'
check "a dropped file ends in done/" wait_for test -e /var/spool/seawatch/done/a.sea
check "the example script decoded it" wait_for test -s /var/lib/seawatch/out/a.sea.txt
check "systemctl reload reloads" sh -c \
	'systemctl reload seawatchd && for i in $(seq 1 100); do journalctl -b -u seawatchd -o cat | grep -q event=reloaded && exit 0; sleep 0.05; done; exit 1'
check "still active after the reload" systemctl -q is-active seawatchd
check "seawatchctl status answers (root)" sh -c \
	'seawatchctl status | grep "drop device-logs: running"'
check "the socket is 0660 in /run/seawatch (0750 seawatch)" sh -c \
	'[ "$(stat -c %a:%U:%G /run/seawatch/control.sock)" = 660:seawatch:seawatch ] && \
	 [ "$(stat -c %a:%U:%G /run/seawatch)" = 750:seawatch:seawatch ]'
check "a user outside the seawatch group cannot use it (exit 3)" sh -c \
	'runuser -u nobody -- seawatchctl status; [ $? = 3 ]'
check "seawatchctl pause / resume / reload" sh -c \
	'seawatchctl pause && seawatchctl status --json | grep "\"state\":\"paused\"" && \
	 seawatchctl resume && seawatchctl reload'
t0=$(date +%s%N)
systemctl stop seawatchd
t1=$(date +%s%N)
say "INFO stop took $(( (t1 - t0) / 1000000 )) ms"
check "systemctl stop stops it within 5 s" sh -c "[ $(( (t1 - t0) / 1000000 )) -lt 5000 ]"
check "it stopped cleanly" sh -c \
	'journalctl -b -u seawatchd -o cat | grep "event=stopped status=0" && ! systemctl -q is-failed seawatchd'
say "INFO $(systemd-analyze security seawatchd 2>/dev/null | tail -1)"
systemctl start seawatchd
check "removing the package stops the service" sh -c \
	'dpkg -r seawatch >/dev/null 2>&1 && ! systemctl -q is-active seawatchd'
check "installing it starts the service" sh -c \
	'dpkg -i /var/tmp/seawatch.deb >/dev/null 2>&1 && systemctl -q is-active seawatchd'
check "the config was kept (a conffile)" test -s /etc/seawatch/seawatch.conf
journalctl -b -u seawatchd -o short-monotonic --no-pager | tail -40 | sed 's/^/LOG /' >> $out
say "END"
systemctl --no-block poweroff
IN
chmod 0755 "$root/usr/local/sbin/systest"
cat > "$root/etc/systemd/system/systest.service" <<'IN'
[Unit]
Description=seawatch system test
After=seawatchd.service multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/systest
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
IN
ln -sf /etc/systemd/system/systest.service \
	"$root/etc/systemd/system/multi-user.target.wants/systest.service"
# A machine id of its own, and no getty waiting for a console.
systemd-machine-id-setup --root="$root" >/dev/null 2>&1 || true
rm -f "$root/etc/systemd/system/getty.target.wants/"* 2>/dev/null || true

echo "systest: booting it"
timeout 180 systemd-nspawn -q -D "$root" -b --register=no --keep-unit --console=passive \
	>"$work/boot.log" 2>&1 || true
if [ ! -s "$root/systest.result" ] || ! grep -q '^END' "$root/systest.result"; then
	echo "systest: the checks did not finish; boot log:" >&2
	tail -50 "$work/boot.log" >&2
	[ -f "$root/systest.result" ] && cat "$root/systest.result" >&2
	exit 1
fi
grep -v '^LOG ' "$root/systest.result"
if grep -q '^FAIL' "$root/systest.result"; then
	echo "systest: FAILED; the daemon's journal:" >&2
	grep '^LOG ' "$root/systest.result" >&2
	exit 1
fi
echo "systest: all passed"
