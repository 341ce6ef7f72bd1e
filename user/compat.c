// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * libwatchq-compat.so: LD_PRELOAD this and an unmodified program that uses
 * the mainline notification pipe (keyutils' `keyctl watch` and friends)
 * gets its records from watchqd.  Interposed: pipe2 (O_NOTIFICATION_PIPE),
 * ioctl (IOC_WATCH_QUEUE_SET_SIZE/_SET_FILTER, FIONREAD), syscall and
 * keyctl (KEYCTL_WATCH_KEY, KEYCTL_CAPABILITIES), read (whole records,
 * several per call, ENOBUFS).  Everything else goes to libc untouched, and
 * with no daemon listening every call is the kernel's own (pipe2 then
 * fails with ENOPKG, as on a kernel without CONFIG_WATCH_QUEUE).
 *
 * A pipe is a notification pipe when its pump answers on the socket named
 * after its inode (compat.h): that is what lets processes that inherited or
 * dup2()ed it (watch_add, watch_sync) find its queue.  See doc/compat.md.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/keyctl.h>

#include "proto.h"
#include "compat.h"

#define EXPORT __attribute__((visibility("default")))

int (*compat_real_pipe2)(int fds[2], int flags);
static int (*real_ioctl)(int fd, unsigned long req, ...);
static long (*real_syscall)(long nr, ...);
static ssize_t (*real_read)(int fd, void *buf, size_t n);

static void resolve(void)
{
	/* Racing threads store the same values: no lock needed. */
	if (real_read)
		return;
	compat_real_pipe2 = (int (*)(int *, int))dlsym(RTLD_NEXT, "pipe2");
	real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
}

static long raw_keyctl(long cmd, long a, long b, long c, long d)
{
	return real_syscall(SYS_keyctl, cmd, a, b, c, d);
}

/* Whether watchqd listens: decides between emulating and the kernel. */
static bool daemon_up(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = secure_getenv(WATCHQ_SOCKET_ENV);
	int fd, saved = errno;
	bool up;

	if (!path || !*path)
		path = WATCHQ_SOCKET_DEFAULT;
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	up = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (fd >= 0)
		close(fd);
	errno = saved;
	return up;
}

/* The pump of the pipe @fd: a connected socket, or -1 if none answers. */
static int pump_connect(int fd, struct stat *st)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t salen, clen = sizeof(cred);
	int s;

	if (fstat(fd, st) || !S_ISFIFO(st->st_mode))
		return -1;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	salen = compat_sock_addr(&sa, st->st_dev, st->st_ino);
	/* Abstract names can be squatted: trust only our own user or root. */
	if (connect(s, (struct sockaddr *)&sa, salen) ||
	    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    (cred.uid != geteuid() && cred.uid != 0 && geteuid() != 0)) {
		close(s);
		return -1;
	}
	return s;
}

/*
 * Ask the pump of @fd.  Returns its answer (0 or -errno), or 1 when @fd is
 * not a notification pipe.
 */
static int pump_call(int fd, const struct compat_req *req, size_t len,
		     struct compat_rep *rep)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)req, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	struct stat st;
	int s = pump_connect(fd, &st), saved = errno;
	ssize_t n;

	if (s < 0) {
		errno = saved;
		return 1;
	}
	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	memset(rep, 0, sizeof(*rep));
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)len) {
		rep->err = -EIO;
	} else {
		do
			n = recv(s, rep, sizeof(*rep), 0);
		while (n < 0 && errno == EINTR);
		if (n != sizeof(*rep))
			rep->err = -EIO;	/* the pump died mid-request */
	}
	close(s);
	errno = saved;
	return rep->err;
}

/*
 * Which inodes are notification pipes, as this process found out: read()
 * asks for every call, so one lookup per pipe, not per read.  Pipe inode
 * numbers are not reused while the pipe lives, and a pump lives as long as
 * its pipe has a reader.
 */
#define CACHE_SIZE 64
static struct {
	dev_t dev;
	ino_t ino;
	bool notif;
} cache[CACHE_SIZE];
static unsigned int cache_next;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int cache_get(const struct stat *st)
{
	int r = -1;
	unsigned int i;

	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < CACHE_SIZE; i++)
		if (cache[i].ino == st->st_ino && cache[i].dev == st->st_dev && cache[i].ino)
			r = cache[i].notif;
	pthread_mutex_unlock(&cache_lock);
	return r;
}

static void cache_put(const struct stat *st, bool notif)
{
	pthread_mutex_lock(&cache_lock);
	cache[cache_next].dev = st->st_dev;
	cache[cache_next].ino = st->st_ino;
	cache[cache_next].notif = notif;
	cache_next = (cache_next + 1) % CACHE_SIZE;
	pthread_mutex_unlock(&cache_lock);
}

/* A notification pipe: a pipe whose pump answers.  (Packet mode shows
 * only on the write end's flags, so it cannot sort read ends out.) */
static bool is_notif(int fd)
{
	struct stat st;
	int s, saved = errno, r;

	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode)) {
		errno = saved;
		return false;
	}
	r = cache_get(&st);
	if (r < 0) {
		s = pump_connect(fd, &st);
		r = s >= 0;
		if (s >= 0)
			close(s);
		cache_put(&st, r);
	}
	errno = saved;
	return r;
}

EXPORT int pipe2(int fds[2], int flags)
{
	struct stat st;
	int p[2], err;

	resolve();
	/* Bad flags, no daemon: the kernel's answer (EINVAL, ENOPKG). */
	if (!(flags & COMPAT_O_NOTIFICATION_PIPE) ||
	    (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | COMPAT_O_NOTIFICATION_PIPE)))
		return compat_real_pipe2(fds, flags);
	/* Packet mode: one record per pipe buffer, never merged, as
	 * mainline posts them. */
	if (compat_real_pipe2(p, (flags & (O_CLOEXEC | O_NONBLOCK)) | O_DIRECT))
		return -1;
	err = fstat(p[0], &st) ? -errno : compat_pump_spawn(p[1], &st);
	if (err) {
		close(p[0]);
		close(p[1]);
		if (err == -ENOENT || err == -ECONNREFUSED || err == -EACCES)
			return compat_real_pipe2(fds, flags);
		errno = err == -EDQUOT ? EMFILE : -err;
		return -1;
	}
	cache_put(&st, true);
	fds[0] = p[0];
	fds[1] = p[1];
	return 0;
}

/* Copy from the caller's memory without faulting: EFAULT, as the kernel. */
static int copy_in(void *dst, const void *src, size_t len)
{
	struct iovec l = { dst, len }, r = { (void *)src, len };

	if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)len)
		return 0;
	/* Without ptrace rights on ourselves (odd LSMs): trust the pointer. */
	if (errno == EPERM || errno == ENOSYS) {
		memcpy(dst, src, len);
		return 0;
	}
	return -EFAULT;
}

/* IOC_WATCH_QUEUE_SET_FILTER: mainline's checks, then the pump's. */
static int set_filter(int fd, const void *uf)
{
	union {
		struct compat_req r;
		char b[COMPAT_REQ_MAX];
	} m = { .r = { .op = COMPAT_OP_SET_FILTER } };
	struct watchq_notification_filter *f = (void *)(m.b + sizeof(m.r));
	struct compat_rep rep;
	size_t len = sizeof(m.r);
	unsigned int i;
	int err;

	if (uf) {
		err = copy_in(f, uf, sizeof(*f));
		if (err)
			return err;
		if (f->nr_filters == 0 || f->nr_filters > WATCHQ_MAX_FILTERS ||
		    f->__reserved)
			return -EINVAL;
		err = copy_in(f->filters, (const char *)uf + sizeof(*f),
			      f->nr_filters * sizeof(f->filters[0]));
		if (err)
			return err;
		for (i = 0; i < f->nr_filters; i++)
			if ((f->filters[i].info_filter & ~f->filters[i].info_mask) ||
			    (f->filters[i].info_mask & COMPAT_INFO_LENGTH))
				return -EINVAL;
		len += sizeof(*f) + f->nr_filters * sizeof(f->filters[0]);
	}
	return pump_call(fd, &m.r, len, &rep);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct compat_req r = { 0 };
	struct compat_rep rep;
	va_list ap;
	void *arg;
	int err = 1;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	resolve();
	switch (req) {
	case COMPAT_IOC_SET_SIZE:
		r.op = COMPAT_OP_SET_SIZE;
		r.arg = (unsigned long)arg > COMPAT_MAX_NOTES ? 0 : (__u32)(unsigned long)arg;
		err = pump_call(fd, &r, sizeof(r), &rep);
		break;
	case COMPAT_IOC_SET_FILTER:
		err = set_filter(fd, arg);
		break;
	case FIONREAD:
		/*
		 * keyctl watch_sync polls this until it reads 0: sync the
		 * daemon first, so records of operations already done count
		 * even before they reach the pipe.
		 */
		if (!is_notif(fd))
			break;
		r.op = COMPAT_OP_SYNC;
		err = pump_call(fd, &r, sizeof(r), &rep);
		if (err == 0) {
			int n = 0;

			if (real_ioctl(fd, FIONREAD, &n))
				return -1;
			*(int *)arg = n + (int)rep.pending;
			return 0;
		}
		break;
	}
	if (err == 1)	/* not a notification pipe: the kernel decides */
		return real_ioctl(fd, req, arg);
	if (err < 0) {
		errno = -err;
		return -1;
	}
	return 0;
}

/*
 * KEYCTL_WATCH_KEY in mainline's order of checks: the watch id, the key as
 * this process sees it with View (special ids created: @s joins a session),
 * then the queue; the pump adds the watch (and proves View to the daemon
 * itself).  Returns 1 to leave the call to the kernel.
 */
static long watch_key(long key, long fd, long watch_id)
{
	struct compat_req r = { 0 };
	struct compat_rep rep;
	struct stat st;
	long serial = key;
	int s, err;

	s = pump_connect((int)fd, &st);
	if (s >= 0)
		close(s);
	else if (!daemon_up())
		return 1;	/* no watchq at all: this kernel's answer */
	if (watch_id < -1 || watch_id > 255)
		return -EINVAL;
	if (key < 0)
		serial = raw_keyctl(KEYCTL_GET_KEYRING_ID, key, 1, 0, 0);
	else if (key == 0)
		return -EINVAL;
	if (serial < 0 || raw_keyctl(KEYCTL_DESCRIBE, serial, 0, 0, 0) < 0)
		return -errno;
	if (s < 0)
		return -EINVAL;	/* not a notification pipe */
	r.op = watch_id < 0 ? COMPAT_OP_UNWATCH : COMPAT_OP_WATCH;
	r.serial = (__s32)serial;
	r.watch_id = watch_id < 0 ? 0 : (__u32)watch_id;
	err = pump_call((int)fd, &r, sizeof(r), &rep);
	return err == 1 ? -EINVAL : err;
}

static long do_keyctl(long cmd, long a, long b, long c, long d)
{
	long ret;

	if (cmd == COMPAT_KEYCTL_WATCH_KEY) {
		/* The kernel's types: key_serial_t, int, int.  libkeyutils
		 * passes watch_id -1 as an int through an unsigned long. */
		ret = watch_key((__s32)a, (int)b, (int)c);
		if (ret != 1) {
			if (ret < 0) {
				errno = (int)-ret;
				return -1;
			}
			return 0;
		}
	}
	ret = raw_keyctl(cmd, a, b, c, d);
	/* Advertise notifications when there is a daemon to serve them. */
	if (cmd == COMPAT_KEYCTL_CAPABILITIES && ret >= 2 && a && b >= 2 && daemon_up()) {
		unsigned char *caps = (unsigned char *)a;

		caps[1] |= COMPAT_CAPS1_NOTIFICATIONS;
	}
	return ret;
}

EXPORT long syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	int i;

	/* Six longs, as glibc's own syscall() takes from its registers. */
	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	resolve();
	if (nr == SYS_keyctl)
		return do_keyctl(a[0], a[1], a[2], a[3], a[4]);
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* libkeyutils' keyctl(), for programs that call it by that name. */
EXPORT long keyctl(int cmd, ...)
{
	unsigned long a[4];
	va_list ap;
	int i;

	va_start(ap, cmd);
	for (i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	resolve();
	return do_keyctl(cmd, (long)a[0], (long)a[1], (long)a[2], (long)a[3]);
}

/*
 * Read whole records, as many as fit: mainline's pipe_read for a
 * notification pipe.  Each record is one pipe buffer; its length is peeked
 * with tee() into a scratch pipe, so a record that does not fit stays in
 * the pipe (ENOBUFS), where poll() still sees it.
 */
static ssize_t notif_read(int fd, void *buf, size_t count)
{
	struct watchq_notification h;
	size_t total = 0;
	int sp[2], fl = fcntl(fd, F_GETFL);
	ssize_t n;

	if (compat_real_pipe2(sp, O_CLOEXEC | O_NONBLOCK))
		return -1;
	for (;;) {
		n = tee(fd, sp[1], sizeof(h), SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };

			if (total || (fl & O_NONBLOCK))
				break;
			if (poll(&pf, 1, -1) < 0)
				break;		/* EINTR: a signal, as read() */
			continue;
		}
		if (n <= 0)
			break;			/* 0: no writer and empty */
		if (real_read(sp[0], &h, sizeof(h)) != sizeof(h)) {
			errno = EIO;
			n = -1;
			break;
		}
		if ((h.info & COMPAT_INFO_LENGTH) > count - total) {
			if (!total) {
				errno = ENOBUFS;
				n = -1;
			}
			break;
		}
		n = real_read(fd, (char *)buf + total, h.info & COMPAT_INFO_LENGTH);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	close(sp[0]);
	close(sp[1]);
	if (total)
		return (ssize_t)total;
	return n < 0 ? -1 : 0;
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	resolve();
	if (count && is_notif(fd))
		return notif_read(fd, buf, count);
	return real_read(fd, buf, count);
}

/* What _FORTIFY_SOURCE builds call for read(). */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	if (count > buflen)
		abort();
	return read(fd, buf, count);
}
