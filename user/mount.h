/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mount source: fanotify's mount events (6.15+) and hints from
 * bpf/mount.bpf.c that a mount syscall succeeded; this half keeps a view of
 * every watched mount namespace's tree (from listmount/statmount, or from
 * its mountinfo before 6.11) and turns each change into exact mount records.
 * Mount ids are the kernel's 64-bit unique ids (STATX_MNT_ID_UNIQUE,
 * statmount's mnt_id); only where listmount cannot take another namespace
 * (before 6.11), the 32-bit ids mountinfo shows.
 */
#ifndef WATCHQ_MOUNT_H
#define WATCHQ_MOUNT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

#include "watchq_abi.h"

struct watchq_mount;

/*
 * A record for the watches on chain[0] (as it is) and on each of
 * chain[1..len-1], its ancestors, outermost last (with IN_SUBTREE added).
 */
typedef void (*watchq_mount_post_fn)(void *ctx, const struct watchq_mount_notification *n,
				     const __u64 *chain, unsigned int len);
/* The mount @mnt_id is gone: watches on it end. */
typedef void (*watchq_mount_gone_fn)(void *ctx, __u64 mnt_id);

struct watchq_mount_opts {
	bool force_tracepoint;	/* there is only the tracepoint rung */
	__u32 subtypes;		/* global filter: bit n passes mount subtype n */
	int verbose;
	watchq_mount_post_fn post;
	watchq_mount_gone_fn gone;
	void *ctx;
};

int watchq_mount_open(struct watchq_mount **out, const struct watchq_mount_opts *o);
void watchq_mount_close(struct watchq_mount *m);
int watchq_mount_ringbuf_fd(const struct watchq_mount *m);
__u64 watchq_mount_dropped(const struct watchq_mount *m);
const char *watchq_mount_rung(const struct watchq_mount *m);
void watchq_mount_describe(const struct watchq_mount *m, FILE *f);

/*
 * The mount @fd (an O_PATH fd from @pid) is on, as a unique id, if that
 * mount is in @pid's mount namespace (-EPERM if not); its namespace's id
 * to *@ns_id.
 */
int watchq_mount_resolve(struct watchq_mount *m, pid_t pid, int fd, __u64 *mnt_id,
			 __u64 *ns_id);

/* A watch on @mnt_id starts or ends: views of namespaces are kept while
 * watched.  @pid is the watcher (its namespace must be @ns_id). */
int watchq_mount_watch(struct watchq_mount *m, pid_t pid, __u64 ns_id, __u64 mnt_id);
void watchq_mount_unwatch(struct watchq_mount *m, __u64 mnt_id);

/* A record from the BPF ring buffer (a hint): read again what it names
 * (or, on the rescan rung, every watched tree) and post what changed. */
void watchq_mount_on_hint(struct watchq_mount *m, const void *data, size_t size);

/* Hints were lost (the BPF ring buffer was full): forget who was in a
 * mount syscall and read every watched tree again, posting what changed. */
void watchq_mount_resync(struct watchq_mount *m);

/* An fd to poll (EPOLLIN): some watched namespace changed; then call
 * watchq_mount_poll(), which also takes what is queued without waiting
 * (before answering a sync). */
int watchq_mount_poll_fd(const struct watchq_mount *m);
void watchq_mount_poll(struct watchq_mount *m);

/* statmount() of @mnt_id in namespace @ns_id (0: the daemon's own):
 * superblock flags (SB_RDONLY = 1) and the kernel's dev_t halves. */
int watchq_mount_sb_info(__u64 mnt_id, __u64 ns_id, __u32 *sb_flags,
			 __u32 *major, __u32 *minor);

#endif /* WATCHQ_MOUNT_H */
