# SPDX-License-Identifier: GPL-2.0
# make test-qemu: the suite in a Debian 6.1 guest, for the rungs the host
# kernel refuses (fentry, BPF LSM). tests/qemu/run.sh does the host side.
# Include from the Makefile after its variables (OUT, CC, CLANG, BPFTOOL,
# Q, msg, ALL_CFLAGS, BPF_CFLAGS, VMLINUX, TEST_HDRS).

QEMU_OUT := $(OUT)/qemu
# The guest has busybox and no libc: every program links statically.
QEMU_LDLIBS := -static -lbpf -lelf -lz -lzstd
# Programs the guest runs, in order, each in the runner's format: the smoke
# test, then the host suite on each rung (tests/qemu/rungs.sh).
QEMU_TESTS ?= $(QEMU_OUT)/smoke tests/qemu/rungs.sh
# Files the guest needs in /tests but does not run: the same daemon and
# suite as the host's, linked statically (the guest has no libc), and the
# ext4 image the EDQUOT test would make with e2fsprogs, which it lacks.
QEMU_FILES ?= $(QEMU_OUT)/watchqd $(QEMU_OUT)/test-host $(QEMU_OUT)/ext4-quota.img
# More run.sh options, e.g. QEMU_FLAGS='--smp 2 --keep'.
QEMU_FLAGS ?=
ifeq ($(V),1)
QEMU_FLAGS += --verbose
endif

.PHONY: test-qemu

$(QEMU_OUT):
	$(Q)mkdir -p $@

# The smoke test's BPF, in the Makefile's steps but from tests/qemu/.
$(QEMU_OUT)/smoke.tmp.bpf.o: tests/qemu/smoke.bpf.c $(VMLINUX) | $(QEMU_OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(QEMU_OUT)/smoke.bpf.o: $(QEMU_OUT)/smoke.tmp.bpf.o
	$(Q)$(BPFTOOL) gen object $@ $<

$(QEMU_OUT)/smoke.skel.h: $(QEMU_OUT)/smoke.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(QEMU_OUT)/smoke: tests/qemu/smoke.c tests/runner.c $(TEST_HDRS) \
		   $(QEMU_OUT)/smoke.skel.h
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -I$(QEMU_OUT) $(filter %.c,$^) -o $@ \
		$(QEMU_LDLIBS)

# The host's objects, BPF skeletons included: CO-RE carries them to 6.1.
$(QEMU_OUT)/watchqd: $(patsubst user/%.c,$(OUT)/%.o,$(DAEMON_SRCS)) | $(QEMU_OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(QEMU_LDLIBS)

$(QEMU_OUT)/test-host: $(patsubst tests/%.c,$(OUT)/tests/%.o,$(HOST_SRCS)) \
		       $(OUT)/names.o $(OUT)/libwatchq.a | $(QEMU_OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ -static -lpthread

# sb_ext4_edquot's image (tests/host_sbext4.c), with its mkfs.ext4
# arguments and size: the test copies it instead of running mkfs.
$(QEMU_OUT)/ext4-quota.img: tests/host_sbext4.c | $(QEMU_OUT)
	$(call msg,MKFS,$@)
	$(Q)rm -f $@.tmp && truncate -s 8M $@.tmp && \
		mkfs.ext4 -q -F -b 4096 -m 0 -O quota,^has_journal $@.tmp && mv $@.tmp $@

test-qemu: $(QEMU_TESTS) $(QEMU_FILES)
	$(Q)tests/qemu/run.sh $(QEMU_FLAGS) $(foreach f,$(QEMU_FILES),--add $(f)) \
		-- $(QEMU_TESTS)
