// SPDX-License-Identifier: GPL-2.0
/*
 * The mount source's kernel half: no tracepoint shows a mount tree change,
 * so this only says *that* one may have happened.  Each syscall that can
 * attach, detach, move or change a mount posts a hint when it succeeds;
 * user space rereads the trees it watches (listmount/statmount) and posts
 * the exact records.  The hint comes out of the ring buffer in order with
 * every other record, so WATCHQ_OP_SYNC after a mount syscall sees its
 * records.  Changes no syscall makes (automounts, expiry, namespaces torn
 * down) reach user space through poll() on each watched namespace's
 * mountinfo instead.
 */
#include "watchq.bpf.h"
#include "mount.h"

char LICENSE[] SEC("license") = "GPL";

/* Nonzero while at least one mount watch exists (user space flips it). */
__u32 watchq_mount_on;

static __always_inline void hint(struct trace_event_raw_sys_exit *ctx)
{
	struct watchq_mount_hint h = {};

	if (!watchq_mount_on || BPF_CORE_READ(ctx, ret) < 0)
		return;
	h.type_subtype = WATCHQ_TYPE_MOUNT_NOTIFY | (WATCHQ_MOUNT_HINT << 24);
	h.info = WATCHQ_INFO(2, 0, 0);
	h.syscall_nr = (__u32)BPF_CORE_READ(ctx, id);
	h.tgid = bpf_get_current_pid_tgid() >> 32;
	watchq_emit(&h, sizeof(h));
}

#define HINT_ON(sc)							\
SEC("tracepoint/syscalls/sys_exit_" #sc)				\
int watchq_mount_exit_##sc(struct trace_event_raw_sys_exit *ctx)	\
{									\
	hint(ctx);							\
	return 0;							\
}

/* mount(2) (new, bind, move, remount, propagation), umount2 */
HINT_ON(mount)
HINT_ON(umount)
/* the new API: attach a detached tree, reconfigure, change attributes */
HINT_ON(move_mount)
HINT_ON(fsconfig)
HINT_ON(mount_setattr)
HINT_ON(pivot_root)
