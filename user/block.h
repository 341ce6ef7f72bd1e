/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The block source: loads bpf/block.bpf.c by its attach ladder.  Records
 * come out of its BPF ring buffer in the slot format, watch id 0: block
 * records (3 slots), for every devices watch.  The BPF programs return at
 * once while no devices watch exists (watchq_block_enable()).
 */
#ifndef WATCHQ_BLOCK_H
#define WATCHQ_BLOCK_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#include "watchq_abi.h"

struct watchq_block;

struct watchq_block_opts {
	bool force_tracepoint;	/* skip the fentry rung even where it loads */
	__u32 subtypes;		/* global filter: bit n passes block subtype n */
	int verbose;
};

/* Open, load and attach; -errno with a message on stderr on failure. */
int watchq_block_open(struct watchq_block **out, const struct watchq_block_opts *o);
void watchq_block_close(struct watchq_block *b);

/* The BPF ring buffer map's fd, for ring_buffer__new()/__add(). */
int watchq_block_ringbuf_fd(const struct watchq_block *b);

/* Records the BPF side could not put into its ring buffer, since open. */
__u64 watchq_block_dropped(const struct watchq_block *b);

/* "fentry" or "tracepoint". */
const char *watchq_block_rung(const struct watchq_block *b);

/* For --probe and the start-up log: the rung and what it cannot see. */
void watchq_block_describe(const struct watchq_block *b, FILE *f);

/* Produce records (a devices watch exists) or return at once. */
void watchq_block_enable(struct watchq_block *b, bool on);

/*
 * A record from the ring buffer, before fan-out: false when it must be
 * dropped (a split bio of a request-based device, already reported by its
 * request); otherwise clears the internal flags and may set dev to the
 * whole disk's.
 */
bool watchq_block_accept(struct watchq_block *b, struct watchq_block_notification *n);

#endif /* WATCHQ_BLOCK_H */
