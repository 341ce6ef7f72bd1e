// SPDX-License-Identifier: GPL-2.0
/*
 * The mount source's kernel half.  No tracepoint shows a mount tree change;
 * attaches, detaches and moves reach user space through fanotify's
 * FAN_MNT_ATTACH/DETACH (Linux 6.15+), but nothing at all reports a change
 * of a mount's attributes or of its superblock's read-only state.  So each
 * syscall that can change a mount posts a hint when it succeeds, saying
 * from its arguments what it changed and where: the path (and dfd) naming
 * the mount, or the superblock an fsconfig reconfigure worked on.  User
 * space then reads only that mount (or tree, or superblock's mounts) again.
 * Attach, detach and move syscalls also announce their entry, so that an
 * attach fanotify reports from a process in none of them is known as the
 * kernel's (IS_SUBMOUNT), and umount2(MNT_EXPIRE) names what expires.  On
 * kernels without fanotify's mount events the hints also stand for
 * attaches and detaches, and user space rereads the whole tree.
 *
 * The hint comes out of the ring buffer in order with every other record,
 * so WATCHQ_OP_SYNC after a mount syscall sees its records.
 */
#include "watchq.bpf.h"
#include "mount.h"

char LICENSE[] SEC("license") = "GPL";

/* Nonzero while at least one mount watch exists (user space flips it). */
__u32 watchq_mount_on;

/* A hint being built between a syscall's entry and its exit, by thread;
 * LRU so that threads killed inside a syscall cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct watchq_mount_hint);
} pending SEC(".maps");

/* Too big for the stack: built here, then copied into pending. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct watchq_mount_hint);
} scratch SEC(".maps");

/* mount(2) flags (uapi/linux/mount.h), and the magic old callers pass. */
#define MS_REMOUNT	0x20
#define MS_BIND		0x1000
#define MS_REC		0x4000
#define MS_UNBINDABLE	(1 << 17)
#define MS_PRIVATE	(1 << 18)
#define MS_SLAVE	(1 << 19)
#define MS_SHARED	(1 << 20)
#define MS_MGC_MSK	0xffff0000
#define MS_MGC_VAL	0xC0ED0000
#define AT_EMPTY_PATH	0x1000
#define AT_RECURSIVE	0x8000
#define FSCONFIG_CMD_RECONFIGURE 7

static __always_inline struct watchq_mount_hint *hint_start(struct trace_event_raw_sys_enter *ctx,
							    __u32 kind)
{
	struct watchq_mount_hint *h;
	__u32 zero = 0;

	h = bpf_map_lookup_elem(&scratch, &zero);
	if (!h)
		return NULL;
	h->kind = kind;
	h->dfd = -100;		/* AT_FDCWD */
	h->dev = 0;
	h->flags = 0;
	h->ret = 0;
	h->path[0] = 0;
	h->syscall_nr = (__u32)BPF_CORE_READ(ctx, id);
	/* user space ignores attribute changes in namespaces nobody watches */
	h->mnt_ns = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(),
				  nsproxy, mnt_ns, ns.inum);
	return h;
}

static __always_inline void hint_send(struct watchq_mount_hint *h)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type_subtype = WATCHQ_TYPE_MOUNT_NOTIFY | (WATCHQ_MOUNT_HINT << 24);
	h->info = WATCHQ_INFO(sizeof(*h) / 8, 0, 0);
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	watchq_emit(h, sizeof(*h));
}

static __always_inline void hint_keep(struct watchq_mount_hint *h)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_update_elem(&pending, &tid, h, BPF_ANY);
}

static __always_inline void hint_path(struct watchq_mount_hint *h, int dfd, const char *path)
{
	h->dfd = dfd;
	if (bpf_probe_read_user_str(h->path, sizeof(h->path), path) < 0)
		h->path[0] = 0;
}

SEC("tracepoint/syscalls/sys_enter_mount")
int watchq_mount_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	unsigned long flags = BPF_CORE_READ(ctx, args[3]);
	struct watchq_mount_hint *h;
	__u32 kind;

	if (!watchq_mount_on)
		return 0;
	/* as do_mount() reads them */
	if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
		flags &= ~MS_MGC_MSK;
	/* in path_mount()'s order: a bind with a propagation flag is a bind */
	if (flags & MS_REMOUNT)
		kind = (flags & MS_BIND) ? WATCHQ_MOUNT_HINT_ATTR : WATCHQ_MOUNT_HINT_SB;
	else if (flags & MS_BIND)
		kind = WATCHQ_MOUNT_HINT_ENTER;
	else if (flags & (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE))
		kind = (flags & MS_REC) ? WATCHQ_MOUNT_HINT_ATTR_TREE : WATCHQ_MOUNT_HINT_ATTR;
	else
		kind = WATCHQ_MOUNT_HINT_ENTER;	/* new, move */
	h = hint_start(ctx, kind);
	if (!h)
		return 0;
	if (kind == WATCHQ_MOUNT_HINT_ENTER)
		hint_send(h);
	else
		hint_path(h, -100, (const char *)BPF_CORE_READ(ctx, args[1]));
	hint_keep(h);
	return 0;
}

/*
 * Attach, detach and move syscalls announce themselves on entry, before
 * fanotify queues what they do: the daemon tells a mount a syscall made
 * from one the kernel made (an automount: IS_SUBMOUNT), and an
 * umount2(MNT_EXPIRE) names the mount that expires (EXPIRY).
 */
SEC("tracepoint/syscalls/sys_enter_umount")
int watchq_mount_enter_umount(struct trace_event_raw_sys_enter *ctx)
{
	struct watchq_mount_hint *h;

	if (!watchq_mount_on || !(h = hint_start(ctx, WATCHQ_MOUNT_HINT_ENTER)))
		return 0;
	h->flags = (__u32)BPF_CORE_READ(ctx, args[1]);
	hint_path(h, -100, (const char *)BPF_CORE_READ(ctx, args[0]));
	hint_send(h);
	hint_keep(h);
	return 0;
}

#define ENTER_ON(sc)							\
SEC("tracepoint/syscalls/sys_enter_" #sc)				\
int watchq_mount_enter_##sc(struct trace_event_raw_sys_enter *ctx)	\
{									\
	struct watchq_mount_hint *h;					\
									\
	if (watchq_mount_on && (h = hint_start(ctx, WATCHQ_MOUNT_HINT_ENTER))) { \
		hint_send(h);						\
		hint_keep(h);						\
	}								\
	return 0;							\
}
ENTER_ON(move_mount)
ENTER_ON(pivot_root)

SEC("tracepoint/syscalls/sys_enter_mount_setattr")
int watchq_mount_enter_mount_setattr(struct trace_event_raw_sys_enter *ctx)
{
	unsigned long flags = BPF_CORE_READ(ctx, args[2]);
	struct watchq_mount_hint *h;

	if (!watchq_mount_on)
		return 0;
	h = hint_start(ctx, (flags & AT_RECURSIVE) ? WATCHQ_MOUNT_HINT_ATTR_TREE
						   : WATCHQ_MOUNT_HINT_ATTR);
	if (!h)
		return 0;
	hint_path(h, (int)BPF_CORE_READ(ctx, args[0]), (const char *)BPF_CORE_READ(ctx, args[1]));
	if (flags & AT_EMPTY_PATH)
		h->path[0] = 0;
	hint_keep(h);
	return 0;
}

/*
 * fsconfig(fd, FSCONFIG_CMD_RECONFIGURE) names no path: the superblock is
 * the root of the fs_context behind @fd (fspick set it), read here from the
 * caller's fd table.  The syscall itself refuses an fd of another kind, so
 * a successful return vouches for what was read.
 */
SEC("tracepoint/syscalls/sys_enter_fsconfig")
int watchq_mount_enter_fsconfig(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int fd = (int)BPF_CORE_READ(ctx, args[0]);
	struct watchq_mount_hint *h;
	struct fs_context *fc;
	struct file **fds, *f = NULL;

	if (!watchq_mount_on || BPF_CORE_READ(ctx, args[1]) != FSCONFIG_CMD_RECONFIGURE)
		return 0;
	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	fc = BPF_CORE_READ(f, private_data);
	h = hint_start(ctx, WATCHQ_MOUNT_HINT_SB_DEV);
	if (!h || !fc)
		return 0;
	h->dev = BPF_CORE_READ(fc, root, d_sb, s_dev);
	hint_keep(h);
	return 0;
}

/*
 * A syscall that announced itself returns: an attribute change that
 * succeeded is hinted with what it named; an attach, detach or move
 * syscall's return always is (the daemon counts it out of flight).
 */
static __always_inline void hint(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct watchq_mount_hint *h;
	long ret = BPF_CORE_READ(ctx, ret);

	h = bpf_map_lookup_elem(&pending, &tid);
	if (!h)
		return;
	if (h->kind == WATCHQ_MOUNT_HINT_ENTER) {
		h->kind = WATCHQ_MOUNT_HINT_TOPOLOGY;
		h->ret = (__s32)ret;
		hint_send(h);
	} else if (ret >= 0) {
		h->ret = (__s32)ret;
		hint_send(h);
	}
	bpf_map_delete_elem(&pending, &tid);
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
