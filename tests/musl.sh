#!/bin/sh
# tests/musl.sh - OpenWrt's C library is musl: every source compiles with
# musl-gcc (-Werror), and the static worker links against it.  (The daemon
# itself needs libconfig and libinotifytools built for musl, which Debian
# does not ship; OpenWrt builds them.)
set -eu
cd "$(dirname "$0")/.."
inc=$(mktemp -d /tmp/seawatch-musl.XXXXXX)
trap 'rm -rf "$inc"' EXIT
# musl-gcc sees only musl's headers: add the kernel's and the two libraries'.
ln -s /usr/include/linux "$inc/linux"
ln -s "/usr/include/$(gcc -dumpmachine)/asm" "$inc/asm"
ln -s /usr/include/asm-generic "$inc/asm-generic"
cp /usr/include/libconfig.h "$inc/"
cp -r /usr/include/inotifytools "$inc/"
set -- -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -I"$inc" '-DSW_VERSION="musl"' \
	'-DSYSCONFDIR="/etc"' '-DLIBEXECDIR="/usr/libexec"'
for f in src/*.c; do
	musl-gcc "$@" -fsyntax-only "$f"
done
musl-gcc "$@" -static -o "$inc/seawatch-worker" src/worker_bin.c src/worker.c src/helper.c src/lines.c \
	src/policy.c src/runner.c src/sys.c \
	src/proto.c src/cgroup.c src/log.c
file "$inc/seawatch-worker" | grep -q "statically linked"
echo "musl: every source compiles; the static worker links"
