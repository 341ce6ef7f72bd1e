/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bpf/block.bpf.c and user/block.c (fixed-width types only). */
#ifndef WATCHQ_BPF_BLOCK_H
#define WATCHQ_BPF_BLOCK_H

/*
 * Internal, never reaches a consumer: the record came from
 * block_bio_complete, which also fires for split bios of request-based
 * devices; the daemon keeps it only for bio-based devices and clears it.
 */
#define WATCHQ_BLOCK_FROM_BIO	WATCHQ_INFO_FLAG_7

/* Entries of the kernel's blk_errors[] read (blk_status_t is a u8, and
 * mainline uses fewer than 32). */
#define WATCHQ_BLOCK_MAX_STS	32
#define WATCHQ_BLOCK_NAME_LEN	32

struct watchq_block_sts {
	__s32	err;			/* negative errno */
	__u32	pad;
	char	name[WATCHQ_BLOCK_NAME_LEN];
};

#endif /* WATCHQ_BPF_BLOCK_H */
