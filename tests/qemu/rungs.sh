#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In the guest: the host suite twice, against a daemon on the highest rung
# this kernel allows and against one forced onto the tracepoint rung the
# host uses.  The same scenarios must give the same records on both: the
# key tests, the superblock test on tmpfs, EDQUOT on ext4 over a loop
# device (the host kernel has no quota support; the guest has no
# e2fsprogs, so qemu.mk makes its image; the other ext4 tests need mkfs or
# FUSE on the spot), and the guest-only ones (tests/host_guestblock.c:
# null_blk, scsi_debug and dm error injection, key garbage collection).
# The mount tests too: 6.1 has no fanotify mount events and cannot list
# another namespace's mounts, so they run on the mount source's mountinfo
# rung (32-bit ids) on both passes.  The host's block tests (block_*) need
# FUSE and util-linux's losetup: not run here.
# Prints each run's lines prefixed with its rung, then one closing line.
cd /tests || exit 1
export WATCHQ_BUILD=/tests

echo "kernel: $(uname -r)"
passed=0 failed=0 skipped=0
for rung in fentry tracepoint; do
	args=
	[ "$rung" = tracepoint ] && args=--force-tracepoint
	# shellcheck disable=SC2086 # args is one option or none
	echo "$rung run: $(./watchqd --probe $args 2>/dev/null | grep -E '^[a-z]+: ' | cut -d'(' -f1 | tr '\n' ' ')"
	# One daemon per rung, shared by the tests: loading BPF under
	# emulation takes seconds, and every test would load it again.
	sock=/run/watchq-$rung.sock
	# shellcheck disable=SC2086
	./watchqd --socket "$sock" $args 2>/tmp/watchqd-$rung.log &
	daemon=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 600 ] && kill -0 "$daemon" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	if [ ! -S "$sock" ]; then
		echo "not ok $rung: watchqd did not start"
		sed 's/^/    /' /tmp/watchqd-$rung.log
		kill "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
		failed=$((failed + 1))
		continue
	fi
	WATCHQ_TEST_SHARED_SOCKET=$sock WATCHQ_TEST_DAEMON_ARGS=$args \
		WATCHQ_TEST_EXPECT_RUNG=$rung \
		./test-host keys_ daemon_rung daemon_sync guest_ sb_remount \
		sb_ext4_edquot '^mount_' > /tmp/rung.out 2>&1
	kill "$daemon"
	wait "$daemon" || { echo "not ok $rung: watchqd did not stop cleanly"; cat /tmp/watchqd-$rung.log; failed=$((failed + 1)); }
	sed -E "s/^(ok|not ok|skip) /\1 $rung:/" /tmp/rung.out |
		grep -vE '^[0-9]+ passed, [0-9]+ failed'
	# The guest has their modules, and EDQUOT runs nowhere else: a skip
	# here means a broken setup.
	if grep -qE '^skip (guest_|sb_ext4_edquot|mount_)' /tmp/rung.out; then
		echo "not ok $rung: tests meant for the guest skipped in it"
		failed=$((failed + 1))
	fi
	if grep -q '^not ok' /tmp/rung.out; then
		echo "# $rung daemon's log:"
		cat /tmp/watchqd-$rung.log
		echo "# $rung probe, verbose:"
		# shellcheck disable=SC2086
		./watchqd --probe -v $args 2>&1 | grep -vE '^  ' | head -20
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' /tmp/rung.out | tail -n 1)
	if [ -z "$line" ]; then
		echo "not ok $rung: the suite crashed"
		failed=$((failed + 1))
		continue
	fi
	# shellcheck disable=SC2046
	set -- $(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/')
	passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + ${3:-0}))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
