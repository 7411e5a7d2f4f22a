# seawatch - build, test, run, install.  `make` builds; see README.md.

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=
BUILD      ?= build
VERSION    := 0.2.0

CC      ?= gcc
PKGS     = libconfig
DEB_DEPS = gcc make pkg-config libc6-dev libconfig-dev libinotifytools0-dev libcriterion-dev strace \
           mandoc musl-tools shellcheck prometheus python3

WARN    = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wformat=2 -Wno-format-nonliteral -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) \
          -Iinclude -DSW_VERSION='"$(VERSION)"' \
          -DSYSCONFDIR='"$(SYSCONFDIR)"' -DLIBEXECDIR='"$(LIBEXECDIR)"' \
          $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS_D = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lconfig) \
          -linotifytools -pthread
LDFLAGS ?=
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

CORE = config trust fileio sbuf tree lines log queue policy timer job sys loop stats proto core spool deliver recover copy watch wtree cgroup settle noticed guard drop intake admit outcome attempt dispatch pool notify metrics status requeue retain control runner helper worker master
CORE_OBJ = $(CORE:%=$(BUILD)/%.o)
DAEMON = $(BUILD)/seawatchd
CTL    = $(BUILD)/seawatchctl
WORKER = $(BUILD)/seawatch-worker
# The worker helper is linked statically (see src/worker_bin.c); the
# sanitizer builds link it dynamically (ASan cannot be static).
WORKER_STATIC ?= -static

UNIT  = $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
INTEG = $(patsubst tests/integ/%.c,%,$(wildcard tests/integ/test_*.c))
TEST_BINS = $(UNIT:%=$(BUILD)/tests/%) $(INTEG:%=$(BUILD)/tests/%)
CRIT_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
CRIT_LIBS   = $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

.PHONY: all deps run check unit integ install uninstall clean asan valgrind bench bench-deps \
        systest sys-deps deb deb-deps FORCE

all: $(DAEMON) $(WORKER) $(CTL)

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) Makefile $(BUILD)/paths | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The directories compiled in: objects are rebuilt when they change (make
# install PREFIX=/usr after a plain make must not keep /usr/local's).
$(BUILD)/paths: FORCE | $(BUILD)
	@echo '$(SYSCONFDIR) $(LIBEXECDIR)' | cmp -s - $@ || echo '$(SYSCONFDIR) $(LIBEXECDIR)' > $@
FORCE:

$(DAEMON): $(CORE_OBJ) $(BUILD)/main.o
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_D)

$(CTL): $(BUILD)/seawatchctl.o
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^

$(WORKER): $(BUILD)/worker_bin.o $(BUILD)/worker.o $(BUILD)/helper.o $(BUILD)/lines.o $(BUILD)/policy.o $(BUILD)/runner.o $(BUILD)/sys.o $(BUILD)/proto.o $(BUILD)/cgroup.o $(BUILD)/log.o
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(WORKER_STATIC) -o $@ $^

$(BUILD):
	mkdir -p $(BUILD)/tests

$(BUILD)/tests/harness.o: tests/integ/harness.c tests/integ/harness.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CRIT_CFLAGS) -Itests/integ -c -o $@ $<

# Unit tests link the daemon's modules (main.o aside) and run in-process.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_OBJ) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CRIT_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(LDLIBS_D)

# The dispatcher's test links its own twins of the pool, the attempt, the
# outcome and the system calls (see tests/unit/test_dispatch.c).
DISPATCH_OBJ = dispatch core noticed job queue timer loop log config trust
$(BUILD)/tests/test_dispatch: tests/unit/test_dispatch.c $(DISPATCH_OBJ:%=$(BUILD)/%.o) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CRIT_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(LDLIBS_D)

# Integration tests drive the real binary; they find it through SEAWATCHD.
$(BUILD)/tests/test_%: tests/integ/test_%.c $(BUILD)/tests/harness.o | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(CRIT_CFLAGS) -Itests/integ $(ALL_LDFLAGS) -o $@ $^ $(CRIT_LIBS)

# deps: install the Debian build dependencies that are missing (as root),
# or print the command to do it.
deps:
	@missing=""; for p in $(DEB_DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }; \
	else \
	  echo "deps: missing packages:$$missing"; \
	  echo "deps: run: sudo apt-get install -y$$missing"; exit 1; \
	fi

# run: the demo.  Watches demo/incoming under the checkout with etc/demo.conf.
run: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh $(DAEMON)

check: deps
	@$(MAKE) --no-print-directory all tests
	@sh tests/run.sh $(BUILD)
	@sh tests/docs.sh
	@sh tests/musl.sh
	@shellcheck tests/*.sh tests/system/*.sh packaging/sysv/seawatchd \
	  packaging/openwrt/seawatch/files/seawatchd.init && echo "shellcheck: clean"
	@bash tests/system/sysv.sh $(BUILD)
	@$(MAKE) --no-print-directory systest

# deb: the Debian package, built from a copy of this tree with
# packaging/debian as debian/ (the top level stays as SPEC §1 lays it out),
# then checked with lintian.  The .deb lands in build-deb/.
DEB_BUILD_DEPS = dpkg-dev debhelper lintian
deb-deps:
	@$(MAKE) --no-print-directory deps DEB_DEPS="$(DEB_DEPS) $(DEB_BUILD_DEPS)"
deb: deb-deps
	rm -rf build-deb && mkdir -p build-deb/seawatch-$(VERSION)
	cp -r Makefile src include etc examples man packaging build-deb/seawatch-$(VERSION)/
	cp -r packaging/debian build-deb/seawatch-$(VERSION)/debian
	cp packaging/sysv/seawatchd build-deb/seawatch-$(VERSION)/debian/seawatch.seawatchd.init
	cp packaging/systemd/seawatch.sysusers build-deb/seawatch-$(VERSION)/debian/seawatch.sysusers
	cd build-deb/seawatch-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --suppress-tags-from-file packaging/lintian-accepted \
	  build-deb/seawatch_$(VERSION)_*.changes

# systest: a real systemd runs the packaged daemon (tests/system/nspawn.sh):
# the .deb installed into a Debian 12 root made with mmdebstrap, booted with
# systemd-nspawn.
SYS_DEPS = mmdebstrap systemd-container
sys-deps:
	@$(MAKE) --no-print-directory deps DEB_DEPS="$(SYS_DEPS)"
systest: sys-deps deb
	@bash tests/system/nspawn.sh

.PHONY: tests
tests: $(DAEMON) $(WORKER) $(CTL) $(TEST_BINS)

unit: $(DAEMON) $(UNIT:%=$(BUILD)/tests/%)
	@for t in $(UNIT); do $(BUILD)/tests/$$t || exit 1; done

integ: $(DAEMON) $(INTEG:%=$(BUILD)/tests/%)
	@for t in $(INTEG); do SEAWATCHD=$(DAEMON) $(BUILD)/tests/$$t || exit 1; done

# The whole suite under AddressSanitizer + UBSan, in its own build tree.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan \
	  EXTRA_CFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DSW_DEBUG' \
	  EXTRA_LDFLAGS='-fsanitize=address,undefined' CFLAGS='-O1 -g' WORKER_STATIC= all tests
	@ASAN_OPTIONS=detect_leaks=1 sh tests/run.sh build-asan

# The whole suite with every seawatchd process (master and workers) under
# valgrind memcheck.
valgrind: deps all tests
	@SEAWATCH_WRAP='valgrind -q --error-exitcode=99 --leak-check=full --trace-children=no' \
	  sh tests/run.sh $(BUILD)

# ---- benchmarks (not part of check): docs/benchmarks.md ----------------
BENCH_DEPS = python3 inotify-tools incron parallel
BENCH_BINS = $(BUILD)/bench/floor $(BUILD)/bench/stamp $(BUILD)/bench/sleep50 $(BUILD)/bench/answer

$(BUILD)/bench:
	mkdir -p $@
$(BUILD)/bench/floor: bench/floor.c | $(BUILD)/bench
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -o $@ $<
$(BUILD)/bench/stamp: bench/cmd.c | $(BUILD)/bench
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -o $@ $<
$(BUILD)/bench/sleep50 $(BUILD)/bench/answer: $(BUILD)/bench/stamp
	ln -sf stamp $@

bench-deps: deps
	@$(MAKE) --no-print-directory DEB_DEPS="$(BENCH_DEPS)" deps

bench: bench-deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	python3 bench/run.py

# install: a working install.  Binaries stripped (install -s) unless
# STRIP= is given; the config and the unit name the paths installed here.
STRIP         ?= -s
UNITDIR       ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR   ?= $(PREFIX)/lib/tmpfiles.d
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
INITDIR       ?= $(SYSCONFDIR)/init.d
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
            -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g'

install: $(DAEMON) $(WORKER) $(CTL)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/seawatch \
	  $(DESTDIR)$(LIBEXECDIR)/seawatch $(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	sed -e 's|^DAEMON=.*|DAEMON=$(SBINDIR)/seawatchd|' \
	    -e 's|^CONFIG=.*|CONFIG=$(SYSCONFDIR)/seawatch/seawatch.conf|' \
	    packaging/sysv/seawatchd > $(BUILD)/seawatchd.init
	@# INITDIR= (empty): no SysV script (the Debian package installs its own).
	if [ -n "$(INITDIR)" ]; then install -d $(DESTDIR)$(INITDIR) && \
	  install -m 0755 $(BUILD)/seawatchd.init $(DESTDIR)$(INITDIR)/seawatchd; fi
	install -m 0644 man/seawatchd.8 $(DESTDIR)$(MANDIR)/man8/seawatchd.8
	install -m 0644 man/seawatch.conf.5 $(DESTDIR)$(MANDIR)/man5/seawatch.conf.5
	install $(STRIP) -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/seawatchd
	install $(STRIP) -m 0755 $(CTL) $(DESTDIR)$(SBINDIR)/seawatchctl
	install -m 0644 man/seawatchctl.8 $(DESTDIR)$(MANDIR)/man8/seawatchctl.8
	install $(STRIP) -m 0755 $(WORKER) $(DESTDIR)$(LIBEXECDIR)/seawatch/seawatch-worker
	install -m 0755 examples/process-sea.sh $(DESTDIR)$(LIBEXECDIR)/seawatch/process-sea
	$(SUBST) packaging/systemd/seawatchd.service.in > $(BUILD)/seawatchd.service
	install -m 0644 $(BUILD)/seawatchd.service $(DESTDIR)$(UNITDIR)/seawatchd.service
	install -m 0644 packaging/systemd/seawatch.tmpfiles $(DESTDIR)$(TMPFILESDIR)/seawatch.conf
	install -m 0644 packaging/systemd/seawatch.sysusers $(DESTDIR)$(SYSUSERSDIR)/seawatch.conf
	$(SUBST) etc/seawatch.conf.in > $(BUILD)/seawatch.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/seawatch/seawatch.conf ]; then \
	  echo "install: keeping existing $(DESTDIR)$(SYSCONFDIR)/seawatch/seawatch.conf"; \
	else install -m 0644 $(BUILD)/seawatch.conf $(DESTDIR)$(SYSCONFDIR)/seawatch/seawatch.conf; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/seawatchd $(DESTDIR)$(SBINDIR)/seawatchctl \
	  $(DESTDIR)$(MANDIR)/man8/seawatchctl.8 $(DESTDIR)$(LIBEXECDIR)/seawatch/seawatch-worker \
	  $(DESTDIR)$(LIBEXECDIR)/seawatch/process-sea $(DESTDIR)$(UNITDIR)/seawatchd.service \
	  $(DESTDIR)$(TMPFILESDIR)/seawatch.conf $(DESTDIR)$(SYSUSERSDIR)/seawatch.conf \
	  $(DESTDIR)$(MANDIR)/man8/seawatchd.8 $(DESTDIR)$(MANDIR)/man5/seawatch.conf.5 \
	  $(DESTDIR)$(INITDIR)/seawatchd
	-rmdir $(DESTDIR)$(LIBEXECDIR)/seawatch

clean:
	rm -rf build build-asan build-systest build-dev build-deb demo
