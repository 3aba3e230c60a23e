# luactr - build, test, bench, install.  `make run` and `make test` do every
# set-up step themselves (Debian packages, build, busybox rootfs).

PREFIX  ?= /usr/local
LUAVER  := 5.4
LUA     ?= lua5.4
BUSTED  ?= busted
WERROR  ?= 1
SHELL   := /bin/bash

DEB_PKGS := lua5.4 liblua5.4-dev libcap-dev libreadline-dev lua-busted lua-dkjson pkg-config gcc make busybox-static iproute2 util-linux libseccomp-dev \
	libarchive-dev libcurl4-openssl-dev libssl-dev lua-cjson lua-argparse
V2_PKGS  := user-mode-linux
# The specs' terminal (spec/support/tmux.lua); the registry they start on
# loopback, skopeo that pushes to it, htpasswd for its basic-auth users;
# zstd for the zstd layers of spec/support/oci.lua; setfattr and getfattr,
# which check ns.archive's xattrs independently.
TEST_PKGS := tmux docker-registry skopeo apache2-utils zstd attr uidmap runc podman containerd

PKGS    := lua$(LUAVER) libcap
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs libcap 2>/dev/null)
LUA_LIBS   = $(shell pkg-config --libs lua$(LUAVER) 2>/dev/null)
# readline, for the REPL (core/repl.c) alone: a C module of the runner's
# (build/luactr/runner/repl.so, `require "luactr.runner.repl"`) that luactr
# loads for the prompt only, so that a start neither resolves readline nor
# relocates its keymaps (linked in, a thousand relocations and ten page
# faults a start).
RL_CFLAGS  = $(shell pkg-config --cflags readline 2>/dev/null)
RL_LIBS    = $(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=gnu11 -fPIC -fvisibility=hidden $(WARN) $(PKG_CFLAGS)

B       := build
REPL_MOD := $(B)/luactr/runner/repl.so
# V=1 shows the full commands.
Q := $(if $(filter 1,$(V)),,@)
# Bindings to libraries (libarchive, libcrypto, libcurl): each a C module of
# its own (build/ns/NAME.so, `require "ns.NAME"`), so that a container start
# resolves none of those libraries; they carry their own copy of util.c.
LIB_SRC  := $(wildcard core/archive.c core/digest.c core/http.c core/seccomp.c)
LIB_MODS := $(patsubst core/%.c,$(B)/ns/%.so,$(LIB_SRC))
archive_LIBS = $(shell pkg-config --libs libarchive libcrypto 2>/dev/null)
digest_LIBS  = $(shell pkg-config --libs libcrypto 2>/dev/null)
http_LIBS    = $(shell pkg-config --libs libcurl libcrypto 2>/dev/null)
seccomp_LIBS = $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
CORE_SRC := $(filter-out core/luactr.c core/repl.c core/floor.c core/probe.c $(LIB_SRC),$(wildcard core/*.c))
CORE_OBJ := $(patsubst core/%.c,$(B)/%.o,$(CORE_SRC))

.PHONY: all deps deps-v2 deps-test run test test-v2 bench install uninstall clean asan rootfs check-root

LUAC    ?= luac5.4
LUA_SRC := $(shell find lua -name '*.lua')
LUA_BC  := $(patsubst %.lua,$(B)/%.luac,$(LUA_SRC))

# The modules a default container start loads, in one precompiled chunk
# (the others, ns.cgroup and ns.exec among them, load from their own files
# when first required).
BUNDLE_SRC := $(addprefix lua/ns/,init.lua util.lua security.lua errors.lua recipe.lua plan.lua paths.lua \
	ops.lua supervise.lua launch.lua container.lua security/seccomp.lua)

all: $(B)/ns/core.so $(LIB_MODS) $(REPL_MOD) luactr luactr-oci $(LUA_BC) $(B)/lua/bundle.luac $(B)/probe $(B)/seccomp-default.ok

# A start keys the default seccomp profile's program by a SHA-256 written
# in ns.security.seccomp, not by reading the profile: it must be the data's.
$(B)/seccomp-default.ok: lua/ns/security/seccomp_default.lua lua/ns/security/seccomp.lua $(B)/ns/core.so
	$(Q)$(LUA) scripts/seccomp-default.lua
	@touch $@

$(B)/lua/bundle.luac: $(BUNDLE_SRC) scripts/bundle.lua
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BUNDLE  $@")
	$(Q)$(LUA) scripts/bundle.lua $(B)/lua/bundle.lua $(BUNDLE_SRC)
	$(Q)$(LUAC) -s -o $@ $(B)/lua/bundle.lua

# Precompiled modules that ./luactr prefers while they are not older than
# their source (see bytecode_searcher in core/luactr.c); stripped, as
# LUACTR_DEBUG=1 loads the sources for tracebacks with lines.
$(B)/lua/%.luac: lua/%.lua
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LUAC    $<")
	$(Q)$(LUAC) -s -o $@ $<

$(B)/%.o: core/%.c core/ns.h | $(B)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The seccomp area keys the cache of compiled programs by the libseccomp
# that ns.seccomp compiles them with (core/filter.c).
$(B)/filter.o: ALL_CFLAGS += -DNS_LIBSECCOMP_VERSION='"$(shell pkg-config --modversion libseccomp 2>/dev/null)"'

# The runner's own files, not the module's.
$(B)/repl.o: core/repl.c | $(B)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RL_CFLAGS) -c -o $@ $<

$(REPL_MOD): $(B)/repl.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -shared -o $@ $^ $(RL_LIBS) $(LDFLAGS)

$(B):
	mkdir -p $(B)/ns

$(B)/ns/core.so: $(CORE_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -shared -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

$(B)/ns/%.so: $(B)/%.o $(B)/util.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -shared -o $@ $^ $($*_LIBS) $(LDFLAGS)

# Lua and libcap linked in statically (Debian's liblua5.4-dev and
# libcap-dev ship the archives): resolving them at every start cost a
# third of a millisecond. -rdynamic still exports the Lua API, so that C
# modules (lua-cjson, the REPL, ...) load as they do into lua5.4.
luactr: $(B)/luactr.o $(CORE_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -rdynamic -o $@ $^ -Wl,-Bstatic -llua$(LUAVER) -lcap -Wl,-Bdynamic -lm -ldl $(LDFLAGS)

# The OCI runtime: the same binary, which runs lua/luactr/oci.lua when
# called by this name (runc's command line, for podman and containerd).
luactr-oci: luactr
	$(Q)ln -sf luactr $@

$(B)/floor: core/floor.c | $(B)
	$(CC) $(CFLAGS) -std=gnu11 $(WARN) -o $@ $<

# Static, so that specs can bind-mount it into a busybox rootfs and run it;
# a test helper, built without the sanitizers of `make asan` (which
# cannot link statically).
$(B)/probe: core/probe.c | $(B)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -O2 -g -std=gnu11 $(WARN) -static -o $@ $<

# Install the Debian packages that are missing; instant when none are.
# The packages of $(1) that dpkg does not have installed (shell text).
missing_pkgs = missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done

# Install the packages of $(1) that are missing, with apt-get options $(2).
install_missing = $(call missing_pkgs,$(1)); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: missing packages and not root: apt-get install$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $(2) $$missing </dev/null || { apt-get update -q </dev/null && apt-get install -y -q $(2) $$missing </dev/null; }; \
	fi

deps:
	@$(call install_missing,$(DEB_PKGS))

# The pure cgroup v2 kernel of `make test-v2`. Not its recommended
# uml-utilities: a network switch daemon the specs do not use.
deps-v2: deps
	@$(call install_missing,$(V2_PKGS),--no-install-recommends)

deps-test: deps
	@$(call install_missing,$(TEST_PKGS))

# The busybox rootfs that recipes use by default (idempotent).
rootfs: all
	./luactr -e 'local r = require("ns.rootfs").busybox(); print("rootfs: " .. r)'

# The container's status is reported as a line, not as make's "Error N"
# (scripts/run.lua).
run: deps
	$(MAKE) all
	$(MAKE) rootfs
	./luactr scripts/run.lua examples/busybox.lua

# Every spec on this host, then the cgroup and container specs on a pure
# cgroup v2 kernel (test-v2); the last line sums both: CI reads it.
test: deps-v2 deps-test
	$(MAKE) all
	$(MAKE) rootfs
	@scripts/tally.sh host '$(LUA) $$(command -v $(BUSTED)) --lua=$(LUA) -o spec/support/summary.lua spec' \
	  v2 scripts/test-v2.sh

# The specs that set cgroup limits, in user-mode-linux: a 6.1 kernel with
# only cgroup v2 and real cpu, io, memory and pids controllers (this host is
# hybrid). Ends with "v2: N passed, N failed".
test-v2: deps-v2
	$(MAKE) all
	$(MAKE) rootfs
	scripts/test-v2.sh

asan: deps-test
	$(MAKE) clean
	$(MAKE) all CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined"
	$(MAKE) rootfs
	ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  $(LUA) $$(command -v $(BUSTED)) --lua=$(LUA) -o spec/support/summary.lua spec; rc=$$?; $(MAKE) clean; exit $$rc

# Peers measured beside luactr; installed when missing, skipped when that fails.
BENCH_PKGS := bubblewrap crun runc time
# The image rows (scripts/bench-image.lua) start the specs' registry and
# compare with skopeo and tar: deps-test brings those.
bench: deps deps-test
	@$(call missing_pkgs,$(BENCH_PKGS)); \
	[ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing </dev/null >/dev/null 2>&1 \
	  || echo "bench: could not install$$missing; those peers will be skipped"
	$(MAKE) all $(B)/floor
	$(MAKE) rootfs
	$(LUA) scripts/bench.lua
	$(LUA) scripts/bench-image.lua
	$(LUA) scripts/bench-monitor.lua
	$(LUA) scripts/bench-oci.lua

# What `make install` puts under PREFIX: the binary, ns.core for plain
# lua5.4, the sources, and their bytecode with its mtimes kept (install -p),
# so that an installed luactr starts as fast as ./luactr and prefers the
# bytecode only while no source is newer. luactr finds these from its own
# path (PREFIX/bin/luactr), so nothing of PREFIX is built in.
LUADIR  := share/lua/$(LUAVER)
CMODDIR := lib/lua/$(LUAVER)
BCDIR   := lib/luactr
INST_BC := $(patsubst $(B)/lua/%,$(BCDIR)/%,$(LUA_BC) $(B)/lua/bundle.luac)
INST_DIRS := $(patsubst %/,%,$(sort $(dir bin/ $(CMODDIR)/ns/ $(CMODDIR)/luactr/runner/ $(patsubst lua/%,$(LUADIR)/%,$(LUA_SRC)) $(INST_BC))))
# The directories that install made, for uninstall to remove when they are
# empty (none is noted for a DESTDIR: that tree is a package's to own).
MADE_DIRS = $(DESTDIR)$(PREFIX)/$(BCDIR)/made-dirs

# ns.cgroup was lua/ns/cgroup.lua before it became lua/ns/cgroup/; a copy
# that an older install left would shadow it (?.lua precedes ?/init.lua).
install: all
	$(Q)made=""; if [ -z "$(DESTDIR)" ]; then \
	  for d in $(INST_DIRS); do p='$(PREFIX)'/$$d; \
	    while [ ! -d "$$p" ]; do made="$$made$$p"$$'\n'; p=$$(dirname "$$p"); done; \
	  done; \
	fi; \
	set -e; \
	install -d $(addprefix $(DESTDIR)$(PREFIX)/,$(INST_DIRS)); \
	install -m 0755 luactr $(DESTDIR)$(PREFIX)/bin/luactr; \
	ln -sf luactr $(DESTDIR)$(PREFIX)/bin/luactr-oci; \
	install -m 0755 $(B)/ns/core.so $(LIB_MODS) $(DESTDIR)$(PREFIX)/$(CMODDIR)/ns/; \
	install -m 0755 $(REPL_MOD) $(DESTDIR)$(PREFIX)/$(CMODDIR)/luactr/runner/; \
	for f in $(LUA_SRC); do install -p -m 0644 $$f $(DESTDIR)$(PREFIX)/$(LUADIR)/$${f#lua/}; done; \
	for f in $(LUA_BC) $(B)/lua/bundle.luac; do install -p -m 0644 $$f $(DESTDIR)$(PREFIX)/$(BCDIR)/$${f#$(B)/lua/}; done; \
	rm -f $(DESTDIR)$(PREFIX)/$(LUADIR)/ns/cgroup.lua; \
	if [ -n "$$made" ] || [ -f $(MADE_DIRS) ]; then \
	  { cat $(MADE_DIRS) 2>/dev/null || true; printf '%s' "$$made"; } | sort -u >$(MADE_DIRS).new; \
	  mv $(MADE_DIRS).new $(MADE_DIRS); \
	fi; \
	echo "install: $(DESTDIR)$(PREFIX)/bin/luactr"

# Our own directories go whole; those install made, deepest first, when
# nothing else is left in them.
uninstall:
	$(Q)made=$$(cat $(MADE_DIRS) 2>/dev/null || true); \
	rm -f $(DESTDIR)$(PREFIX)/bin/luactr $(DESTDIR)$(PREFIX)/bin/luactr-oci $(DESTDIR)$(PREFIX)/$(CMODDIR)/ns/core.so $(patsubst $(B)/ns/%,$(DESTDIR)$(PREFIX)/$(CMODDIR)/ns/%,$(LIB_MODS)); \
	rm -rf $(DESTDIR)$(PREFIX)/$(LUADIR)/ns $(DESTDIR)$(PREFIX)/$(LUADIR)/luactr $(DESTDIR)$(PREFIX)/$(BCDIR) \
	  $(DESTDIR)$(PREFIX)/$(CMODDIR)/luactr; \
	rmdir $(DESTDIR)$(PREFIX)/$(CMODDIR)/ns 2>/dev/null || true; \
	printf '%s\n' "$$made" | sort -r | while read -r d; do [ -z "$$d" ] || rmdir "$$d" 2>/dev/null || true; done

clean:
	rm -rf $(B) luactr luactr-oci
