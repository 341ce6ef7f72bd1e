/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libwatchq: a consumer of watchq notification queues.
 *
 * A queue is a ring of watchq_notification records (see watchq_abi.h)
 * shared with the watchqd daemon, which fills it from eBPF.  Open one, set
 * a filter and watches, then wait on watchq_fd() (or watchq_wait()) and
 * read records with watchq_peek()/watchq_consume():
 *
 *	struct watchq *q = watchq_open(NULL, 0);
 *	const struct watchq_notification *n;
 *	int len;
 *
 *	watchq_watch_key(q, KEY_SPEC_SESSION_KEYRING, 1);
 *	while (watchq_wait(q, -1) > 0)
 *		while ((len = watchq_peek(q, &n)) > 0) {
 *			handle(n, len);		(len is in 8-byte slots)
 *			watchq_consume(q, n);
 *		}
 *
 * Errors: functions returning int return 0 (or a count) on success and
 * -errno on failure; functions returning a pointer return NULL and set
 * errno.  A struct watchq is not thread-safe: use it from one thread at a
 * time.  Closing it (or the process exiting) ends the queue and every watch
 * on it.  The daemon's socket is the one in $WATCHQ_SOCKET, else
 * /run/watchq/watchq.sock.
 */
#ifndef WATCHQ_H
#define WATCHQ_H

#include <linux/types.h>
#include "watchq_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef WATCHQ_API
#define WATCHQ_API __attribute__((visibility("default")))
#endif

/* Pages of a queue when watchq_open() is given 0. */
#define WATCHQ_DEFAULT_PAGES	4

struct watchq;

/*
 * Connect to watchqd at @socket_path (NULL: $WATCHQ_SOCKET, else the
 * default) and create a queue of @pages pages (a power of two the daemon
 * accepts; 0 for WATCHQ_DEFAULT_PAGES).  NULL with errno set on failure:
 * ENOENT/ECONNREFUSED when no daemon listens, EPROTO for a reply that does
 * not follow the protocol, or the daemon's own error (EINVAL for @pages).
 */
WATCHQ_API struct watchq *watchq_open(const char *socket_path, unsigned int pages);

/* End the queue, its watches and its mapping.  NULL is ignored. */
WATCHQ_API void watchq_close(struct watchq *q);

/*
 * One fd for poll/epoll/select: readable when records may be waiting or
 * when the daemon went away.  Owned by @q; do not read or close it.
 * Readiness can be spurious: after it fires, watchq_peek() until it
 * returns 0 (which re-arms it), or call watchq_wait(q, 0) to tell a gone
 * daemon (-EPIPE) from records.
 */
WATCHQ_API int watchq_fd(const struct watchq *q);

/*
 * Replace the queue's filter with @f (nr_filters entries follow it, as in
 * the ABI); NULL removes it so every record passes.  -EINVAL before asking
 * the daemon when @f breaks the ABI's rules.
 */
WATCHQ_API int watchq_set_filter(struct watchq *q,
				 const struct watchq_notification_filter *f);

/*
 * Watch (or stop watching) a key or keyring, by serial or special id
 * (KEY_SPEC_SESSION_KEYRING and friends, -1 to -8, resolved here and
 * created if absent, as KEYCTL_WATCH_KEY does).  @watch_id (0-255) goes
 * into each record's info.  -EINVAL for id 0 or @watch_id above 255,
 * -ENOKEY/-EACCES when this process may not view the key, -EBUSY when
 * already watched on this queue.
 */
WATCHQ_API int watchq_watch_key(struct watchq *q, __s32 key, unsigned int watch_id);
WATCHQ_API int watchq_unwatch_key(struct watchq *q, __s32 key, unsigned int watch_id);

/* Watch the mount subtree at @path (events below it carry IN_SUBTREE). */
WATCHQ_API int watchq_watch_mount(struct watchq *q, const char *path,
				  unsigned int watch_id);
WATCHQ_API int watchq_unwatch_mount(struct watchq *q, const char *path,
				    unsigned int watch_id);

/* Watch the superblock (filesystem) holding @path. */
WATCHQ_API int watchq_watch_sb(struct watchq *q, const char *path,
			       unsigned int watch_id);
WATCHQ_API int watchq_unwatch_sb(struct watchq *q, const char *path,
				 unsigned int watch_id);

/* Watch every block device's errors (the daemon may refuse: -EPERM). */
WATCHQ_API int watchq_watch_devices(struct watchq *q, unsigned int watch_id);
WATCHQ_API int watchq_unwatch_devices(struct watchq *q, unsigned int watch_id);

/*
 * The next record: points *@n at it in the ring and returns its length in
 * 8-byte slots (1-63), 0 when the ring is empty, -EBADMSG when the ring is
 * corrupt.  The record stays valid until watchq_consume().  Returning 0
 * re-arms watchq_fd(), so sleeping on it after a 0 never misses a record.
 */
WATCHQ_API int watchq_peek(struct watchq *q, const struct watchq_notification **n);

/* Release the record the last watchq_peek() returned. */
WATCHQ_API void watchq_consume(struct watchq *q, const struct watchq_notification *n);

/*
 * Wait up to @timeout_ms (-1: forever, 0: just check) for records: 1 when
 * some are ready, 0 on timeout, -EPIPE when the daemon went away and the
 * ring is drained, -EINTR on a signal, -errno otherwise.
 */
WATCHQ_API int watchq_wait(struct watchq *q, int timeout_ms);

/*
 * Return once every record for kernel operations that completed before
 * the call is in the ring (or counted as lost): a barrier for tests and
 * for tools that must not miss what they just did.
 */
WATCHQ_API int watchq_sync(struct watchq *q);

/* Whether records were lost (ring full or upstream): 1 or 0. */
WATCHQ_API int watchq_lost(const struct watchq *q);

/* Clear the loss flag; returns 1 if it was set, else 0. */
WATCHQ_API int watchq_clear_lost(struct watchq *q);

/*
 * The daemon's counters for this queue.  Size-first: set .sz to
 * sizeof(struct watchq_stats) before the call, so the struct can grow;
 * the library fills the fields that fit in .sz and zeroes those the daemon
 * did not send.  -EINVAL when .sz is smaller than this first version.
 */
struct watchq_stats {
	__u64	sz;		/* in: sizeof(struct watchq_stats) */
	__u64	posted;		/* records written into the ring */
	__u64	lost;		/* records that did not fit or were lost upstream */
	__u64	filtered;	/* records the queue's filter dropped */
	__u64	wakeups;	/* wake-ups sent */
	__u64	corrupt;	/* posts refused because the ring was corrupt */
};

WATCHQ_API int watchq_stats(struct watchq *q, struct watchq_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* WATCHQ_H */
