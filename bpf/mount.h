/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bpf/mount.bpf.c and user/mount.c (fixed-width types only). */
#ifndef WATCHQ_BPF_MOUNT_H
#define WATCHQ_BPF_MOUNT_H

/*
 * Internal, never reaches a consumer: a syscall that may have changed some
 * mount namespace's tree returned success (or, for attach, detach and move
 * syscalls, started or returned at all).  A hint is not a record: the
 * daemon turns it into records (see user/mount.c).
 */
#define WATCHQ_MOUNT_HINT	255

/* What the syscall changed, as far as its arguments say. */
enum watchq_mount_hint_kind {
	WATCHQ_MOUNT_HINT_TOPOLOGY,	/* an attach, detach or move syscall returned */
	WATCHQ_MOUNT_HINT_ATTR,		/* the attributes of the mount at path */
	WATCHQ_MOUNT_HINT_ATTR_TREE,	/* ... of it and every mount below it */
	WATCHQ_MOUNT_HINT_SB,		/* the superblock of the mount at path */
	WATCHQ_MOUNT_HINT_SB_DEV,	/* the superblock @dev (fsconfig reconfigure) */
	WATCHQ_MOUNT_HINT_ENTER,	/* a topology syscall starts (umount: flags, path) */
};

#define WATCHQ_MOUNT_HINT_PATH	256

struct watchq_mount_hint {
	__u32	type_subtype;	/* WATCHQ_TYPE_MOUNT_NOTIFY, subtype HINT */
	__u32	info;		/* sizeof / 8 slots */
	__u32	syscall_nr;	/* the syscall's number, for the log */
	__u32	tgid;		/* who made it: its root, cwd and fds */
	__u32	tid;		/* resolve the path (user/mount.c) */
	__u32	kind;		/* enum watchq_mount_hint_kind */
	__s32	dfd;		/* the path is relative to it (AT_FDCWD: cwd) */
	__u32	dev;		/* SB_DEV: the kernel's dev_t (major << 20 | minor) */
	__u32	flags;		/* ENTER of umount2: its flags */
	__s32	ret;		/* TOPOLOGY: the syscall's return (ends an ENTER) */
	__u32	mnt_ns;		/* the caller's mount namespace (its nsfs inode) */
	__u32	reserved;
	char	path[WATCHQ_MOUNT_HINT_PATH];	/* "" with dfd: the fd's own mount */
};

#endif /* WATCHQ_BPF_MOUNT_H */
