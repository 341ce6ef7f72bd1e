/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The superblock source: loads bpf/sb.bpf.c.  Records come out of its BPF
 * ring buffer in the slot format with watch id 0, routed by sb_id (st_dev),
 * plus internal hints after which watchq_sb_on_hint() posts READONLY for
 * each watched superblock whose read-only state changed.
 */
#ifndef WATCHQ_SB_H
#define WATCHQ_SB_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

#include "watchq_abi.h"

struct watchq_sb;

typedef void (*watchq_sb_post_fn)(void *ctx, const struct watchq_notification *n,
				  __u64 sb_id);

struct watchq_sb_opts {
	bool force_tracepoint;	/* there is only the tracepoint rung */
	__u32 subtypes;		/* global filter: bit n passes sb subtype n */
	int verbose;
	watchq_sb_post_fn post;	/* READONLY records found after a hint */
	void *ctx;
};

int watchq_sb_open(struct watchq_sb **out, const struct watchq_sb_opts *o);
void watchq_sb_close(struct watchq_sb *s);
int watchq_sb_ringbuf_fd(const struct watchq_sb *s);
__u64 watchq_sb_dropped(const struct watchq_sb *s);
const char *watchq_sb_rung(const struct watchq_sb *s);
void watchq_sb_describe(const struct watchq_sb *s, FILE *f);

/* The superblock of an O_PATH @fd: st_dev. */
int watchq_sb_resolve(int fd, __u64 *sb_id);

/* A watch on the superblock @sb_id (of @fd, from @pid) starts or ends. */
int watchq_sb_watch(struct watchq_sb *s, pid_t pid, int fd, __u64 sb_id);
void watchq_sb_unwatch(struct watchq_sb *s, __u64 sb_id);

/* An fd to poll (EPOLLIN): a watched filesystem reported an error, or an
 * earlier one's consequences are due a look; then call watchq_sb_poll(),
 * which also takes what is queued without waiting (before a sync). */
int watchq_sb_poll_fd(const struct watchq_sb *s);
void watchq_sb_poll(struct watchq_sb *s);

/* A record from the ring buffer: true to fan it out by its sb_id; a hint
 * is handled here (READONLY records go to the post callback). */
bool watchq_sb_accept(struct watchq_sb *s, const void *data, size_t size);

#endif /* WATCHQ_SB_H */
