// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The pump of one notification pipe: a process forked by pipe2() that owns
 * a libwatchq queue and moves its records into the pipe in the mainline
 * format, one record per pipe buffer (the pipe is in O_DIRECT packet mode,
 * as mainline uses one buffer per note).  It serves the pipe's ioctls and
 * KEYCTL_WATCH_KEY for every process that holds the pipe, over an abstract
 * socket named after the pipe's inode, and ends when no reader is left.
 *
 * Why a process, not a thread: the pipe outlives its creator's exec and is
 * shared by processes that inherit it (keyctl watch_session, watch_add), and
 * the daemon's view check is keyed on the connecting process, so the queue
 * must belong to one long-lived process that none of the users is.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "watchq.h"
#include "compat.h"

#define PUMP_PAGES	4	/* the ring is only a hand-over: drained at once */
#define BL_MAX		(COMPAT_MAX_NOTES + 2)
#define REQ_TIMEOUT_MS	2000

struct bl_rec {
	__u8 len;
	bool marker;		/* the loss record */
	__u64 data[16];		/* 128 bytes: any mainline record */
};

struct pump {
	struct watchq *q;
	int wfd, lfd;
	dev_t dev;
	ino_t ino;
	uid_t uid;
	bool sized;		/* IOC_WATCH_QUEUE_SET_SIZE done (EBUSY after) */
	unsigned int bl_cap;	/* records the backlog may hold beyond the pipe */
	/* Records that did not fit in the pipe yet, oldest first. */
	struct bl_rec bl[BL_MAX];
	unsigned int bl_head, bl_n, bl_data;
	unsigned int bl_bytes;
};

socklen_t compat_sock_addr(struct sockaddr_un *sa, dev_t dev, ino_t ino)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* Abstract: nothing to clean up, gone with the pump. */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		     "watchq-compat/%llx/%llu", (unsigned long long)dev,
		     (unsigned long long)ino);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static struct bl_rec *bl_at(struct pump *p, unsigned int i)
{
	return &p->bl[(p->bl_head + i) % BL_MAX];
}

/*
 * Write one record if the pipe has a free buffer.  The pump is the pipe's
 * only writer, so POLLOUT (not full) means this write cannot block whatever
 * the application's O_NONBLOCK.  True when written; false when full (a pipe
 * with no reader counts as written: the loop ends on POLLERR).
 */
static bool put(struct pump *p, const void *rec, unsigned int len)
{
	struct pollfd pf = { .fd = p->wfd, .events = POLLOUT };
	ssize_t n;

	if (poll(&pf, 1, 0) != 1 || !(pf.revents & (POLLOUT | POLLERR)))
		return false;
	do
		n = write(p->wfd, rec, len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len || (n < 0 && errno != EAGAIN);
}

/* Write the backlog into the pipe while it has room. */
static void flush(struct pump *p)
{
	while (p->bl_n) {
		struct bl_rec *r = bl_at(p, 0);

		if (!put(p, r->data, r->len))
			return;
		p->bl_bytes -= r->len;
		if (!r->marker)
			p->bl_data--;
		p->bl_head = (p->bl_head + 1) % BL_MAX;
		p->bl_n--;
	}
}

static void bl_push(struct pump *p, const void *rec, unsigned int len, bool marker)
{
	struct bl_rec *r = bl_at(p, p->bl_n);

	r->len = (__u8)len;
	r->marker = marker;
	memcpy(r->data, rec, len);
	p->bl_n++;
	p->bl_bytes += len;
	if (!marker)
		p->bl_data++;
}

static const struct watchq_notification loss_rec = {
	.type = WATCHQ_TYPE_META, .subtype = COMPAT_META_LOSS, .info = 8,
};

/* Write @rec now if nothing waits before it; true if it went. */
static bool write_now(struct pump *p, const void *rec, unsigned int len)
{
	return !p->bl_n && put(p, rec, len);
}

/*
 * Records were lost here.  Mainline flags the last buffer with
 * PIPE_BUF_FLAG_LOSS and the reader synthesises the 8-byte loss record
 * after it; the pump queues that record at the same place: after what is
 * already queued, before the next record.  One per run of losses, and it
 * takes no note of the queue's size, as in mainline.
 */
static void mark_loss(struct pump *p)
{
	if (p->bl_n && bl_at(p, p->bl_n - 1)->marker)
		return;
	if (!write_now(p, &loss_rec, sizeof(loss_rec)))
		bl_push(p, &loss_rec, sizeof(loss_rec), true);
}

/* Append one record to the stream, or lose it when the queue is full. */
static void emit(struct pump *p, const void *rec, unsigned int len)
{
	if (write_now(p, rec, len))
		return;
	if (p->bl_data < p->bl_cap && p->bl_n < BL_MAX - 1)
		bl_push(p, rec, len, false);
	else
		mark_loss(p);
}

/*
 * A ring record in the mainline layout: length in bytes, META subtypes
 * renumbered (mainline's REMOVAL is 0, LOSS 1; watchq's SKIP is 0, REMOVAL
 * 1).  Only the types mainline has get through.  Returns the length, or 0.
 */
static unsigned int to_mainline(const struct watchq_notification *n, int slots,
				__u64 *out)
{
	struct watchq_notification *h = (void *)out;
	unsigned int len = (unsigned int)slots * 8;

	if (n->type >= COMPAT_TYPE__NR || len > 127)
		return 0;
	if (n->type == WATCHQ_TYPE_META &&
	    n->subtype != WATCHQ_META_REMOVAL_NOTIFICATION)
		return 0;
	memcpy(out, n, len);
	if (n->type == WATCHQ_TYPE_META)
		h->subtype = COMPAT_META_REMOVAL;
	h->info = (n->info & ~(__u32)COMPAT_INFO_LENGTH) | len;
	return len;
}

/* Move everything in the ring into the stream. */
static void drain(struct pump *p)
{
	const struct watchq_notification *n;
	__u64 rec[16];
	unsigned int len;
	int slots;

	flush(p);
	while ((slots = watchq_peek(p->q, &n)) > 0) {
		len = to_mainline(n, slots, rec);
		watchq_consume(p->q, n);
		/* The daemon lost records before this one (the ring was
		 * full): the loss goes here, the nearest place known. */
		if (watchq_clear_lost(p->q))
			mark_loss(p);
		if (len)
			emit(p, rec, len);
	}
}

/* IOC_WATCH_QUEUE_SET_SIZE: the pipe holds @notes buffers, as mainline's. */
static int set_size(struct pump *p, unsigned int notes)
{
	long ps = sysconf(_SC_PAGESIZE);
	unsigned int slots = 1;
	int got;

	if (p->sized)
		return -EBUSY;
	if (notes < 1 || notes > COMPAT_MAX_NOTES)
		return -EINVAL;
	while (slots < notes)
		slots <<= 1;
	/* Past pipe-max-size an unprivileged user gets EPERM: the backlog
	 * holds the difference. */
	got = fcntl(p->wfd, F_SETPIPE_SZ, (int)(slots * ps));
	if (got < 0)
		got = fcntl(p->wfd, F_GETPIPE_SZ);
	if (got < 0)
		return -errno;
	slots = (unsigned int)(got / ps);
	p->bl_cap = notes > slots ? notes - slots : 0;
	p->sized = true;
	return 0;
}

/*
 * The mainline filter (already checked by the caller, the same layout) as
 * a watchq one: unknown types dropped, only subtype_filter[0] used, as
 * mainline does; and removal records always pass, since mainline posts
 * them past the filter.
 */
static int set_filter(struct pump *p, const void *body, size_t blen)
{
	union {
		struct watchq_notification_filter f;
		char b[COMPAT_REQ_MAX];
	} in, out;
	unsigned int i, nr = 0;

	if (!blen)
		return watchq_set_filter(p->q, NULL);
	if (blen < sizeof(in.f) || blen > sizeof(in))
		return -EINVAL;
	memcpy(&in, body, blen);
	if (in.f.nr_filters > WATCHQ_MAX_FILTERS ||
	    blen != sizeof(in.f) + in.f.nr_filters * sizeof(in.f.filters[0]))
		return -EINVAL;
	memset(&out, 0, sizeof(out));
	for (i = 0; i < in.f.nr_filters; i++) {
		const struct watchq_notification_type_filter *t = &in.f.filters[i];

		if (t->type != WATCHQ_TYPE_KEY_NOTIFY || nr >= WATCHQ_MAX_FILTERS - 1)
			continue;
		out.f.filters[nr] = *t;
		memset(out.f.filters[nr].subtype_filter + 1, 0,
		       sizeof(t->subtype_filter) - sizeof(t->subtype_filter[0]));
		nr++;
	}
	out.f.filters[nr].type = WATCHQ_TYPE_META;
	out.f.filters[nr].subtype_filter[0] = 1u << WATCHQ_META_REMOVAL_NOTIFICATION;
	out.f.nr_filters = nr + 1;
	return watchq_set_filter(p->q, &out.f);
}

static int do_request(struct pump *p, const struct compat_req *r, size_t len,
		      struct compat_rep *rep)
{
	int err;

	switch (r->op) {
	case COMPAT_OP_WATCH:
		/* The daemon checks View through this process's own
		 * KEYCTL_DESCRIBE, which libwatchq makes. */
		err = watchq_watch_key(p->q, r->serial, r->watch_id);
		/* The per-user watch limit: mainline says EAGAIN. */
		return err == -EDQUOT ? -EAGAIN : err;
	case COMPAT_OP_UNWATCH:
		err = watchq_unwatch_key(p->q, r->serial, 0);
		drain(p);	/* the removal record, before the caller returns */
		return err;
	case COMPAT_OP_SET_SIZE:
		return set_size(p, r->arg);
	case COMPAT_OP_SET_FILTER:
		return set_filter(p, r + 1, len - sizeof(*r));
	case COMPAT_OP_SYNC:
		/* Everything the kernel did before the caller asked is in
		 * the ring once this returns; then into the pipe with it. */
		err = watchq_sync(p->q);
		drain(p);
		rep->pending = p->bl_bytes;
		return err;
	default:
		return -EINVAL;
	}
}

/* One client: one request, one reply.  Only the pipe's holders may ask. */
static void serve(struct pump *p)
{
	union {
		struct compat_req r;
		char b[COMPAT_REQ_MAX];
	} req;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = req.b, .iov_len = sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct compat_rep rep = { 0 };
	struct pollfd pf;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct cmsghdr *cm;
	struct stat st;
	int c, fd = -1;
	ssize_t n;

	c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	pf = (struct pollfd){ .fd = c, .events = POLLIN };
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    (cred.uid != p->uid && cred.uid != 0) ||
	    poll(&pf, 1, REQ_TIMEOUT_MS) != 1)
		goto out;
	n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	for (cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	/* Holding the pipe is the right to use it, as in the kernel. */
	if (n < (ssize_t)sizeof(req.r) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    fd < 0 || fstat(fd, &st) || st.st_dev != p->dev || st.st_ino != p->ino)
		rep.err = -EINVAL;
	else
		rep.err = do_request(p, &req.r, (size_t)n, &rep);
	if (send(c, &rep, sizeof(rep), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* The caller went away: nothing to tell. */
	}
out:
	if (fd >= 0)
		close(fd);
	close(c);
}

static __attribute__((noreturn)) void pump_loop(struct pump *p)
{
	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = p->wfd, .events = p->bl_n ? POLLOUT : 0 },
			{ .fd = watchq_fd(p->q), .events = POLLIN },
			{ .fd = p->lfd, .events = POLLIN },
		};

		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		/* No reader left: the pipe is done, and so is the queue. */
		if (pf[0].revents & (POLLERR | POLLHUP))
			_exit(0);
		if (pf[1].revents) {
			if (watchq_wait(p->q, 0) == -EPIPE)
				_exit(0);	/* the daemon went away */
			drain(p);
		}
		if (pf[0].revents & POLLOUT)
			flush(p);
		if (pf[2].revents & POLLIN)
			serve(p);
	}
}

/* Keep only @keep (moved above 2) and /dev/null as 0-2. */
static void isolate(int *keep, int nkeep)
{
	int i, j, lo = 3, null, sorted[4];

	/* Above 2 (the originals may be 0-2); fcntl picks free numbers. */
	for (i = 0; i < nkeep; i++)
		sorted[i] = keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 3);
	for (i = 0; i < nkeep; i++)
		for (j = i + 1; j < nkeep; j++)
			if (sorted[j] < sorted[i]) {
				int t = sorted[i];

				sorted[i] = sorted[j];
				sorted[j] = t;
			}
	close_range(0, 2, 0);
	for (i = 0; i < nkeep; i++) {
		if (sorted[i] > lo)
			close_range((unsigned int)lo, (unsigned int)sorted[i] - 1, 0);
		lo = sorted[i] + 1;
	}
	close_range((unsigned int)lo, ~0U, 0);
	null = open("/dev/null", O_RDWR);
	while (null >= 0 && null < 2)
		null = dup(null);
}

static __attribute__((noreturn)) void pump_child(int wfd, int status, const struct stat *st)
{
	static struct pump p;
	struct sockaddr_un sa;
	socklen_t salen;
	int keep[2] = { wfd, status }, err, sig;
	sigset_t all;

	/* Nothing of the application's but the pipe: no terminal, no
	 * handlers, no other fds (a test reading keyctl's stdout to EOF must
	 * not wait for us), its own session so ^C hits only the app. */
	isolate(keep, 2);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	setsid();
	prctl(PR_SET_NAME, "watchq-pump");

	p.dev = st->st_dev;
	p.ino = st->st_ino;
	p.uid = geteuid();
	/* The application's write end, in packet mode (a reopen through
	 * /proc could not be: O_DIRECT is refused on open).  Its O_NONBLOCK is
	 * the application's, so every write is preceded by a poll. */
	p.wfd = keep[0];
	status = keep[1];
	err = 0;
	if (!err) {
		p.q = watchq_open(NULL, PUMP_PAGES);
		if (!p.q)
			err = -errno;
	}
	if (!err) {
		p.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		salen = compat_sock_addr(&sa, p.dev, p.ino);
		if (p.lfd < 0 || bind(p.lfd, (struct sockaddr *)&sa, salen) ||
		    listen(p.lfd, 16))
			err = -errno;
	}
	if (write(status, &err, sizeof(err)) != sizeof(err) || err)
		_exit(1);
	close(status);
	pump_loop(&p);
}

int compat_pump_spawn(int wfd, const struct stat *st)
{
	int sp[2], err = -EPROTO, wst;
	pid_t mid;
	ssize_t n;

	if (compat_real_pipe2(sp, O_CLOEXEC))
		return -errno;
	/* Double fork: the pump is nobody's child to reap, and the
	 * application never sees its SIGCHLD. */
	mid = fork();
	if (mid < 0) {
		err = -errno;
		close(sp[0]);
		close(sp[1]);
		return err;
	}
	if (mid == 0) {
		pid_t pid = fork();

		if (pid == 0)
			pump_child(wfd, sp[1], st);
		_exit(pid < 0 ? 1 : 0);
	}
	close(sp[1]);
	while (waitpid(mid, &wst, 0) < 0 && errno == EINTR)
		;
	do
		n = read(sp[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n != sizeof(err))
		err = -EPROTO;
	close(sp[0]);
	return err;
}
