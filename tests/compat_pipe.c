// SPDX-License-Identifier: GPL-2.0
/*
 * The mainline notification pipe used directly, as a program written for a
 * kernel with CONFIG_WATCH_QUEUE would: run under libwatchq-compat.so by
 * tests/host_compat.c.  It checks itself: poll, several records per read,
 * ENOBUFS for a buffer too small (the record stays readable), FIONREAD, the
 * removal record of KEYCTL_WATCH_KEY -1, and the loss record after
 * overloading a queue of 4 notes.  Exit 0 when all held.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include "watchq_abi.h"	/* the record layouts are mainline's too */

#define O_NOTIFICATION_PIPE		O_EXCL
#define IOC_WATCH_QUEUE_SET_SIZE	0x5760
#define IOC_WATCH_QUEUE_SET_FILTER	0x5761
#define WATCH_INFO_LENGTH		0x7f

static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "compat-pipe:%d: %s: ", __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static long kc(int cmd, long a, long b, long c)
{
	return syscall(SYS_keyctl, cmd, a, b, c, 0L);
}

static int add_key(const char *desc)
{
	return (int)syscall(SYS_add_key, "user", desc, "v", 1L, KEY_SPEC_SESSION_KEYRING);
}

/* Read once; check each record is whole; return the byte count. */
static ssize_t read_recs(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len), off = 0;

	while (n > 0 && off < n) {
		const struct watchq_notification *h = (void *)((char *)buf + off);
		unsigned int l = h->info & WATCH_INFO_LENGTH;

		CHECK(l >= 8 && off + l <= n, "record of %u bytes at %zd of %zd", l, off, n);
		if (l < 8)
			break;
		off += l;
	}
	return n;
}

static const struct watchq_key_notification *key_rec(const void *buf, int i)
{
	return (const struct watchq_key_notification *)buf + i;
}

int main(void)
{
	struct watchq_notification_removal rm;
	struct pollfd pf;
	__u64 buf[64];
	int fds[2], key, other, n, i, avail;
	ssize_t r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0) < 0)
		return perror("session"), 2;
	if (pipe2(fds, O_NOTIFICATION_PIPE | O_NONBLOCK))
		return perror("pipe2"), 2;
	CHECK(ioctl(fds[0], IOC_WATCH_QUEUE_SET_SIZE, 1000) == -1 && errno == EINVAL,
	      "SET_SIZE 1000: %m");
	CHECK(!ioctl(fds[0], IOC_WATCH_QUEUE_SET_SIZE, 4), "SET_SIZE 4: %m");
	CHECK(ioctl(fds[0], IOC_WATCH_QUEUE_SET_SIZE, 8) == -1 && errno == EBUSY,
	      "SET_SIZE twice: %m");

	key = add_key("compat-pipe");
	other = add_key("compat-pipe-other");
	CHECK(key > 0 && other > 0, "add_key: %m");
	CHECK(kc(KEYCTL_WATCH_KEY, key, fds[0], 256) == -1 && errno == EINVAL,
	      "watch id 256: %m");
	CHECK(!kc(KEYCTL_WATCH_KEY, key, fds[0], 7), "watch: %m");
	CHECK(kc(KEYCTL_WATCH_KEY, key, fds[0], 8) == -1 && errno == EBUSY,
	      "watch twice: %m");

	/* Nothing yet: EAGAIN (O_NONBLOCK), poll times out. */
	CHECK(read(fds[0], buf, sizeof(buf)) == -1 && errno == EAGAIN, "empty read: %m");
	pf = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	CHECK(poll(&pf, 1, 0) == 0, "poll on an empty pipe");

	/* Three records, then one read takes all three. */
	CHECK(!kc(KEYCTL_UPDATE, key, (long)"a", 1), "update: %m");
	CHECK(!kc(KEYCTL_SET_TIMEOUT, key, 3600, 0), "timeout: %m");
	CHECK(!kc(KEYCTL_UPDATE, other, (long)"b", 1), "update other: %m");
	CHECK(!kc(KEYCTL_UPDATE, key, (long)"c", 1), "update: %m");
	CHECK(!ioctl(fds[0], FIONREAD, &avail) && avail == 48, "FIONREAD %d: %m", avail);
	CHECK(poll(&pf, 1, 5000) == 1 && (pf.revents & POLLIN), "poll: %m");
	r = read_recs(fds[0], buf, sizeof(buf));
	CHECK(r == 48, "one read of three records: %zd %m", r);
	for (i = 0; i < 3 && r == 48; i++) {
		static const int sub[] = { WATCHQ_NOTIFY_KEY_UPDATED,
			WATCHQ_NOTIFY_KEY_SETATTR, WATCHQ_NOTIFY_KEY_UPDATED };
		const struct watchq_key_notification *k = key_rec(buf, i);

		CHECK(k->watch.type == WATCHQ_TYPE_KEY_NOTIFY && k->watch.subtype == sub[i] &&
		      k->watch.info == (16 | 7 << 8) && k->key_id == (__u32)key && k->aux == 0,
		      "record %d: type %u subtype %u info %#x key %u", i, k->watch.type,
		      k->watch.subtype, k->watch.info, k->key_id);
	}
	printf("several per read: ok\n");

	/* Too small: ENOBUFS, and the record is still there for poll. */
	CHECK(!kc(KEYCTL_UPDATE, key, (long)"d", 1), "update: %m");
	CHECK(!ioctl(fds[0], FIONREAD, &avail) && avail == 16, "FIONREAD %d", avail);
	CHECK(read(fds[0], buf, 15) == -1 && errno == ENOBUFS, "15-byte read: %m");
	CHECK(poll(&pf, 1, 0) == 1, "still readable after ENOBUFS");
	/* Room for one and a half: exactly one. */
	CHECK(!kc(KEYCTL_UPDATE, key, (long)"e", 1), "update: %m");
	CHECK(!ioctl(fds[0], FIONREAD, &avail) && avail == 32, "FIONREAD %d", avail);
	CHECK(read_recs(fds[0], buf, 24) == 16, "24-byte read");
	CHECK(read_recs(fds[0], buf, sizeof(buf)) == 16, "the second");
	printf("ENOBUFS: ok\n");

	/* Overload 4 notes: 4 records, then the 8-byte loss record. */
	for (i = 0; i < 20; i++)
		CHECK(!kc(KEYCTL_UPDATE, key, (long)"f", 1), "update: %m");
	CHECK(!ioctl(fds[0], FIONREAD, &avail), "FIONREAD: %m");
	CHECK(avail == 4 * 16 + 8, "FIONREAD after overload: %d", avail);
	for (n = 0; n < 4 * 16 + 8; n += (int)r) {
		CHECK(poll(&pf, 1, 5000) == 1, "poll");
		r = read_recs(fds[0], (char *)buf + n, sizeof(buf) - (size_t)n);
		if (r <= 0)
			break;
	}
	CHECK(n == 4 * 16 + 8, "bytes after overload: %d", n);
	for (i = 0; i < 4; i++)
		CHECK(key_rec(buf, i)->watch.subtype == WATCHQ_NOTIFY_KEY_UPDATED,
		      "record %d", i);
	CHECK(buf[8] == ((__u64)8 << 32 | 1u << 24), "loss record %#llx",
	      (unsigned long long)buf[8]);
	CHECK(read(fds[0], buf, sizeof(buf)) == -1 && errno == EAGAIN, "nothing more");
	printf("loss: ok\n");

	/* Removing the watch posts the 16-byte removal with the key's id. */
	CHECK(!kc(KEYCTL_WATCH_KEY, key, fds[0], -1), "unwatch: %m");
	CHECK(kc(KEYCTL_WATCH_KEY, key, fds[0], -1) == -1 && errno == EBADSLT,
	      "unwatch twice: %m");
	r = read_recs(fds[0], buf, sizeof(buf));
	memcpy(&rm, buf, sizeof(rm));
	CHECK(r == 16 && rm.watch.type == 0 && rm.watch.subtype == 0 &&
	      rm.watch.info == (16 | 7 << 8) && rm.id == (__u64)key,
	      "removal record: %zd %#llx %#llx", r,
	      (unsigned long long)buf[0], (unsigned long long)buf[1]);
	printf("removal: ok\n");

	/* Not a notification pipe: EINVAL, like the kernel's. */
	CHECK(kc(KEYCTL_WATCH_KEY, key, 0, 1) == -1 && errno == EINVAL, "fd 0: %m");
	close(fds[0]);
	close(fds[1]);
	return failures ? 1 : 0;
}
