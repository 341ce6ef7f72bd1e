/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libwatchq-compat: the mainline notification pipe (O_NOTIFICATION_PIPE,
 * <linux/watch_queue.h>) served from watchqd by an LD_PRELOAD library.
 *
 * Each notification pipe has one pump: a process forked by pipe2() that
 * holds a libwatchq queue and the pipe's write end, and copies records from
 * the ring into the pipe in the mainline format.  Any process holding the
 * pipe (dup2()ed, inherited) reaches the pump through an abstract UNIX
 * socket named after the pipe's inode; this header is that small protocol.
 * See doc/compat.md.
 */
#ifndef WATCHQ_COMPAT_H
#define WATCHQ_COMPAT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/types.h>
#include "watchq_abi.h"

/*
 * The mainline numbers, spelt here: <linux/watch_queue.h> pulls in
 * <linux/fcntl.h>, which clashes with glibc's <fcntl.h>.  The record and
 * filter layouts are the watchq ones (watchq_abi.h checks their sizes);
 * only the length (bytes, mask 0x7f) and the META subtypes differ.
 */
#define COMPAT_O_NOTIFICATION_PIPE	0x80	/* O_EXCL */
#define COMPAT_IOC_SET_SIZE		0x5760	/* _IO('W', 0x60) */
#define COMPAT_IOC_SET_FILTER		0x5761	/* _IO('W', 0x61) */
#define COMPAT_INFO_LENGTH		0x7f
#define COMPAT_TYPE__NR			2	/* META and KEY_NOTIFY */
#define COMPAT_META_REMOVAL		0
#define COMPAT_META_LOSS		1
#define COMPAT_MAX_NOTES		512
#define COMPAT_KEYCTL_WATCH_KEY		32
#define COMPAT_KEYCTL_CAPABILITIES	31
#define COMPAT_CAPS1_NOTIFICATIONS	0x04

/* Requests to a pump: one datagram with the pipe's fd as SCM_RIGHTS. */
enum compat_op {
	COMPAT_OP_WATCH		= 1,	/* serial, watch_id */
	COMPAT_OP_UNWATCH	= 2,	/* serial */
	COMPAT_OP_SET_SIZE	= 3,	/* arg: notes */
	COMPAT_OP_SET_FILTER	= 4,	/* body: a watchq filter, or none */
	COMPAT_OP_SYNC		= 5,	/* reply: bytes held outside the pipe */
};

struct compat_req {
	__u32	op;
	__s32	serial;
	__u32	watch_id;
	__u32	arg;
	/* COMPAT_OP_SET_FILTER: struct watchq_notification_filter follows */
};

struct compat_rep {
	__s32	err;		/* 0 or -errno */
	__u32	pending;	/* COMPAT_OP_SYNC: bytes not yet in the pipe */
};

#define COMPAT_REQ_MAX	(sizeof(struct compat_req) + \
			 sizeof(struct watchq_notification_filter) + \
			 WATCHQ_MAX_FILTERS * sizeof(struct watchq_notification_type_filter))

/* The pump's abstract socket for the pipe (dev, ino); returns its length. */
socklen_t compat_sock_addr(struct sockaddr_un *sa, dev_t dev, ino_t ino);

/*
 * Fork the pump for the pipe whose write end is @wfd: it connects to the
 * daemon itself (so the daemon's view checks see the pump's own keyctl
 * calls), binds its socket and reports.  0, or -errno (-ECONNREFUSED or
 * -ENOENT when no daemon listens).
 */
int compat_pump_spawn(int wfd, const struct stat *st);

/* The real libc functions, behind the interposers. */
extern int (*compat_real_pipe2)(int fds[2], int flags);

#endif /* WATCHQ_COMPAT_H */
