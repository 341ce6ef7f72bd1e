// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * libwatchq: the client side of user/proto.h and the consumer half of the
 * ring.  The daemon is a separate, more privileged process, but nothing it
 * sends is trusted blindly: reply sizes, fd counts, the ring's size and
 * seals are all checked, and the ring itself is read through ring.c, which
 * never reads outside the mapping whatever the shared pages say.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "watchq.h"
#include "filter.h"
#include "proto.h"
#include "ring.h"

#define MAX_FDS		8	/* more than any reply carries, to see extras */

struct watchq {
	int sock;
	int evfd;
	int epfd;
	bool ev_nonblock;	/* the daemon made the eventfd O_NONBLOCK */
	bool broken;		/* a reply broke the protocol: stop talking */
	__u32 seq;
	void *map;
	size_t bytes;
	struct watchq_consumer c;
	/* The last peeked record and its length as peek validated it, so
	 * consume never re-reads a length the daemon could have changed. */
	const struct watchq_notification *peeked;
	unsigned int peeked_len;
};

union msg_buf {
	struct watchq_msg hdr;
	char bytes[WATCHQ_MSG_MAX];
};

static void close_fds(const int *fds, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		close(fds[i]);
}

/* Errors that mean the daemon's end of the socket is gone. */
static int sock_err(int err)
{
	return err == EPIPE || err == ECONNRESET || err == ENOTCONN ? -EPIPE : -err;
}

static int send_req(struct watchq *q, __u16 op, const void *body, size_t blen,
		    int fd)
{
	union msg_buf m;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = m.bytes, .iov_len = sizeof(m.hdr) + blen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (blen > sizeof(m) - sizeof(m.hdr))
		return -EMSGSIZE;
	m.hdr = (struct watchq_msg){
		.len = (__u32)iov.iov_len,
		.version = WATCHQ_PROTO_VERSION,
		.op = op,
		.seq = ++q->seq,
	};
	if (blen)
		memcpy(m.bytes + sizeof(m.hdr), body, blen);
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(q->sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sock_err(errno);
	return (size_t)n == iov.iov_len ? 0 : -EPROTO;
}

/*
 * Receive one datagram; its fds (MSG_CMSG_CLOEXEC) land in @fds, up to
 * MAX_FDS, and *@nr_fds counts every one received.  Returns its size, or
 * -EPIPE at end of file, -EPROTO when the kernel had to truncate it.
 */
static ssize_t recv_dgram(struct watchq *q, union msg_buf *m, int *fds,
			  unsigned int *nr_fds, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = m->bytes, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*nr_fds = 0;
	do
		n = recvmsg(q->sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sock_err(errno);
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t i, nr;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nr; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (*nr_fds < MAX_FDS)
				fds[*nr_fds] = fd;
			else
				close(fd);
			(*nr_fds)++;
		}
	}
	if (n == 0)
		return -EPIPE;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EPROTO;
	return n;
}

/*
 * The protocol has no unsolicited messages, but a stray one must neither
 * be taken for the next reply nor keep the socket readable for ever.
 * Returns 0 once the socket is empty, -EPIPE when the daemon is gone.
 */
static int drain_unsolicited(struct watchq *q)
{
	int fds[MAX_FDS];
	unsigned int nr;
	union msg_buf m;
	ssize_t n;

	for (;;) {
		n = recv_dgram(q, &m, fds, &nr, MSG_DONTWAIT);
		close_fds(fds, nr < MAX_FDS ? nr : MAX_FDS);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return 0;
		/* A truncated stray was still dequeued: keep draining. */
		if (n < 0 && n != -EPROTO)
			return (int)n;
	}
}

/*
 * One request, one reply.  The reply's body (at most @bmax bytes are
 * copied) and size go to @body and *@blen, its fds to @fds and *@nr_fds when
 * the caller takes them (else they are closed).  Returns the reply's err.
 */
static int request(struct watchq *q, __u16 op, const void *req, size_t rlen,
		   int fd, void *body, size_t bmax, size_t *blen,
		   int *fds, unsigned int *nr_fds)
{
	int got[MAX_FDS];
	unsigned int nr = 0;
	union msg_buf m;
	ssize_t n;
	int err;

	if (nr_fds)
		*nr_fds = 0;
	if (q->broken)
		return -EPROTO;
	err = drain_unsolicited(q);
	if (!err)
		err = send_req(q, op, req, rlen, fd);
	if (err)
		return err;
	n = recv_dgram(q, &m, got, &nr, 0);
	if (n < 0) {
		err = (int)n;
		goto out;
	}
	if ((size_t)n < sizeof(m.hdr) || m.hdr.len != (size_t)n ||
	    m.hdr.version != WATCHQ_PROTO_VERSION || m.hdr.op != op ||
	    m.hdr.seq != q->seq || m.hdr.err > 0 || m.hdr.err < -4095) {
		/* Whatever came, the next reply can no longer be matched. */
		q->broken = true;
		err = -EPROTO;
		goto out;
	}
	err = m.hdr.err;
	if (err)
		goto out;
	n -= (ssize_t)sizeof(m.hdr);
	if (blen)
		*blen = (size_t)n;
	if (body)
		memcpy(body, m.bytes + sizeof(m.hdr), (size_t)n < bmax ? (size_t)n : bmax);
	if (fds && nr <= MAX_FDS) {
		memcpy(fds, got, nr * sizeof(int));
		*nr_fds = nr;
		return 0;
	}
out:
	close_fds(got, nr < MAX_FDS ? nr : MAX_FDS);
	if (!err && nr_fds)
		err = -EPROTO;	/* more fds than could be kept */
	return err;
}

static int simple_request(struct watchq *q, __u16 op, const void *req,
			  size_t rlen, int fd)
{
	return request(q, op, req, rlen, fd, NULL, 0, NULL, NULL, NULL);
}

static int do_open(struct watchq *q, unsigned int pages)
{
	struct watchq_msg_open req = { .pages = pages ? pages : WATCHQ_DEFAULT_PAGES };
	struct watchq_msg_opened rep;
	struct epoll_event ev;
	unsigned int nr;
	size_t len = 0;
	struct stat st;
	unsigned int i;
	int fds[MAX_FDS], err, seals;
	long ps = sysconf(_SC_PAGESIZE);

	err = request(q, WATCHQ_OP_OPEN, &req, sizeof(req), -1, &rep,
		      sizeof(rep), &len, fds, &nr);
	if (err)
		return err;
	err = -EPROTO;
	if (nr != 2 || len != sizeof(rep))
		goto out;
	/* The ring must be exactly the size announced, and sealed against
	 * shrinking: a daemon that could truncate it would SIGBUS us. */
	seals = fcntl(fds[0], F_GET_SEALS);
	if (fstat(fds[0], &st) || !S_ISREG(st.st_mode) || seals < 0 ||
	    !(seals & F_SEAL_SHRINK) || rep.bytes == 0 ||
	    (unsigned long long)rep.pages * (unsigned long)ps != rep.bytes ||
	    st.st_size != (off_t)rep.bytes)
		goto out;
	q->map = mmap(NULL, rep.bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fds[0], 0);
	if (q->map == MAP_FAILED) {
		err = -errno;
		q->map = NULL;
		goto out;
	}
	q->bytes = rep.bytes;
	err = watchq_consumer_init(&q->c, q->map, q->bytes);
	if (err) {
		/* -EINVAL would read as a bad @pages: it is the daemon's. */
		err = err == -EINVAL ? -EPROTO : err;
		goto out;
	}
	q->evfd = fds[1];
	fds[1] = -1;	/* kept: not closed below */
	q->ev_nonblock = fcntl(q->evfd, F_GETFL) & O_NONBLOCK;

	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (q->epfd < 0) {
		err = -errno;
		goto out;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = q->evfd };
	if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->evfd, &ev)) {
		/* Not pollable: not the eventfd the protocol promises. */
		err = errno == EPERM ? -EPROTO : -errno;
		goto out;
	}
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLRDHUP, .data.fd = q->sock };
	if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->sock, &ev)) {
		err = -errno;
		goto out;
	}
	err = 0;
out:
	for (i = 0; i < nr; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

struct watchq *watchq_open(const char *socket_path, unsigned int pages)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct watchq *q;
	int err;

	if (!socket_path) {
		/* secure_getenv: a set-id program must not be pointed at a
		 * daemon of the caller's choosing. */
		socket_path = secure_getenv(WATCHQ_SOCKET_ENV);
		if (!socket_path || !*socket_path)
			socket_path = WATCHQ_SOCKET_DEFAULT;
	}
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sa.sun_path, socket_path);

	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->evfd = q->epfd = -1;
	q->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (q->sock < 0) {
		err = -errno;
		goto fail;
	}
	if (connect(q->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto fail;
	}
	err = do_open(q, pages);
	if (err)
		goto fail;
	return q;
fail:
	watchq_close(q);
	errno = -err;
	return NULL;
}

void watchq_close(struct watchq *q)
{
	int saved = errno;

	if (!q)
		return;
	if (q->map)
		munmap(q->map, q->bytes);
	if (q->epfd >= 0)
		close(q->epfd);
	if (q->evfd >= 0)
		close(q->evfd);
	if (q->sock >= 0)
		close(q->sock);
	free(q);
	errno = saved;
}

int watchq_fd(const struct watchq *q)
{
	return q->epfd;
}

int watchq_set_filter(struct watchq *q, const struct watchq_notification_filter *f)
{
	struct watchq_filter check;
	size_t len;
	int err;

	if (!f)
		return simple_request(q, WATCHQ_OP_SET_FILTER, NULL, 0, -1);
	/* Bound nr_filters before using it in a size. */
	if (f->nr_filters == 0 || f->nr_filters > WATCHQ_MAX_FILTERS)
		return -EINVAL;
	len = sizeof(*f) + f->nr_filters * sizeof(f->filters[0]);
	err = watchq_filter_build(&check, f, len);
	if (err)
		return err;
	return simple_request(q, WATCHQ_OP_SET_FILTER, f, len, -1);
}

static int watch_op(struct watchq *q, bool add, __u32 kind,
		    unsigned int watch_id, __s64 id, int fd)
{
	struct watchq_msg_watch w = { .kind = kind, .watch_id = watch_id, .id = id };

	return simple_request(q, add ? WATCHQ_OP_WATCH : WATCHQ_OP_UNWATCH,
			      &w, sizeof(w), fd);
}

static int key_op(struct watchq *q, bool add, __s32 key, unsigned int watch_id)
{
	long serial = key;

	if (!key || watch_id > 255)
		return -EINVAL;
	if (key < 0) {
		/* Create, as KEYCTL_WATCH_KEY's lookup does: watching @s in a
		 * process without a session keyring joins a new one. */
		serial = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, (long)key, 1L);
		if (serial < 0)
			return -errno;
	}
	/*
	 * The daemon's BPF records this call and its result for this process:
	 * that is its proof of View permission.  Whatever it returns, the
	 * daemon judges it (and forgets the record), so go on either way.
	 */
	(void)syscall(SYS_keyctl, KEYCTL_DESCRIBE, serial, NULL, 0L);
	return watch_op(q, add, WATCHQ_WATCH_KEY, watch_id, serial, -1);
}

int watchq_watch_key(struct watchq *q, __s32 key, unsigned int watch_id)
{
	return key_op(q, true, key, watch_id);
}

int watchq_unwatch_key(struct watchq *q, __s32 key, unsigned int watch_id)
{
	return key_op(q, false, key, watch_id);
}

/* Paths go as O_PATH fds, so the daemon resolves nothing in its own
 * mount namespace and sees exactly what this process opened. */
static int path_op(struct watchq *q, bool add, __u32 kind, const char *path,
		   unsigned int watch_id)
{
	int fd, err;

	if (!path || watch_id > 255)
		return -EINVAL;
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = watch_op(q, add, kind, watch_id, 0, fd);
	close(fd);
	return err;
}

int watchq_watch_mount(struct watchq *q, const char *path, unsigned int watch_id)
{
	return path_op(q, true, WATCHQ_WATCH_MOUNT, path, watch_id);
}

int watchq_unwatch_mount(struct watchq *q, const char *path, unsigned int watch_id)
{
	return path_op(q, false, WATCHQ_WATCH_MOUNT, path, watch_id);
}

int watchq_watch_sb(struct watchq *q, const char *path, unsigned int watch_id)
{
	return path_op(q, true, WATCHQ_WATCH_SB, path, watch_id);
}

int watchq_unwatch_sb(struct watchq *q, const char *path, unsigned int watch_id)
{
	return path_op(q, false, WATCHQ_WATCH_SB, path, watch_id);
}

int watchq_watch_devices(struct watchq *q, unsigned int watch_id)
{
	if (watch_id > 255)
		return -EINVAL;
	return watch_op(q, true, WATCHQ_WATCH_DEVICES, watch_id, 0, -1);
}

int watchq_unwatch_devices(struct watchq *q, unsigned int watch_id)
{
	if (watch_id > 255)
		return -EINVAL;
	return watch_op(q, false, WATCHQ_WATCH_DEVICES, watch_id, 0, -1);
}

/* Reset the eventfd; the caller re-checks the ring afterwards. */
static void rearm(struct watchq *q)
{
	struct pollfd p = { .fd = q->evfd, .events = POLLIN };
	__u64 v;

	/* Never block: the eventfd's flags are the daemon's, shared with
	 * us through SCM_RIGHTS, so set none of them; poll first instead.
	 * Only this thread reads it, so readable stays readable. */
	if (!q->ev_nonblock && (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN)))
		return;
	if (read(q->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to reset.  Nothing else is actionable. */
	}
}

int watchq_peek(struct watchq *q, const struct watchq_notification **n)
{
	int r;

	for (;;) {
		r = watchq_consumer_peek(&q->c, n);
		if (r > 0) {
			q->peeked = *n;
			q->peeked_len = (unsigned int)r;
		}
		if (r)
			return r;
		/* Empty: re-arm, then look again behind a full barrier
		 * (pairs with the producer's after publishing head), so a
		 * record posted before the reset is seen here and one after
		 * it makes the eventfd readable again. */
		rearm(q);
		if (watchq_consumer_idle(&q->c))
			return 0;
	}
}

void watchq_consume(struct watchq *q, const struct watchq_notification *n)
{
	if (!n || n != q->peeked)
		return;
	watchq_consumer_consume(&q->c, q->peeked_len);
	q->peeked = NULL;
}

/* -EPIPE when the daemon closed its end; stray datagrams are dropped. */
static int check_daemon(struct watchq *q)
{
	struct pollfd p = { .fd = q->sock, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) < 0)
		return errno == EINTR ? -EINTR : -errno;
	if (p.revents & (POLLHUP | POLLRDHUP | POLLERR))
		return -EPIPE;
	if (p.revents & POLLIN)
		return drain_unsolicited(q);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int watchq_wait(struct watchq *q, int timeout_ms)
{
	long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	struct epoll_event ev[2];
	int err, n, left;

	for (;;) {
		/* Records first: what the daemon posted before leaving is
		 * still worth reading. */
		if (!watchq_consumer_idle(&q->c))
			return 1;
		err = check_daemon(q);
		if (err)
			return err;
		rearm(q);
		if (!watchq_consumer_idle(&q->c))
			return 1;
		if (timeout_ms < 0) {
			left = -1;
		} else if (timeout_ms == 0) {
			return 0;
		} else {
			long long l = deadline - now_ms();

			if (l <= 0)
				return 0;
			left = (int)l;
		}
		n = epoll_wait(q->epfd, ev, 2, left);
		if (n < 0)
			return -errno;
		/* Readiness is only a hint: loop and look. */
	}
}

int watchq_lost(const struct watchq *q)
{
	return watchq_consumer_lost(&q->c);
}

int watchq_sync(struct watchq *q)
{
	return simple_request(q, WATCHQ_OP_SYNC, NULL, 0, -1);
}

int watchq_clear_lost(struct watchq *q)
{
	return watchq_consumer_clear_lost(&q->c);
}

int watchq_stats(struct watchq *q, struct watchq_stats *st)
{
	struct watchq_msg_stats rep;
	size_t len = 0;
	int err;

	if (!st || st->sz < sizeof(*st))
		return -EINVAL;
	err = request(q, WATCHQ_OP_STATS, NULL, 0, -1, &rep, sizeof(rep), &len,
		      NULL, NULL);
	if (err)
		return err;
	/* A newer daemon may send more; less is not this protocol. */
	if (len < sizeof(rep))
		return -EPROTO;
	st->posted = rep.posted;
	st->lost = rep.lost;
	st->filtered = rep.filtered;
	st->wakeups = rep.wakeups;
	st->corrupt = rep.corrupt;
	/* A caller built against a newer header gets its unknown fields 0. */
	if (st->sz > sizeof(*st))
		memset((char *)st + sizeof(*st), 0, st->sz - sizeof(*st));
	return 0;
}
