/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bpf/mount.bpf.c and user/mount.c (fixed-width types only). */
#ifndef WATCHQ_BPF_MOUNT_H
#define WATCHQ_BPF_MOUNT_H

/*
 * Internal, never reaches a consumer: a syscall that may have changed some
 * mount namespace's tree returned success.  The daemon rereads the trees it
 * watches and posts the real records; a hint is not a record.
 */
#define WATCHQ_MOUNT_HINT	255

struct watchq_mount_hint {
	__u32	type_subtype;	/* WATCHQ_TYPE_MOUNT_NOTIFY, subtype HINT */
	__u32	info;		/* 2 slots */
	__u32	syscall_nr;	/* the syscall's number, for the log */
	__u32	tgid;		/* who made it */
};

#endif /* WATCHQ_BPF_MOUNT_H */
