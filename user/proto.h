/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The socket protocol between watchqd and its consumers (libwatchq).
 *
 * A SOCK_SEQPACKET UNIX socket: one request, one reply, each one datagram
 * that starts with struct watchq_msg.  The header's len must equal the
 * datagram's size; a request the daemon cannot parse gets a reply with
 * err = -EINVAL (-EPROTO for another protocol version, -EOPNOTSUPP for an
 * unknown op) and the connection stays usable.  File descriptors travel as
 * SCM_RIGHTS on the same datagram.  One connection carries one queue;
 * closing it ends the queue and every watch on it.
 */
#ifndef WATCHQ_PROTO_H
#define WATCHQ_PROTO_H

#include <linux/types.h>
#include "watchq_abi.h"

#define WATCHQ_SOCKET_DEFAULT	"/run/watchq/watchq.sock"
#define WATCHQ_SOCKET_ENV	"WATCHQ_SOCKET"
#define WATCHQ_PROTO_VERSION	1
/* The tools' version (watchqd -V, watchq -V). */
#define WATCHQ_VERSION		"0.1"
/* Large enough for the largest filter; anything bigger is refused. */
#define WATCHQ_MSG_MAX		1024

struct watchq_msg {
	__u32	len;		/* bytes, this header included */
	__u16	version;	/* WATCHQ_PROTO_VERSION */
	__u16	op;		/* enum watchq_op */
	__u32	seq;		/* chosen by the client, echoed in the reply */
	__s32	err;		/* replies: 0 or -errno; requests: 0 */
};

enum watchq_op {
	/* body: struct watchq_msg_open.  Reply body: struct watchq_msg_opened,
	 * with two fds: the ring (a memfd sealed against resizing, to map
	 * shared read-write) and the wake eventfd.  Once per connection
	 * (-EBUSY after); every other op first needs it (-EBADFD). */
	WATCHQ_OP_OPEN		= 1,
	/* body: a struct watchq_notification_filter and its entries, or
	 * nothing to remove the filter. */
	WATCHQ_OP_SET_FILTER	= 2,
	/* body: struct watchq_msg_watch.  Keys name a serial (special ids are
	 * resolved by the consumer, which proves it may view the key by
	 * calling keyctl(KEYCTL_DESCRIBE) on it first); mounts and
	 * superblocks pass an O_PATH fd; devices name nothing. */
	WATCHQ_OP_WATCH		= 3,
	WATCHQ_OP_UNWATCH	= 4,
	/* no body.  Reply body: struct watchq_msg_stats. */
	WATCHQ_OP_STATS		= 5,
	/* no body.  Answered once every record the kernel produced before
	 * the request was read (BPF ring buffers, the fanotify queues of the
	 * mount and superblock sources) is in the ring (or counted lost). */
	WATCHQ_OP_SYNC		= 6,
};

struct watchq_msg_open {
	__u32	pages;		/* a power of two, 1 to the daemon's maximum */
	__u32	flags;		/* 0 */
};

struct watchq_msg_opened {
	__u32	pages;
	__u32	bytes;		/* the size to map */
};

enum watchq_watch_kind {
	WATCHQ_WATCH_KEY	= 1,
	WATCHQ_WATCH_MOUNT	= 2,	/* the mount subtree of a path (fd) */
	WATCHQ_WATCH_SB		= 3,	/* the superblock of a path (fd) */
	WATCHQ_WATCH_DEVICES	= 4,	/* every block device */
};

struct watchq_msg_watch {
	__u32	kind;		/* enum watchq_watch_kind */
	__u32	watch_id;	/* 0-255, ORed into each record's info */
	__s64	id;		/* WATCHQ_WATCH_KEY: the key's serial */
};

/* Counters of this connection's queue, as the daemon keeps them. */
struct watchq_msg_stats {
	__u64	posted;		/* records written into the ring */
	__u64	lost;		/* records that did not fit, or were lost upstream */
	__u64	filtered;	/* records the queue's filter dropped */
	__u64	wakeups;	/* eventfd writes */
	__u64	corrupt;	/* posts refused because the tail was corrupt */
};

#endif /* WATCHQ_PROTO_H */
