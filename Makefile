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
	     tests/test_filter.c tests/test_stress.c
TEST_HDRS := tests/test.h

# BPF: one x.bpf.c per source; each becomes x.bpf.o and a skeleton x.skel.h.
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Iinclude -Ibpf -Ivmlinux/$(ARCH)

.DELETE_ON_ERROR:
.PHONY: all deps check test-unit test-asan test-fuzz run install clean vmlinux

all: $(OUT)/test-unit $(BPF_SKELS)

$(OUT) $(OUT)/asan:
	$(Q)mkdir -p $@

$(OUT)/%.o: user/%.c $(CORE_HDRS) | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUT)/tests/%.o: tests/%.c $(CORE_HDRS) $(TEST_HDRS)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUT)/test-unit: $(patsubst user/%.c,$(OUT)/%.o,$(CORE_SRCS)) \
		  $(patsubst tests/%.c,$(OUT)/tests/%.o,$(UNIT_SRCS))
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ -lpthread

$(OUT)/asan/test-unit: $(CORE_SRCS) $(UNIT_SRCS) $(CORE_HDRS) $(TEST_HDRS) | $(OUT)/asan
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(SAN_CFLAGS) $(CORE_SRCS) $(UNIT_SRCS) -o $@ -lpthread

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

# Every suite, then one closing line over all of them.
CHECK_SUITES := test-unit test-asan test-fuzz
check: deps
	$(Q)$(MAKE) --no-print-directory all $(OUT)/asan/test-unit $(OUT)/fuzz-ring
	$(Q)tests/suites.sh $(foreach s,$(CHECK_SUITES),"$(MAKE) --no-print-directory $(s)")

run:
	@echo "watchq: the loader daemon does not exist yet; 'make check' runs the tests." >&2
	@exit 1

clean:
	rm -rf $(OUT)
