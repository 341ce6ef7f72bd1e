// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include "host.h"

/* Absolute: tests run programs from other directories and as other users. */
const char *host_build_dir(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("WATCHQ_BUILD");

	if (!path[0] && !realpath(b && *b ? b : "build", path))
		snprintf(path, sizeof(path), "%s", b && *b ? b : "build");
	return path;
}

#define build_dir host_build_dir

int host_require(void)
{
	char path[256];

	if (geteuid() != 0)
		return SKIP("not root: the host tests load BPF (sudo make test-host)");
	snprintf(path, sizeof(path), "%s/watchqd", build_dir());
	if (access(path, X_OK))
		return SKIP("watchqd not built (%.200s)", build_dir());
	return TEST_PASS;
}

long host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool sock_answers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ok = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (fd >= 0)
		close(fd);
	return ok;
}

bool host_daemon_start(struct host_daemon *hd, ...)
{
	const char *argv[32], *extra;
	static char extra_buf[256];
	char bin[256];
	int argc = 0, st;
	long deadline;
	va_list ap;

	/* The QEMU suite starts one daemon per rung and shares it: loading
	 * the BPF programs under emulation takes seconds. */
	extra = getenv("WATCHQ_TEST_SHARED_SOCKET");
	if (extra && *extra) {
		snprintf(hd->sock, sizeof(hd->sock), "%s", extra);
		hd->dir[0] = '\0';
		hd->pid = -1;
		setenv("WATCHQ_SOCKET", hd->sock, 1);
		return sock_answers(hd->sock);
	}
	snprintf(hd->dir, sizeof(hd->dir), "/tmp/watchq-test.XXXXXX");
	if (!mkdtemp(hd->dir)) {
		TEST_LOG("mkdtemp: %s", strerror(errno));
		return false;
	}
	chmod(hd->dir, 0755);	/* other uids connect too */
	snprintf(hd->sock, sizeof(hd->sock), "%s/watchq.sock", hd->dir);
	snprintf(bin, sizeof(bin), "%s/watchqd", build_dir());
	argv[argc++] = bin;
	argv[argc++] = "--socket";
	argv[argc++] = hd->sock;
	va_start(ap, hd);
	while (argc < 24 && (argv[argc] = va_arg(ap, const char *)))
		argc++;
	va_end(ap);
	/* The QEMU suite runs every scenario on each rung: the rung comes
	 * from the environment, as space-separated daemon arguments. */
	extra = getenv("WATCHQ_TEST_DAEMON_ARGS");
	if (extra && *extra) {
		char *save = NULL, *tok;

		snprintf(extra_buf, sizeof(extra_buf), "%s", extra);
		for (tok = strtok_r(extra_buf, " ", &save); tok && argc < 31;
		     tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
	}
	argv[argc] = NULL;

	fflush(NULL);
	hd->pid = fork();
	if (hd->pid < 0)
		return false;
	if (hd->pid == 0) {
		char log[128];
		int fd;

		/* The daemon's messages go to a log, shown if it fails. */
		snprintf(log, sizeof(log), "%s/log", hd->dir);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		execv(bin, (char **)argv);
		_exit(127);
	}
	setenv("WATCHQ_SOCKET", hd->sock, 1);
	for (deadline = host_now_ms() + 20000; host_now_ms() < deadline; usleep(20000)) {
		if (waitpid(hd->pid, &st, WNOHANG) == hd->pid) {
			TEST_LOG("watchqd exited at start-up (status %#x)", st);
			host_daemon_log(hd);
			hd->pid = 0;
			return false;
		}
		if (sock_answers(hd->sock))
			return true;
	}
	TEST_LOG("watchqd did not listen within 20 s");
	return false;
}

void host_daemon_log(const struct host_daemon *hd)
{
	char log[128], line[512];
	FILE *f;

	snprintf(log, sizeof(log), "%s/log", hd->dir);
	f = fopen(log, "r");
	if (!f)
		return;
	TEST_LOG("watchqd's log:");
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "      | %s", line);
	fclose(f);
}

bool host_daemon_stop(struct host_daemon *hd)
{
	char log[128];
	int st = -1;
	bool ok;

	if (hd->pid == -1)
		return true;	/* shared: not ours to stop */
	if (hd->pid <= 0)
		return false;
	kill(hd->pid, SIGTERM);
	waitpid(hd->pid, &st, 0);
	hd->pid = 0;
	ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok) {
		TEST_LOG("watchqd did not exit cleanly (status %#x)", st);
		host_daemon_log(hd);
	}
	snprintf(log, sizeof(log), "%s/log", hd->dir);
	unlink(log);
	rmdir(hd->dir);
	return ok;
}

long host_keyctl(int cmd, unsigned long a, unsigned long b, unsigned long c,
		 unsigned long d)
{
	long r = syscall(SYS_keyctl, cmd, a, b, c, d);

	return r < 0 ? -errno : r;
}

__s32 host_add_key(const char *type, const char *desc, const char *payload,
		   __s32 ring)
{
	long r = syscall(SYS_add_key, type, desc, payload,
			 payload ? strlen(payload) : 0, ring);

	return r < 0 ? -errno : (__s32)r;
}

__s32 host_new_session(void)
{
	return (__s32)host_keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
}

int host_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (uid != (uid_t)-1 &&
		    (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		     setresuid(uid, uid, uid)))
			_exit(126);
		_exit(fn(arg));
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

__s32 host_sentinel(struct watchq *q)
{
	static unsigned int nr;
	char desc[64];
	__s32 k;
	int err;

	/* A description of its own: add_key of an existing one would update
	 * (and so trip) another queue's sentinel. */
	snprintf(desc, sizeof(desc), "watchq-test-sentinel-%d-%u", getpid(), nr++);
	k = host_add_key("user", desc, "0", KEY_SPEC_SESSION_KEYRING);

	if (k < 0)
		return k;
	err = watchq_watch_key(q, k, HOST_SENTINEL_ID);
	return err ? err : k;
}

static void to_rec(const struct watchq_notification *n, int slots, struct host_rec *r)
{
	const __u64 *s = (const void *)n;

	memset(r, 0, sizeof(*r));
	r->type = n->type;
	r->subtype = n->subtype;
	r->watch_id = (n->info & WATCHQ_INFO_ID) >> WATCHQ_INFO_ID__SHIFT;
	r->flags = n->info >> 16;
	r->slots = (__u32)slots;
	if (n->type == WATCHQ_TYPE_KEY_NOTIFY && slots >= 2) {
		const struct watchq_key_notification *k = (const void *)n;

		r->a = k->key_id;
		r->b = k->aux;
	} else if (slots >= 2) {
		r->a = s[1];
		r->b = slots >= 3 ? s[2] : 0;
	}
}

int host_read(struct watchq *q, struct host_rec *out, int want, int timeout_ms)
{
	long deadline = host_now_ms() + timeout_ms;
	const struct watchq_notification *n;
	int got = 0, r;

	while (got < want) {
		r = watchq_peek(q, &n);
		if (r < 0)
			return r;
		if (r > 0) {
			to_rec(n, r, &out[got++]);
			watchq_consume(q, n);
			continue;
		}
		if (host_now_ms() >= deadline)
			break;
		r = watchq_wait(q, (int)(deadline - host_now_ms()));
		if (r < 0)
			return r;
	}
	return got;
}

int host_drain(struct watchq *q, struct host_rec *out, int max)
{
	if (watchq_sync(q))
		return -1;
	return host_read(q, out, max, 200);
}

bool host_sync(struct watchq *q, __s32 sentinel, struct host_rec *out, int max,
	       int *n, int timeout_ms)
{
	long deadline = host_now_ms() + timeout_ms;
	struct host_rec r;
	long err;

	*n = 0;
	err = host_keyctl(KEYCTL_UPDATE, (unsigned long)sentinel, (unsigned long)"1", 1, 0);
	if (err) {
		TEST_LOG("updating the sentinel: %s", strerror((int)-err));
		return false;
	}
	for (;;) {
		int got = host_read(q, &r, 1, (int)(deadline - host_now_ms()));

		if (got < 0) {
			TEST_LOG("reading: %s", strerror(-got));
			return false;
		}
		if (!got) {
			TEST_LOG("the sentinel's record did not come within %d ms", timeout_ms);
			return false;
		}
		if (r.type == WATCHQ_TYPE_KEY_NOTIFY && r.watch_id == HOST_SENTINEL_ID &&
		    r.a == (__u32)sentinel && r.subtype == WATCHQ_NOTIFY_KEY_UPDATED)
			return true;
		if (*n < max)
			out[*n] = r;
		(*n)++;
	}
}

static void print_recs(const char *title, const struct host_rec *r, int n)
{
	int i;

	TEST_LOG("%s (%d):", title, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "      type %u subtype %u id %u flags %#x slots %u a %llu b %llu\n",
			r[i].type, r[i].subtype, r[i].watch_id, r[i].flags, r[i].slots,
			(unsigned long long)r[i].a, (unsigned long long)r[i].b);
}

static bool rec_eq(const struct host_rec *x, const struct host_rec *y)
{
	return x->type == y->type && x->subtype == y->subtype &&
	       x->watch_id == y->watch_id && x->flags == y->flags &&
	       x->slots == y->slots && x->a == y->a && x->b == y->b;
}

bool host_expect(const char *what, const struct host_rec *got, int ngot,
		 const struct host_rec *want, int nwant)
{
	int i;

	for (i = 0; ngot == nwant && i < ngot && rec_eq(&got[i], &want[i]); i++)
		;
	if (ngot == nwant && i == ngot)
		return true;
	TEST_LOG("%s: records differ", what);
	print_recs("expected", want, nwant);
	print_recs("got", got, ngot);
	return false;
}

void *host_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

bool host_fix_setup(struct host_fix *f)
{
	memset(f, 0, sizeof(*f));
	if (host_new_session() < 0) {
		TEST_LOG("no session keyring");
		return false;
	}
	if (!host_daemon_start(&f->hd, "-v", NULL))
		return false;
	f->q = watchq_open(NULL, 4);
	if (!f->q) {
		TEST_LOG("watchq_open: %s", strerror(errno));
		return false;
	}
	f->sentinel = host_sentinel(f->q);
	if (f->sentinel < 0) {
		TEST_LOG("sentinel: %s", strerror(-f->sentinel));
		host_daemon_log(&f->hd);
		return false;
	}
	return true;
}

void host_fix_teardown(struct host_fix *f)
{
	if (f->q)
		watchq_close(f->q);
	if (f->hd.pid > 0 || f->hd.pid == -1)
		host_daemon_stop(&f->hd);
}

bool host_open_perms(__s32 key)
{
	return !host_keyctl(KEYCTL_SETPERM, (unsigned long)key, 0x3f3f3f3f, 0, 0);
}

/* Each mount this process can see made private, one by one. */
static int private_each(void)
{
	char *line = NULL, *save, *point;
	size_t cap = 0;
	int err = 0, i;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	while (!err && getline(&line, &cap, f) > 0) {
		point = strtok_r(line, " ", &save);
		for (i = 0; point && i < 4; i++)
			point = strtok_r(NULL, " ", &save);
		/* mountinfo escapes spaces: a point with one is not ours */
		if (point && !strchr(point, '\\') && mount(NULL, point, NULL, MS_PRIVATE, NULL))
			err = -errno;
	}
	free(line);
	fclose(f);
	return err;
}

/*
 * unshare(), then every mount private.  In a chroot whose / is no mount
 * point (a fresh-machine check) "/" cannot be made private: there each
 * mount it can see is, and the one holding them all, which it cannot see
 * nor change, must not be shared (statmount: 6.8+).
 */
int host_private_mount_ns(void)
{
	struct { __u32 size, fd; __u64 mnt_id, param; } req = {
		.size = 24, .param = 0x02,		/* STATMOUNT_MNT_BASIC */
	};
	struct { __u32 size, opts; __u64 mask; __u32 maj, min; __u64 magic;
		 __u32 sb_flags, fs_type; __u64 id, parent; __u32 id_old, parent_old;
		 __u64 attr, propagation, rest[55]; } sm;
	struct statx stx;

	if (unshare(CLONE_NEWNS))
		return -errno;
	if (!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 0;
	if (errno != EINVAL)
		return -errno;
	if (statx(AT_FDCWD, "/", 0, 0x4000 /* MNT_ID_UNIQUE */, &stx) ||
	    !(stx.stx_mask & 0x4000))
		return -EINVAL;
	req.mnt_id = stx.stx_mnt_id;
	if (syscall(457 /* statmount */, &req, &sm, sizeof(sm), 0))
		return -EINVAL;
	if (sm.propagation & MS_SHARED)
		return -EXDEV;
	return private_each();
}
