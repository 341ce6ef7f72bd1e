# SPDX-License-Identifier: GPL-2.0
# watchq: one entry point for build, deps, tests and benchmarks.
# `make V=1` shows every command.

OUT	?= build
CC	?= gcc
CLANG	?= clang
BPFTOOL	?= bpftool
PREFIX	?= /usr/local

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/')
ifneq ($(ARCH),x86)
$(error watchq: unsupported architecture '$(shell uname -m)': only x86_64 has a vmlinux.h in vmlinux/)
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN	:= -Wall -Wextra -Werror
CFLAGS	?= -O2 -g
ALL_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUT)
# Sanitizer builds: every unit test again under ASan and UBSan, and the fuzzer.
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	     -fno-sanitize-recover=all
SAN_CFLAGS := $(SAN_FLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser

# The ring and filter engine, shared by the daemon and the library.
CORE_SRCS := user/ring.c user/filter.c
CORE_HDRS := include/watchq_abi.h user/ring.h user/filter.h
UNIT_SRCS := tests/runner.c tests/test_abi.c tests/test_ring.c \
	     tests/test_filter.c tests/test_stress.c tests/test_names.c
UNIT_DEPS := $(CORE_SRCS) user/names.c
TEST_HDRS := tests/test.h
USER_HDRS := $(CORE_HDRS) user/proto.h user/names.h user/daemon.h user/keys.h user/compat.h \
	     user/block.h user/bpfsrc.h bpf/block.h user/mount.h bpf/mount.h \
	     user/sb.h bpf/sb.h user/fan.h include/watchq.h

# The library: static, and shared with only its API exported.
LIB_SRCS := user/lib.c $(CORE_SRCS)
LIB_SONAME := libwatchq.so.1
LIB_VERSION := 1.0.0
DAEMON_SRCS := user/watchqd.c user/server.c user/queue.c user/keys.c \
	       user/block.c user/mount.c user/sb.c user/bpfsrc.c user/fan.c \
	       user/names.c $(CORE_SRCS)
CLI_SRCS := user/watchq.c user/names.c
# keyutils' pipe ABI over watchq, for LD_PRELOAD (only its interposers exported).
COMPAT_SRCS := user/compat.c user/compat_pump.c
HOST_SRCS := tests/runner.c tests/host.c $(wildcard tests/host_*.c)
BPF_LIBS := -lbpf -lelf -lz

# BPF: one x.bpf.c per source; each becomes x.bpf.o and a skeleton x.skel.h.
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Iinclude -Ibpf -Ivmlinux/$(ARCH)

.DELETE_ON_ERROR:
# Keep the BPF objects between skeletons: rebuilding them on every run of
# make would relink the daemon each time.
.SECONDARY:
.PHONY: all deps check test-unit test-asan test-fuzz test-host test-host-rescan run install clean vmlinux bench

PROGS := $(OUT)/watchqd $(OUT)/watchq
LIBS := $(OUT)/libwatchq.a $(OUT)/$(LIB_SONAME) $(OUT)/libwatchq.pc \
	$(OUT)/libwatchq-compat.so

all: $(PROGS) $(LIBS) $(OUT)/test-unit $(OUT)/test-host

$(OUT) $(OUT)/asan $(OUT)/pic:
	$(Q)mkdir -p $@

$(OUT)/%.o: user/%.c $(USER_HDRS) | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Each source's user half includes its skeleton.
$(OUT)/keys.o: $(OUT)/keys.skel.h
$(OUT)/block.o: $(OUT)/block.skel.h
$(OUT)/mount.o: $(OUT)/mount.skel.h
$(OUT)/sb.o: $(OUT)/sb.skel.h

$(OUT)/pic/%.o: user/%.c $(USER_HDRS) | $(OUT)/pic
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(OUT)/tests/%.o: tests/%.c $(USER_HDRS) $(TEST_HDRS) tests/host.h
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUT)/libwatchq.a: $(patsubst user/%.c,$(OUT)/%.o,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/$(LIB_SONAME): $(patsubst user/%.c,$(OUT)/pic/%.o,$(LIB_SRCS)) user/libwatchq.map
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(LIB_SONAME) \
		-Wl,--version-script=user/libwatchq.map -Wl,-z,defs \
		$(filter %.o,$^) -o $@
	$(Q)ln -sf $(LIB_SONAME) $(OUT)/libwatchq.so

$(OUT)/libwatchq-compat.so: $(patsubst user/%.c,$(OUT)/pic/%.o,$(COMPAT_SRCS) $(LIB_SRCS)) \
			    user/compat.map
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libwatchq-compat.so \
		-Wl,--version-script=user/compat.map -Wl,-z,defs \
		$(filter %.o,$^) -o $@ -ldl

# Speaks the mainline pipe ABI directly, for the compat tests.
$(OUT)/compat-pipe: tests/compat_pipe.c include/watchq_abi.h | $(OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@

$(OUT)/libwatchq.pc: user/libwatchq.pc.in Makefile | $(OUT)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIB_VERSION)|' $< > $@

$(OUT)/watchqd: $(patsubst user/%.c,$(OUT)/%.o,$(DAEMON_SRCS))
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(BPF_LIBS)

$(OUT)/watchq: $(patsubst user/%.c,$(OUT)/%.o,$(CLI_SRCS)) $(OUT)/libwatchq.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@

$(OUT)/test-unit: $(patsubst user/%.c,$(OUT)/%.o,$(UNIT_DEPS)) \
		  $(patsubst tests/%.c,$(OUT)/tests/%.o,$(UNIT_SRCS))
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ -lpthread

$(OUT)/test-host: $(patsubst tests/%.c,$(OUT)/tests/%.o,$(HOST_SRCS)) \
		  $(OUT)/names.o $(OUT)/libwatchq.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ -lpthread

# A FUSE file that fails I/O in a range: bad sectors for the block tests.
$(OUT)/failfs: tests/failfs.c | $(OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $$(pkg-config --cflags fuse3) $< -o $@ \
		$$(pkg-config --libs fuse3)

$(OUT)/asan/test-unit: $(UNIT_DEPS) $(UNIT_SRCS) $(USER_HDRS) $(TEST_HDRS) | $(OUT)/asan
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) $(UNIT_DEPS) $(UNIT_SRCS) -o $@ -lpthread

$(OUT)/fuzz-ring: tests/fuzz_ring.c $(CORE_SRCS) $(CORE_HDRS) | $(OUT)
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer tests/fuzz_ring.c $(CORE_SRCS) -o $@

# BPF objects and skeletons (libbpf-bootstrap's steps).
$(OUT)/%.tmp.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/watchq_abi.h $(VMLINUX) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.bpf.o: $(OUT)/%.tmp.bpf.o
	$(Q)$(BPFTOOL) gen object $@ $<

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# vmlinux.h from the running kernel's BTF; committed, with its version noted.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h
	uname -r > vmlinux/$(ARCH)/VERSION

# Missing Debian packages, installed with apt-get (silent when all present).
deps:
	$(Q)tools/deps.sh

test-unit: $(OUT)/test-unit
	$(Q)$(OUT)/test-unit

test-asan: $(OUT)/asan/test-unit
	$(Q)$(OUT)/asan/test-unit

test-fuzz: $(OUT)/fuzz-ring
	$(Q)tests/fuzz.sh $(OUT)/fuzz-ring $(OUT)/fuzz-corpus $(FUZZ_SECONDS)

# Root and real BPF on this kernel: the daemon, library and CLI end to end.
test-host: $(PROGS) $(LIBS) $(OUT)/test-host $(OUT)/failfs $(OUT)/compat-pipe
	$(Q)WATCHQ_BUILD=$(OUT) $(OUT)/test-host

# The mount tests again against a daemon on the mount source's lower rung
# (listmount rescans, what kernels before 6.15 get): the same records.
test-host-rescan: $(PROGS) $(LIBS) $(OUT)/test-host
	$(Q)WATCHQ_BUILD=$(OUT) WATCHQ_TEST_DAEMON_ARGS=--force-tracepoint $(OUT)/test-host '^mount_'

# The BPF selftests in a Debian 6.1 guest (fentry/LSM rungs, CO-RE).
include tests/qemu/qemu.mk

# Every suite, then one closing line over all of them.
CHECK_SUITES := test-unit test-asan test-fuzz test-host test-host-rescan test-qemu
check: deps
	$(Q)$(MAKE) --no-print-directory all $(OUT)/asan/test-unit $(OUT)/fuzz-ring \
		$(QEMU_TESTS) $(QEMU_FILES)
	$(Q)tests/suites.sh $(foreach s,$(CHECK_SUITES),"$(MAKE) --no-print-directory $(s)")

# The benchmarks (root): timing only, never pass/fail; see BENCHMARKS.md.
# BENCH=keys or BENCH=mount runs only that part (both without).
bench: $(OUT)/watchqd $(OUT)/tests/bench.o $(OUT)/keys.o $(OUT)/bpfsrc.o $(OUT)/libwatchq.a
	$(call msg,LINK,$(OUT)/bench)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter %.o %.a,$^) -o $(OUT)/bench $(BPF_LIBS) -lmount -lpthread
	$(Q)WATCHQ_BUILD=$(OUT) $(OUT)/bench $(BENCH)

# The loader, and a consumer of the invoking user's key events.
run: deps
	$(Q)$(MAKE) --no-print-directory $(PROGS)
	$(Q)tools/run.sh $(OUT)

install: $(PROGS) $(LIBS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(OUT)/watchq $(DESTDIR)$(PREFIX)/bin/watchq
	install -m 0755 $(OUT)/watchqd $(DESTDIR)$(PREFIX)/sbin/watchqd
	install -m 0644 $(OUT)/libwatchq.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(OUT)/$(LIB_SONAME) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(LIB_SONAME) $(DESTDIR)$(PREFIX)/lib/libwatchq.so
	# Made here: PREFIX may differ from the one the build used.
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIB_VERSION)|' \
		user/libwatchq.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libwatchq.pc
	install -m 0644 include/watchq.h include/watchq_abi.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 man/watchq.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0755 $(OUT)/libwatchq-compat.so $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 man/libwatchq.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -d $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0644 man/libwatchq-compat.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 0644 man/watchqd.8 $(DESTDIR)$(PREFIX)/share/man/man8/

clean:
	rm -rf $(OUT)
