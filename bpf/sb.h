/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bpf/sb.bpf.c and user/sb.c (fixed-width types only). */
#ifndef WATCHQ_BPF_SB_H
#define WATCHQ_BPF_SB_H

/*
 * Internal, never reaches a consumer: a remount or a filesystem error may
 * have switched some superblock between read-only and read-write; user
 * space compares each watched superblock's flags with what it last saw.
 */
#define WATCHQ_SB_HINT		255

/* In the hint's info (type-specific bits): ext4_error fired on sb_id. */
#define WATCHQ_SB_HINT_EXT4_ERROR	(1U << 16)

struct watchq_sb_hint {
	__u32	type_subtype;	/* WATCHQ_TYPE_SB_NOTIFY, subtype HINT */
	__u32	info;		/* 2 slots */
	__u64	sb_id;		/* the superblock an error named, or 0 */
};

#endif /* WATCHQ_BPF_SB_H */
