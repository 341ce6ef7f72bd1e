// SPDX-License-Identifier: GPL-2.0
/*
 * The superblock source's kernel half, for watched superblocks only (the
 * watched_sbs map, by the kernel's dev_t):
 *   - ERROR and EDQUOT from write-like syscalls failing with EIO, ENOSPC or
 *     EDQUOT, resolved to the superblock of their fd (arguments read back
 *     from the task's saved registers at sys_exit);
 *   - ERROR from ext4_shutdown (EIO), and a hint from ext4_error (the
 *     tracepoint has no errno: fanotify's FAN_FS_ERROR event, or else
 *     ext4's error record, gives it to user space);
 *   - hints for READONLY: a successful mount(2)/fsconfig() (remounts), or
 *     an ext4 error (errors=remount-ro); user space rereads sb flags.
 */
#include "watchq.bpf.h"
#include "sb.h"

char LICENSE[] SEC("license") = "GPL";

#define EIO		5
#define ENOSPC		28
#define EDQUOT		122

/* Nonzero while at least one superblock watch exists. */
__u32 watchq_sb_on;

/* Watched superblocks: kernel dev_t -> 1. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} watched_sbs SEC(".maps");

static __always_inline void emit_sb(__u32 kdev, __u32 subtype, __u32 err)
{
	struct watchq_superblock_error_notification n = {};
	__u64 slots = subtype == WATCHQ_NOTIFY_SUPERBLOCK_ERROR ? 3 : 2;

	if (!watchq_subtype_passes(subtype))
		return;
	watchq_set_header(&n.s.watch, WATCHQ_TYPE_SB_NOTIFY, subtype, slots, 0);
	n.s.sb_id = watchq_user_dev(kdev);
	n.error_number = err;
	if (slots == 3)
		watchq_emit(&n, 24);
	else
		watchq_emit(&n, 16);
}

static __always_inline void emit_hint(__u32 kdev, __u32 flags)
{
	struct watchq_sb_hint h = {};

	h.type_subtype = WATCHQ_TYPE_SB_NOTIFY | (WATCHQ_SB_HINT << 24);
	h.info = WATCHQ_INFO(2, 0, flags);
	h.sb_id = kdev ? watchq_user_dev(kdev) : 0;
	watchq_emit(&h, sizeof(h));
}

/* The superblock of the current task's file descriptor @fd, or 0. */
static __always_inline __u32 fd_sb_dev(__u64 fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds, *f = NULL;

	if (fd > 0xffffffffULL || fd >= BPF_CORE_READ(t, files, fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(t, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), fds + fd) || !f)
		return 0;
	return BPF_CORE_READ(f, f_inode, i_sb, s_dev);
}

/* A syscall on the file at argument @argn failed: tell its superblock. */
static __always_inline void io_failed(struct trace_event_raw_sys_exit *ctx, int argn)
{
	long ret = BPF_CORE_READ(ctx, ret);
	struct pt_regs *regs;
	__u64 fd;
	__u32 dev;

	if (ret != -EIO && ret != -ENOSPC && ret != -EDQUOT)
		return;
	if (!watchq_sb_on)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	fd = argn == 0 ? BPF_CORE_READ(regs, di) : BPF_CORE_READ(regs, dx);
	dev = fd_sb_dev(fd);
	if (!dev || !bpf_map_lookup_elem(&watched_sbs, &dev))
		return;
	if (ret == -EDQUOT)
		emit_sb(dev, WATCHQ_NOTIFY_SUPERBLOCK_EDQUOT, 0);
	else
		emit_sb(dev, WATCHQ_NOTIFY_SUPERBLOCK_ERROR, (__u32)-ret);
}

#define IO_ON(sc, argn)							\
SEC("tracepoint/syscalls/sys_exit_" #sc)				\
int watchq_sb_exit_##sc(struct trace_event_raw_sys_exit *ctx)		\
{									\
	io_failed(ctx, argn);						\
	return 0;							\
}

IO_ON(write, 0)
IO_ON(pwrite64, 0)
IO_ON(writev, 0)
IO_ON(pwritev, 0)
IO_ON(pwritev2, 0)
IO_ON(fallocate, 0)
IO_ON(ftruncate, 0)
IO_ON(fsync, 0)
IO_ON(fdatasync, 0)
IO_ON(sync_file_range, 0)
IO_ON(sendfile64, 0)
IO_ON(copy_file_range, 2)

/* Remounts: mount(2) with MS_REMOUNT and fsconfig(FSCONFIG_CMD_RECONFIGURE). */
static __always_inline void remount_hint(struct trace_event_raw_sys_exit *ctx)
{
	if (watchq_sb_on && BPF_CORE_READ(ctx, ret) == 0)
		emit_hint(0, 0);
}

SEC("tracepoint/syscalls/sys_exit_mount")
int watchq_sb_exit_mount(struct trace_event_raw_sys_exit *ctx)
{
	remount_hint(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_fsconfig")
int watchq_sb_exit_fsconfig(struct trace_event_raw_sys_exit *ctx)
{
	remount_hint(ctx);
	return 0;
}

SEC("tracepoint/ext4/ext4_error")
int watchq_sb_ext4_error(struct trace_event_raw_ext4_error *ctx)
{
	__u32 dev = BPF_CORE_READ(ctx, dev);

	if (!watchq_sb_on || !bpf_map_lookup_elem(&watched_sbs, &dev))
		return 0;
	/* The errno is not known yet (ext4 records it after the tracepoint):
	 * user space posts the ERROR from ext4's own error record. */
	emit_hint(dev, WATCHQ_SB_HINT_EXT4_ERROR);
	return 0;
}

SEC("tracepoint/ext4/ext4_shutdown")
int watchq_sb_ext4_shutdown(struct trace_event_raw_ext4_shutdown *ctx)
{
	__u32 dev = BPF_CORE_READ(ctx, dev);

	if (!watchq_sb_on || !bpf_map_lookup_elem(&watched_sbs, &dev))
		return 0;
	emit_sb(dev, WATCHQ_NOTIFY_SUPERBLOCK_ERROR, EIO);
	emit_hint(dev, 0);
	return 0;
}
