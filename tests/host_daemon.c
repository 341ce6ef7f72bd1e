// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon and its consumers: permissions, hostile clients, a consumer
 * scribbling on its ring, overload accounting, the daemon going away, and
 * the CLI's output.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include "host.h"
#include "proto.h"

#define NOBODY 65534

/* A client speaking the protocol by hand, to send what the library never
 * would. */
struct raw {
	int fd;
	__u32 seq;
	int fds[4];
	int nfds;
};

static bool raw_connect(struct raw *r, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(r, 0, sizeof(*r));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	return r->fd >= 0 && !connect(r->fd, (struct sockaddr *)&sa, sizeof(sa));
}

/* Send @len bytes of @buf (a header is filled in when @hdr), with @fd
 * attached when >= 0; return the reply's err, or 1 for no valid reply. */
static int raw_call(struct raw *r, void *buf, size_t len, bool hdr, __u16 op, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;
	char reply[256];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct watchq_msg *m = buf, rm;
	struct cmsghdr *cm;
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	ssize_t n;

	if (hdr) {
		m->len = (__u32)len;
		m->version = WATCHQ_PROTO_VERSION;
		m->op = op;
		m->seq = ++r->seq;
		m->err = 0;
	}
	if (fd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(r->fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		return 1;
	if (poll(&pfd, 1, 5000) != 1)
		return 1;
	iov.iov_base = reply;
	iov.iov_len = sizeof(reply);
	mh.msg_control = cbuf.b;
	mh.msg_controllen = sizeof(cbuf.b);
	n = recvmsg(r->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < (ssize_t)sizeof(rm))
		return 1;
	memcpy(&rm, reply, sizeof(rm));
	r->nfds = 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) &&
			     r->nfds < 4; i++)
				memcpy(&r->fds[r->nfds++], CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
	if (rm.len != (__u32)n || rm.version != WATCHQ_PROTO_VERSION ||
	    (hdr && (rm.op != op || rm.seq != r->seq)))
		return 1;
	return rm.err;
}

struct req {
	struct watchq_msg h;
	union {
		struct watchq_msg_open open;
		struct watchq_msg_watch watch;
		char raw[2048];
	};
} __attribute__((packed));

#define BODY(type) (sizeof(struct watchq_msg) + sizeof(type))

WATCHQ_TEST(daemon_refuses_malformed_requests)
{
	struct host_daemon hd;
	struct raw r;
	struct req q;
	struct watchq *good = NULL;
	bool ok = true;
	int fd;

	HOST_REQUIRE();
	if (!host_daemon_start(&hd, NULL) || !ASSERT_TRUE(raw_connect(&r, hd.sock), "connect"))
		return TEST_FAIL;
	memset(&q, 0, sizeof(q));
	ok &= ASSERT_EQ(raw_call(&r, &q, 5, false, 0, -1), -EINVAL, "truncated header");
	ok &= ASSERT_EQ(raw_call(&r, &q, 2000, true, WATCHQ_OP_STATS, -1), -EINVAL, "oversized");
	q.h.len = 99;
	ok &= ASSERT_EQ(raw_call(&r, &q, sizeof(q.h), false, 0, -1), -EINVAL, "length lies");
	ok &= ASSERT_EQ(raw_call(&r, &q, sizeof(q.h), true, 77, -1), -EOPNOTSUPP, "unknown op");
	ok &= ASSERT_EQ(raw_call(&r, &q, sizeof(q.h), true, WATCHQ_OP_STATS, -1), -EBADFD,
			"stats before open");
	q.h.version = 9;
	q.h.len = sizeof(q.h);
	q.h.op = WATCHQ_OP_STATS;
	ok &= ASSERT_EQ(raw_call(&r, &q, sizeof(q.h), false, 0, -1), -EPROTO, "version 9");
	q.open.pages = 3;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.open), true, WATCHQ_OP_OPEN, -1), -EINVAL,
			"3 pages");
	q.open.pages = 32;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.open), true, WATCHQ_OP_OPEN, -1), -EINVAL,
			"32 pages");
	q.open.pages = 1;
	q.open.flags = 1;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.open), true, WATCHQ_OP_OPEN, -1), -EINVAL,
			"unknown flags");
	q.open.flags = 0;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.open) - 1, true, WATCHQ_OP_OPEN, -1), -EINVAL,
			"short open");
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.open), true, WATCHQ_OP_OPEN, -1), 0, "open");
	ok &= ASSERT_EQ(r.nfds, 2, "ring and eventfd");
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.open), true, WATCHQ_OP_OPEN, -1), -EBUSY,
			"second open");

	fd = open("/", O_PATH | O_CLOEXEC);
	memset(&q.watch, 0, sizeof(q.watch));
	q.watch.kind = WATCHQ_WATCH_KEY;
	q.watch.id = 1;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_WATCH, fd), -EINVAL,
			"key watch with an fd");
	q.watch.kind = WATCHQ_WATCH_MOUNT;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_WATCH, -1), -EINVAL,
			"mount watch without an fd");
	q.watch.kind = 99;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_WATCH, -1), -EINVAL,
			"unknown kind");
	q.watch.kind = WATCHQ_WATCH_KEY;
	q.watch.id = -5;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_WATCH, -1), -EINVAL,
			"negative serial");
	q.watch.id = 1;
	q.watch.watch_id = 256;
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_WATCH, -1), -EINVAL,
			"watch id 256");
	q.watch.watch_id = 0;
	/* No KEYCTL_DESCRIBE first: the daemon has no proof of view. */
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_WATCH, -1), -EACCES,
			"no proof of view");
	ok &= ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_UNWATCH, -1), -EBADSLT,
			"unwatch of nothing");
	memset(q.raw, 0xff, 64);
	ok &= ASSERT_EQ(raw_call(&r, &q, sizeof(q.h) + 64, true, WATCHQ_OP_SET_FILTER, -1),
			-EINVAL, "garbage filter");
	ok &= ASSERT_EQ(raw_call(&r, &q, sizeof(q.h) + 3, true, WATCHQ_OP_STATS, -1),
			-EINVAL, "stats with a body");
	close(fd);

	/* Through all that, the daemon kept serving everyone. */
	good = watchq_open(NULL, 1);
	ok &= ASSERT_TRUE(good, "a second consumer opens");
	if (good)
		ok &= ASSERT_OK(watchq_watch_key(good, KEY_SPEC_SESSION_KEYRING, 1), "and watches");
	ok &= ASSERT_EQ(raw_call(&r, &q, sizeof(q.h), true, WATCHQ_OP_STATS, -1), 0,
			"the first still answers");
	watchq_close(good);
	close(r.fd);
	ok &= host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

static int update_n(void *arg)
{
	__s32 *k = arg;
	long i;

	for (i = 0; i < k[1]; i++)
		if (host_keyctl(KEYCTL_UPDATE, (unsigned long)k[0], (unsigned long)"x", 1, 0))
			return 1;
	return 0;
}

static bool wait_stats(struct watchq *q, __u64 total, struct watchq_stats *st)
{
	int i;

	for (i = 0; i < 500; i++) {
		st->sz = sizeof(*st);
		if (watchq_stats(q, st))
			return false;
		if (st->posted + st->lost + st->filtered >= total)
			return true;
		usleep(10000);
	}
	TEST_LOG("daemon accounted %llu of %llu records",
		 (unsigned long long)(st->posted + st->lost), (unsigned long long)total);
	return false;
}

WATCHQ_TEST_TIMEOUT(daemon_overload_counts_every_loss, 120)
{
	struct host_fix f;
	struct watchq_stats st;
	struct host_rec *got;
	__s32 op[2];
	int delivered;
	bool ok;

	HOST_REQUIRE();
	if (!host_fix_setup(&f))
		return TEST_FAIL;
	/* A 1-page ring nobody reads while 100,000 records come. */
	watchq_close(f.q);
	f.q = watchq_open(NULL, 1);
	op[0] = host_add_key("user", "hot", "x", KEY_SPEC_SESSION_KEYRING);
	op[1] = 100000;
	got = calloc(512, sizeof(*got));
	ok = ASSERT_TRUE(f.q, "open 1 page") &&
	     ASSERT_OK(watchq_watch_key(f.q, op[0], 1), "watch") &&
	     ASSERT_EQ(host_run_as(-1, -1, update_n, op), 0, "100,000 updates") &&
	     wait_stats(f.q, 100000, &st) &&
	     ASSERT_EQ(watchq_lost(f.q), 1, "loss flag set");
	if (ok) {
		delivered = host_read(f.q, got, 512, 100);
		ok = ASSERT_EQ(st.posted, delivered, "posted == delivered") &&
		     ASSERT_EQ(st.lost, 100000 - delivered, "lost == produced - delivered") &&
		     ASSERT_EQ(st.corrupt, 0, "no corruption") &&
		     ASSERT_TRUE(st.wakeups <= 2, "one wake-up for a ring never drained");
		TEST_LOG("delivered %d, lost %llu, wake-ups %llu", delivered,
			 (unsigned long long)st.lost, (unsigned long long)st.wakeups);
		for (int i = 0; ok && i < delivered; i++)
			ok = host_expect("overload record", &got[i], 1,
					 &KEY_REC(UPDATED, op[0], 0, 1), 1);
		ok = ok && ASSERT_EQ(watchq_clear_lost(f.q), 1, "clear") &&
		     ASSERT_EQ(watchq_lost(f.q), 0, "cleared");
	}
	free(got);
	host_fix_teardown(&f);
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(daemon_corrupt_tail_hurts_only_its_ring)
{
	struct host_fix f;
	struct watchq_stats st = { .sz = sizeof(st) };
	struct raw r;
	struct req q;
	struct watchq_buffer *ring = MAP_FAILED;
	__s32 key;
	bool ok;

	HOST_REQUIRE();
	if (!host_fix_setup(&f))
		return TEST_FAIL;
	key = host_add_key("user", "k", "x", KEY_SPEC_SESSION_KEYRING);
	memset(&q, 0, sizeof(q));
	q.open.pages = 1;
	ok = ASSERT_TRUE(raw_connect(&r, f.hd.sock), "raw connect") &&
	     ASSERT_EQ(raw_call(&r, &q, BODY(q.open), true, WATCHQ_OP_OPEN, -1), 0, "open") &&
	     ASSERT_EQ(r.nfds, 2, "fds");
	if (ok) {
		ring = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds[0], 0);
		ok = ASSERT_TRUE(ring != MAP_FAILED, "map");
	}
	/* Prove view for the raw client too: the proof is per process. */
	host_keyctl(KEYCTL_DESCRIBE, (unsigned long)key, 0, 0, 0);
	memset(&q.watch, 0, sizeof(q.watch));
	q.watch.kind = WATCHQ_WATCH_KEY;
	q.watch.id = key;
	ok = ok && ASSERT_EQ(raw_call(&r, &q, BODY(q.watch), true, WATCHQ_OP_WATCH, -1), 0,
			     "raw watch") &&
	     ASSERT_OK(watchq_watch_key(f.q, key, 4), "good watch");
	if (ok) {
		ring->meta.tail = 1;	/* inside the metadata */
		ok = ASSERT_OK(host_keyctl(KEYCTL_UPDATE, key, (unsigned long)"y", 1, 0), "update") &&
		     ({ struct host_rec want[] = { KEY_REC(UPDATED, key, 0, 4) }, got[4];
			int n;
			host_sync(f.q, f.sentinel, got, 4, &n, 5000) &&
			host_expect("the good queue", got, n, want, 1); }) &&
		     ASSERT_EQ(watchq_lost(f.q), 0, "the good queue lost nothing") &&
		     ASSERT_TRUE(ring->meta.watch.info & WATCHQ_INFO_NOTIFICATIONS_LOST,
				 "the scribbler's ring has its loss flag") &&
		     ASSERT_EQ(ring->meta.head, WATCHQ_META_SLOTS, "and nothing written") &&
		     ASSERT_EQ(raw_call(&r, &q, sizeof(q.h), true, WATCHQ_OP_STATS, -1), 0,
			       "stats");
		st.sz = sizeof(st);
		ok = ok && ASSERT_OK(watchq_stats(f.q, &st), "good stats") &&
		     ASSERT_EQ(st.corrupt, 0, "good queue not corrupt");
	}
	if (ring != MAP_FAILED)
		munmap(ring, 4096);
	close(r.fd);
	host_fix_teardown(&f);
	return ok ? TEST_PASS : TEST_FAIL;
}

struct unpriv {
	__s32 private_key;
	int err_private, err_own, err_devices, got_own;
};

static int as_nobody(void *arg)
{
	struct unpriv *u = arg;
	struct watchq *q;
	struct host_rec rec;
	__s32 own;

	/* Its own session: the parent's would make root's key possessed. */
	host_new_session();
	q = watchq_open(NULL, 1);
	if (!q)
		return 2;
	u->err_private = watchq_watch_key(q, u->private_key, 1);
	own = host_add_key("user", "mine", "x", KEY_SPEC_SESSION_KEYRING);
	u->err_own = watchq_watch_key(q, own, 2);
	u->err_devices = watchq_watch_devices(q, 3);
	host_keyctl(KEYCTL_UPDATE, (unsigned long)own, (unsigned long)"y", 1, 0);
	u->got_own = host_read(q, &rec, 1, 5000) == 1 &&
		     host_expect("own key", &rec, 1, &KEY_REC(UPDATED, own, 0, 2), 1);
	watchq_close(q);
	return 0;
}

WATCHQ_TEST(daemon_permissions_of_an_unprivileged_consumer)
{
	struct host_daemon hd;
	struct unpriv *u = host_shared(sizeof(*u));
	bool ok;

	HOST_REQUIRE();
	host_new_session();
	if (!u || !host_daemon_start(&hd, NULL))
		return TEST_FAIL;
	/* Root's key: possessor everything, nothing for anyone else. */
	u->private_key = host_add_key("user", "secret", "x", KEY_SPEC_SESSION_KEYRING);
	ok = ASSERT_OK(host_keyctl(KEYCTL_SETPERM, u->private_key, 0x3f010000, 0, 0), "setperm") &&
	     ASSERT_EQ(host_run_as(NOBODY, NOBODY, as_nobody, u), 0, "as nobody") &&
	     ASSERT_EQ(u->err_private, -EACCES, "another user's private key") &&
	     ASSERT_EQ(u->err_own, 0, "its own key") &&
	     ASSERT_TRUE(u->got_own, "records of its own key") &&
	     ASSERT_EQ(u->err_devices, -EPERM, "devices");
	ok &= host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(daemon_two_consumers_get_their_own_records)
{
	struct host_fix f;
	struct watchq *q2 = NULL;
	__s32 key, s2;
	struct {
		struct watchq_notification_filter h;
		struct watchq_notification_type_filter t;
	} flt = { { 1, 0 }, { .type = WATCHQ_TYPE_KEY_NOTIFY,
			      .subtype_filter = { 1u << WATCHQ_NOTIFY_KEY_UPDATED } } };
	struct host_rec got[8];
	int n;
	bool ok;

	HOST_REQUIRE();
	if (!host_fix_setup(&f))
		return TEST_FAIL;
	key = host_add_key("user", "shared", "x", KEY_SPEC_SESSION_KEYRING);
	q2 = watchq_open(NULL, 2);
	s2 = q2 ? host_sentinel(q2) : -1;
	ok = ASSERT_TRUE(s2 > 0, "second queue") &&
	     ASSERT_OK(watchq_set_filter(f.q, &flt.h), "filter: updated only") &&
	     ASSERT_OK(watchq_watch_key(f.q, key, 21), "watch 1") &&
	     ASSERT_OK(watchq_watch_key(q2, key, 22), "watch 2") &&
	     ASSERT_OK(host_keyctl(KEYCTL_UPDATE, key, (unsigned long)"y", 1, 0), "update") &&
	     ASSERT_OK(host_keyctl(KEYCTL_SET_TIMEOUT, key, 999, 0, 0), "timeout") &&
	     host_sync(f.q, f.sentinel, got, N(got), &n, 5000) &&
	     /* The filter drops SETATTR from q1. */
	     host_expect("filtered queue", got, n,
			 (struct host_rec[]){ KEY_REC(UPDATED, key, 0, 21) }, 1) &&
	     host_sync(q2, s2, got, N(got), &n, 5000) &&
	     host_expect("unfiltered queue", got, n,
			 (struct host_rec[]){ KEY_REC(UPDATED, key, 0, 22),
					      KEY_REC(SETATTR, key, 0, 22) }, 2);
	watchq_close(q2);
	host_fix_teardown(&f);
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(daemon_killed_consumers_learn_it)
{
	struct host_fix f;
	bool ok;

	HOST_REQUIRE();
	if (!host_fix_setup(&f))
		return TEST_FAIL;
	kill(f.hd.pid, SIGKILL);
	waitpid(f.hd.pid, NULL, 0);
	f.hd.pid = 0;
	ok = ASSERT_EQ(watchq_wait(f.q, 5000), -EPIPE, "wait reports the daemon gone") &&
	     ASSERT_TRUE(watchq_watch_key(f.q, KEY_SPEC_SESSION_KEYRING, 1) < 0,
			 "requests fail");
	/* It cannot clean up after itself: do it for it. */
	{
		char log[160];

		snprintf(log, sizeof(log), "%s/log", f.hd.dir);
		unlink(log);
		unlink(f.hd.sock);
		rmdir(f.hd.dir);
	}
	host_fix_teardown(&f);
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(daemon_refuses_a_second_daemon_and_non_root)
{
	struct host_daemon hd, second;
	bool ok;

	HOST_REQUIRE();
	if (!host_daemon_start(&hd, NULL))
		return TEST_FAIL;
	second = hd;
	/* Same socket: the second must exit 1 and leave the first alone. */
	{
		char bin[256];
		pid_t pid;
		int st = -1;

		snprintf(bin, sizeof(bin), "%s/watchqd", host_build_dir());
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);

			dup2(devnull, 2);
			execl(bin, bin, "--socket", second.sock, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		ok = ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1, "second daemon refused");
		/* A copy nobody can run: the build may sit under /root. */
		char dir[] = "/tmp/watchq-nonroot.XXXXXX", copy[64], cmd[512];

		ok &= ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp");
		snprintf(copy, sizeof(copy), "%s/watchqd", dir);
		snprintf(cmd, sizeof(cmd), "install -m 755 '%s' '%s' && chmod 755 '%s'",
			 bin, copy, dir);
		ok &= ASSERT_EQ(system(cmd), 0, "copy watchqd");
		pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);

			dup2(devnull, 2);
			if (setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
				_exit(126);
			execl(copy, copy, "--socket", "/tmp/watchq-nonroot.sock", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		unlink(copy);
		rmdir(dir);
		ok &= ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1, "non-root refused");
	}
	{
		struct watchq *q = watchq_open(NULL, 1);

		ok &= ASSERT_TRUE(q, "the first still serves");
		watchq_close(q);
	}
	ok &= host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(daemon_sync_makes_completed_operations_readable)
{
	struct host_fix f;
	const struct watchq_notification *n;
	struct host_rec got;
	__s32 key;
	bool ok = true;
	int i, r;

	HOST_REQUIRE();
	if (!host_fix_setup(&f))
		return TEST_FAIL;
	key = host_add_key("user", "s", "x", KEY_SPEC_SESSION_KEYRING);
	ok &= ASSERT_OK(watchq_watch_key(f.q, key, 30), "watch");
	for (i = 0; ok && i < 200; i++) {
		ok &= ASSERT_OK(host_keyctl(KEYCTL_UPDATE, key, (unsigned long)"y", 1, 0), "update");
		ok &= ASSERT_OK(watchq_sync(f.q), "sync");
		/* No waiting: the record must already be there. */
		r = watchq_peek(f.q, &n);
		if (!ASSERT_EQ(r, 2, "record readable right after sync"))
			break;
		got = (struct host_rec){ n->type, n->subtype, (n->info >> 8) & 0xff,
					 n->info >> 16, 2,
					 ((const struct watchq_key_notification *)n)->key_id, 0 };
		watchq_consume(f.q, n);
		ok &= host_expect("after sync", &got, 1, &KEY_REC(UPDATED, key, 0, 30), 1);
	}
	host_fix_teardown(&f);
	return ok ? TEST_PASS : TEST_FAIL;
}

/* The rung each source attached, as --probe reports it: the one the
 * environment expects (the QEMU suite sets it), else one of the two. */
WATCHQ_TEST(daemon_rung_is_reported)
{
	const char *want = getenv("WATCHQ_TEST_EXPECT_RUNG");
	const char *extra = getenv("WATCHQ_TEST_DAEMON_ARGS");
	char cmd[512], line[256] = "";
	FILE *p;
	bool ok;

	HOST_REQUIRE();
	snprintf(cmd, sizeof(cmd), "%s/watchqd --probe %s 2>/dev/null",
		 host_build_dir(), extra ? extra : "");
	p = popen(cmd, "r");
	if (!ASSERT_TRUE(p, "popen"))
		return TEST_FAIL;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	ok = ASSERT_EQ(pclose(p), 0, "--probe exits 0");
	if (want) {
		char expect[64];

		snprintf(expect, sizeof(expect), "keys: %s rung", want);
		ok &= ASSERT_TRUE(!strncmp(line, expect, strlen(expect)), "the expected rung");
	} else {
		ok &= ASSERT_TRUE(!strncmp(line, "keys: fentry rung", 17) ||
				  !strncmp(line, "keys: tracepoint rung", 21), "a known rung");
	}
	if (!ok)
		TEST_LOG("--probe said: %s", line);
	return ok ? TEST_PASS : TEST_FAIL;
}

struct limits {
	int second_queue, watch3, big_queue, devices;
};

static int limits_as_nobody(void *arg)
{
	struct limits *l = arg;
	struct watchq *q, *q2;
	__s32 k[3];
	int i;

	host_new_session();
	q = watchq_open(NULL, 2);
	if (!q)
		return 2;
	q2 = watchq_open(NULL, 1);
	l->second_queue = q2 ? 0 : -errno;
	watchq_close(q2);
	for (i = 0; i < 3; i++)
		k[i] = host_add_key("user", i == 0 ? "a" : i == 1 ? "b" : "c", "x",
				    KEY_SPEC_SESSION_KEYRING);
	if (watchq_watch_key(q, k[0], 1) || watchq_watch_key(q, k[1], 2))
		return 3;
	l->watch3 = watchq_watch_key(q, k[2], 3);
	/* --group names nobody's group: devices are allowed. */
	l->devices = watchq_watch_devices(q, 4);
	watchq_close(q);
	q = watchq_open(NULL, 4);
	l->big_queue = q ? 0 : -errno;
	watchq_close(q);
	return 0;
}

WATCHQ_TEST(daemon_per_user_limits_and_group)
{
	struct host_daemon hd;
	struct limits *l = host_shared(sizeof(*l));
	bool ok;

	HOST_REQUIRE();
	if (!l || !host_daemon_start(&hd, "--max-queues", "1", "--max-watches", "2",
				     "--max-user-pages", "2", "--group", "65534", NULL))
		return TEST_FAIL;
	ok = ASSERT_EQ(host_run_as(NOBODY, NOBODY, limits_as_nobody, l), 0, "as nobody") &&
	     ASSERT_EQ(l->second_queue, -EDQUOT, "a second queue over --max-queues") &&
	     ASSERT_EQ(l->watch3, -EDQUOT, "a third watch over --max-watches") &&
	     ASSERT_EQ(l->devices, -EDQUOT, "devices, allowed by --group, but over the limit") &&
	     ASSERT_EQ(l->big_queue, -EDQUOT, "4 pages over --max-user-pages");
	ok &= host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

/* --filter narrows a type in BPF, before the daemon sees anything:
 * SETATTR never leaves the kernel, removals still pass. */
WATCHQ_TEST(daemon_global_filter_in_bpf)
{
	struct host_daemon hd;
	struct watchq *q;
	struct watchq_stats st = { .sz = sizeof(st) };
	struct host_rec got[4];
	__s32 key;
	int n;
	bool ok;

	HOST_REQUIRE();
	host_new_session();
	key = host_add_key("user", "g", "x", KEY_SPEC_SESSION_KEYRING);
	if (key < 0 || !host_daemon_start(&hd, "--filter", "key:updated", NULL))
		return TEST_FAIL;
	q = watchq_open(NULL, 1);
	ok = ASSERT_TRUE(q, "open") &&
	     ASSERT_OK(watchq_watch_key(q, key, 6), "watch") &&
	     ASSERT_OK(host_keyctl(KEYCTL_SET_TIMEOUT, key, 900, 0, 0), "timeout") &&
	     ASSERT_OK(host_keyctl(KEYCTL_UPDATE, key, (unsigned long)"y", 1, 0), "update") &&
	     ASSERT_OK(host_keyctl(KEYCTL_SETPERM, key, 0x3f3f0000, 0, 0), "setperm") &&
	     ASSERT_OK(watchq_unwatch_key(q, key, 0), "unwatch") &&
	     ASSERT_OK(watchq_sync(q), "sync");
	if (ok) {
		n = host_read(q, got, 4, 100);
		ok = host_expect("filtered in BPF", got, n,
				 (struct host_rec[]){ KEY_REC(UPDATED, key, 0, 6),
						      REMOVAL_REC(key, 6) }, 2) &&
		     ASSERT_OK(watchq_stats(q, &st), "stats") &&
		     /* Nothing reached the daemon to be filtered there. */
		     ASSERT_EQ(st.filtered, 0, "queue filter saw nothing") &&
		     ASSERT_EQ(st.posted, 2, "posted");
	}
	watchq_close(q);
	ok &= host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}
