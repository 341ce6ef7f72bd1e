/* SPDX-License-Identifier: GPL-2.0 */
/* watchqd's state: consumers, their queues, and the watches that feed them. */
#ifndef WATCHQ_DAEMON_H
#define WATCHQ_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "filter.h"
#include "proto.h"
#include "ring.h"

struct watchq_keys;
struct watchq_block;
struct watchq_mount;
struct watchq_sb;

struct wqd_opts {
	const char *socket_path;
	unsigned int max_pages;		/* largest ring a consumer may ask for */
	bool group_set;
	gid_t group;			/* may watch devices and superblocks */
	unsigned int max_queues;	/* per user */
	unsigned int max_watches;	/* per user */
	unsigned int max_user_pages;	/* per user, all queues */
	bool force_tracepoint;
	bool sources_given;		/* --sources: every one listed must load */
	__u32 subtypes[WATCHQ_TYPE___NR]; /* global filter, bit n = subtype n */
	bool enable_keys;
	bool enable_block;
	bool enable_mount;
	bool enable_sb;
	int verbose;
};

/* One consumer's ring and what happens to the records meant for it. */
struct wqd_queue {
	int memfd, eventfd;
	void *mem;
	size_t bytes;
	unsigned int pages;
	struct watchq_producer prod;
	bool has_filter;
	struct watchq_filter filter;
	struct watchq_msg_stats stats;
	bool wake;			/* an eventfd write is due */
	struct wqd_queue *wake_next;
};

struct wqd_user {
	uid_t uid;
	unsigned int queues, watches, pages;
	unsigned int refs;		/* connections of this user */
	struct wqd_user *next;
};

struct wqd_watch;

struct wqd_client {
	int fd;
	pid_t pid;			/* all from SO_PEERCRED, never the peer's word */
	uid_t uid;
	gid_t gid;
	bool privileged;		/* root or in the allowed group */
	bool prover;			/* holds its process's keyctl proofs */
	struct wqd_user *user;
	struct wqd_queue *q;		/* NULL until WATCHQ_OP_OPEN */
	struct wqd_watch *watches;	/* this client's, in no order */
	struct wqd_client *next;
};

struct wqd_watch {
	__u32 kind;			/* enum watchq_watch_kind */
	__u64 object;			/* key serial; 0 for devices */
	__u8 watch_id;
	struct wqd_client *client;
	struct wqd_watch *obj_next;	/* same hash bucket */
	struct wqd_watch *client_next;
};

#define WQD_WATCH_BUCKETS 1024
/* BPF sources: keys, block, mount, sb (watchqd.c's table). */
#define WQD_SOURCES 4

struct wqd {
	struct wqd_opts opts;
	int epfd, listen_fd, signal_fd;
	struct watchq_keys *keys;	/* each source NULL when not enabled */
	struct watchq_block *block;
	struct watchq_mount *mount;
	struct watchq_sb *sb;
	struct ring_buffer *rb;		/* every source's BPF ring buffer */
	__u64 dropped[WQD_SOURCES];	/* BPF-side drops already accounted */
	int load_err[WQD_SOURCES];	/* why an enabled source is missing */
	unsigned int device_watches;	/* the block source runs while > 0 */
	struct wqd_client *clients;
	struct wqd_user *users;
	struct wqd_watch *buckets[WQD_WATCH_BUCKETS];
	struct wqd_queue *wakes;	/* queues with an eventfd write due */
};

#define wqd_log(d, level, ...) do {					\
	if ((d)->opts.verbose >= (level))				\
		fprintf(stderr, "watchqd: " __VA_ARGS__);		\
} while (0)

/* queue.c */
int wqd_queue_new(struct wqd_queue **out, unsigned int pages, unsigned int max_pages);
void wqd_queue_free(struct wqd_queue *q);
struct wqd_watch **wqd_bucket(struct wqd *d, __u32 kind, __u64 object);
void wqd_deliver(struct wqd *d, struct wqd_watch *w,
		 const struct watchq_notification *n);
void wqd_fan_out(struct wqd *d, __u32 kind, __u64 object,
		 const struct watchq_notification *n);
void wqd_post_removal(struct wqd *d, struct wqd_watch *w);
void wqd_flush_wakes(struct wqd *d);

/* watchqd.c: take everything the BPF side has produced so far. */
void wqd_drain(struct wqd *d);

/*
 * watchqd.c: and what the mount and superblock sources' fds hold
 * (fanotify's events).  The kernel produces records synchronously, so
 * after this everything that preceded a request is posted.
 */
void wqd_catch_up(struct wqd *d);

/* server.c */
int wqd_listen(struct wqd *d);
int wqd_accept(struct wqd *d);
void wqd_client_input(struct wqd *d, struct wqd_client *c);
void wqd_client_close(struct wqd *d, struct wqd_client *c);
void wqd_drop_watch(struct wqd *d, struct wqd_watch *w);

#endif /* WATCHQ_DAEMON_H */
