// SPDX-License-Identifier: GPL-2.0
/*
 * Mount notifications end to end, each test in a private mount namespace
 * of its own (the runner forks every test) over a fresh tmpfs: the exact
 * records, flags and ids (as statx() gives them: the 64-bit unique ones
 * where the daemon uses those) that watches on a mount and on its
 * ancestors get.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"

#define MREC(sub, on, aux, wid, flags) \
	((struct host_rec){ WATCHQ_TYPE_MOUNT_NOTIFY, WATCHQ_NOTIFY_MOUNT_##sub, wid, \
			    (flags) >> 16, 3, (on), (aux) })
#define SUB WATCHQ_NOTIFY_MOUNT_IN_SUBTREE
#define RO WATCHQ_NOTIFY_MOUNT_IS_NOW_RO
#define KERN WATCHQ_NOTIFY_MOUNT_IS_SUBMOUNT

struct mfix {
	struct host_daemon hd;
	struct watchq *q;
	char base[64];
	char path[8][128];
};

/*
 * The ids the daemon uses: the 64-bit unique ones where listmount() takes
 * another namespace by id (6.11+), else mountinfo's (its mountinfo rung).
 */
static bool unique_ids(void)
{
	struct { __u32 size, fd; __u64 mnt_id, param, ns_id; } req = {
		.size = 32, .mnt_id = ~0ULL,		/* LSMT_ROOT */
	};
	static int known = -1;
	__u64 id;
	int fd;

	if (known >= 0)
		return known;
	fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	known = fd >= 0 && !ioctl(fd, _IOR(0xb7, 0x5, __u64) /* NS_GET_MNTNS_ID */, &req.ns_id) &&
		syscall(458 /* listmount */, &req, &id, 1, 0) >= 0;
	if (fd >= 0)
		close(fd);
	return known;
}

static __u64 mnt_id(const char *path)
{
	unsigned int want = unique_ids() ? 0x4000 /* MNT_ID_UNIQUE */ : 0x1000 /* MNT_ID */;
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, want, &stx) || !(stx.stx_mask & want))
		return 0;
	return stx.stx_mnt_id;
}

/* Private namespace, a tmpfs on a fresh directory, a daemon, a queue. */
static int mfix_setup(struct mfix *f, const char *const *dirs)
{
	int err;

	memset(f, 0, sizeof(*f));
	err = host_private_mount_ns();
	if (err)
		return SKIP("no private mount namespace: %s", strerror(-err));
	snprintf(f->base, sizeof(f->base), "/tmp/watchq-mnt.XXXXXX");
	if (!mkdtemp(f->base) || mount("wqtest", f->base, "tmpfs", 0, "size=1m"))
		return TEST_FAIL;
	for (int i = 0; dirs && dirs[i]; i++) {
		snprintf(f->path[i], sizeof(f->path[i]), "%s/%s", f->base, dirs[i]);
		if (mkdir(f->path[i], 0755))
			return TEST_FAIL;
	}
	if (!host_daemon_start(&f->hd, "-v", "--sources", "mount", NULL))
		return TEST_FAIL;
	f->q = watchq_open(NULL, 4);
	return f->q ? TEST_PASS : TEST_FAIL;
}

static bool mfix_teardown(struct mfix *f, bool ok)
{
	if (!ok)
		host_daemon_log(&f->hd);
	if (f->q)
		watchq_close(f->q);
	if (f->hd.pid > 0)
		ok = host_daemon_stop(&f->hd) && ok;
	/* The directory outlives our namespace: take it away. */
	if (f->base[0]) {
		umount2(f->base, MNT_DETACH);
		rmdir(f->base);
	}
	return ok;
}

/*
 * Records reflect the net change between two rereads of the tree, so the
 * tests let the daemon catch up after each step (a remount ro and back
 * before it rereads is no change at all).
 */
static bool collect(struct watchq *q, struct host_rec *got, int *n, int max)
{
	int r = host_drain(q, got + *n, max - *n);

	if (r < 0)
		return false;
	*n += r;
	return true;
}
#define STEP(expr, what) (ASSERT_OK(expr, what) && collect(f.q, got, &n, N(got)))

#define SETUP(f, ...) do {						\
	int __r = mfix_setup(f, (const char *const[]){ __VA_ARGS__, NULL }); \
	if (__r != TEST_PASS) {						\
		mfix_teardown(f, true);					\
		return __r;						\
	}								\
} while (0)

WATCHQ_TEST(mount_new_bind_umount)
{
	struct host_rec got[16];
	char ap[160], bp[160];
	struct mfix f;
	__u64 base, o, a, b;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "o");
	base = mnt_id(f.base);
	snprintf(ap, sizeof(ap), "%s/a", f.path[0]);
	snprintf(bp, sizeof(bp), "%s/b", f.path[0]);
	ok = ASSERT_OK(mount("wqo", f.path[0], "tmpfs", 0, NULL), "mount o") &&
	     ASSERT_TRUE((o = mnt_id(f.path[0])) && o != base, "o's id") &&
	     ASSERT_OK(mkdir(ap, 0755) | mkdir(bp, 0755), "mkdir o/a o/b") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.path[0], 1), "watch o") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.base, 2), "watch the tmpfs o is on") &&
	     STEP(mount("wqa", ap, "tmpfs", MS_RDONLY, NULL), "mount ro tmpfs") &&
	     ASSERT_TRUE((a = mnt_id(ap)) != o, "a's id") &&
	     STEP(mount(ap, bp, NULL, MS_BIND, NULL), "bind a on b") &&
	     ASSERT_TRUE((b = mnt_id(bp)) != a, "b's id") &&
	     STEP(umount2(bp, 0), "umount b") &&
	     host_expect("new, bind, umount", got, n, (struct host_rec[]){
			MREC(NEW_MOUNT, o, a, 1, RO), MREC(NEW_MOUNT, o, a, 2, RO | SUB),
			MREC(NEW_MOUNT, o, b, 1, RO), MREC(NEW_MOUNT, o, b, 2, RO | SUB),
			MREC(UNMOUNT, o, b, 1, 0), MREC(UNMOUNT, o, b, 2, SUB),
		 }, 6);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* A watch on / (watchq mount:/) gets every change in the namespace, with
 * IN_SUBTREE. */
WATCHQ_TEST(mount_watch_root)
{
	struct host_rec got[4];
	struct statx stx;
	struct mfix f;
	__u64 base, a = 0;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "a");
	if (statx(AT_FDCWD, "/", 0, 0, &stx) || !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
	    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
		mfix_teardown(&f, true);
		return SKIP("/ is no mount's root here (a chroot): its mount is not the daemon's to see");
	}
	base = mnt_id(f.base);
	ok = ASSERT_OK(watchq_watch_mount(f.q, "/", 3), "watch /") &&
	     STEP(mount("wqa", f.path[0], "tmpfs", 0, NULL), "mount a") &&
	     ASSERT_TRUE((a = mnt_id(f.path[0])) != base, "a's id") &&
	     host_expect("NEW_MOUNT, below /", got, n, (struct host_rec[]){
			MREC(NEW_MOUNT, base, a, 3, SUB),
		 }, 1);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

struct wq_mount_attr { __u64 attr_set, attr_clr, propagation, userns_fd; };

WATCHQ_TEST(mount_readonly_setattr_move)
{
	struct wq_mount_attr ma = { .attr_set = 0x2 /* MOUNT_ATTR_NOSUID */ };
	struct host_rec got[24];
	struct mfix f;
	__u64 base, a;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "a", "c");
	base = mnt_id(f.base);
	ok = ASSERT_OK(mount("wqa", f.path[0], "tmpfs", 0, NULL), "mount a") &&
	     ASSERT_TRUE((a = mnt_id(f.path[0])) != base, "a's id") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.base, 1), "watch the tmpfs") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.path[0], 3), "watch a itself") &&
	     STEP(mount(NULL, f.path[0], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL),
		  "remount a ro") &&
	     STEP(mount(NULL, f.path[0], NULL, MS_REMOUNT | MS_BIND, NULL), "and rw") &&
	     STEP(syscall(SYS_mount_setattr, AT_FDCWD, f.path[0], 0, &ma, sizeof(ma)),
		  "mount_setattr nosuid") &&
	     STEP(mount(NULL, f.path[0], NULL, MS_SHARED, NULL), "make shared") &&
	     STEP(mount(f.path[0], f.path[1], NULL, MS_MOVE, NULL), "move a to c") &&
	     host_expect("on a itself, and below the tmpfs", got, n, (struct host_rec[]){
			MREC(READONLY, a, 0, 3, RO), MREC(READONLY, a, 0, 1, RO | SUB),
			MREC(READONLY, a, 0, 3, 0), MREC(READONLY, a, 0, 1, SUB),
			MREC(SETATTR, a, 0, 3, 0), MREC(SETATTR, a, 0, 1, SUB),
			MREC(SETATTR, a, 0, 3, 0), MREC(SETATTR, a, 0, 1, SUB),
			MREC(MOVE_FROM, base, a, 1, 0), MREC(MOVE_TO, base, a, 1, 0),
		 }, 10);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* Three tmpfs mounts, each on the one before: @t on @dir, then t/x, t/x/y. */
static bool mount_tree(const char *dir, __u64 *t, __u64 *tx, __u64 *ty)
{
	char x[160], y[160];

	snprintf(x, sizeof(x), "%s/x", dir);
	snprintf(y, sizeof(y), "%s/x/y", dir);
	return ASSERT_OK(mount("wqt", dir, "tmpfs", 0, NULL), "mount t") &&
	       ASSERT_OK(mkdir(x, 0755), "mkdir x") &&
	       ASSERT_OK(mount("wqx", x, "tmpfs", 0, NULL), "mount x") &&
	       ASSERT_OK(mkdir(y, 0755), "mkdir y") &&
	       ASSERT_OK(mount("wqy", y, "tmpfs", 0, NULL), "mount y") &&
	       ASSERT_TRUE((*t = mnt_id(dir)) && (*tx = mnt_id(x)) && (*ty = mnt_id(y)), "ids");
}

WATCHQ_TEST(mount_lazy_umount_tree)
{
	struct host_rec got[16];
	struct mfix f;
	__u64 base, t = 0, tx = 0, ty = 0;
	bool ok;
	int n = -1;

	HOST_REQUIRE();
	SETUP(&f, "t");
	base = mnt_id(f.base);
	ok = mount_tree(f.path[0], &t, &tx, &ty) &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.base, 1), "watch the tmpfs") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.path[0], 4), "watch t") &&
	     ASSERT_OK(umount2(f.path[0], MNT_DETACH), "lazy umount of t") &&
	     ASSERT_TRUE((n = host_drain(f.q, got, N(got))) >= 0, "drain") &&
	     host_expect("one UNMOUNT per mount, deepest first; t's watch ends", got, n,
		 (struct host_rec[]){
			MREC(UNMOUNT, tx, ty, 4, SUB), MREC(UNMOUNT, tx, ty, 1, SUB),
			MREC(UNMOUNT, t, tx, 4, 0), MREC(UNMOUNT, t, tx, 1, SUB),
			MREC(UNMOUNT, base, t, 1, 0),
			REMOVAL_REC(t, 4),
		 }, 6);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* A child in a namespace of its own: mounts on @dir (a peer of ours, or
 * private) and exits. */
static int mount_in_new_ns(void *dir)
{
	if (unshare(CLONE_NEWNS))
		return 2;
	return mount("wqp", dir, "tmpfs", 0, NULL) ? 3 : 0;
}

struct unrelated {
	const char *base;
	int ready[2], go[2];
};

/* A watcher in a namespace whose copy of the tmpfs is private: nothing. */
static int unrelated_watcher(void *arg)
{
	struct unrelated *u = arg;
	struct host_rec got[4];
	struct watchq *q;
	char c = 0;
	int n;

	if (host_private_mount_ns())
		return 2;
	q = watchq_open(NULL, 1);
	if (!q || watchq_watch_mount(q, u->base, 9))
		return 3;
	if (write(u->ready[1], "r", 1) != 1 || read(u->go[0], &c, 1) != 1)
		return 4;
	n = host_drain(q, got, N(got));
	watchq_close(q);
	if (n)
		fprintf(stderr, "    unrelated namespace got %d records\n", n);
	return n == 0 ? 0 : 5;
}

WATCHQ_TEST(mount_shared_propagation)
{
	struct unrelated u = { 0 };
	struct host_rec got[8];
	char p[160], c = 0;
	struct mfix f;
	pid_t up = -1;
	__u64 base, pid_ = 0;
	bool ok;
	int n = -1, st = -1;

	HOST_REQUIRE();
	SETUP(&f, "sh");
	snprintf(p, sizeof(p), "%s/p", f.path[0]);
	u.base = f.path[0];
	ok = ASSERT_OK(mount("wqs", f.path[0], "tmpfs", 0, NULL), "mount sh") &&
	     ASSERT_OK(mkdir(p, 0755), "mkdir p") &&
	     ASSERT_OK(mount(NULL, f.path[0], NULL, MS_SHARED, NULL), "make sh shared") &&
	     ASSERT_TRUE((base = mnt_id(f.path[0])) != 0, "sh's id") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.path[0], 1), "watch sh") &&
	     ASSERT_OK(pipe(u.ready) | pipe(u.go), "pipes");
	if (ok) {
		fflush(NULL);
		up = fork();
		if (up == 0)
			_exit(unrelated_watcher(&u));
		ok = ASSERT_TRUE(up > 0 && read(u.ready[0], &c, 1) == 1, "unrelated watcher ready");
	}
	ok = ok &&
	     ASSERT_EQ(host_run_as((uid_t)-1, 0, mount_in_new_ns, p), 0,
		       "mount in a peer namespace") &&
	     ASSERT_TRUE((pid_ = mnt_id(p)) != base, "the propagated mount's id here") &&
	     ASSERT_TRUE((n = host_drain(f.q, got, N(got))) >= 0, "drain") &&
	     host_expect("the peer's mount propagated here", got, n, (struct host_rec[]){
			MREC(NEW_MOUNT, base, pid_, 1, 0),
		 }, 1);
	if (up > 0) {
		ok = ASSERT_TRUE(write(u.go[1], "g", 1) == 1, "go") && ok;
		waitpid(up, &st, 0);
		ok = ASSERT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st),
				 "the unrelated namespace saw nothing") && ok;
	}
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* The new mount API, by number: Debian 12's headers lack some of it. */
#define WQ_SYS_open_tree	428
#define WQ_SYS_move_mount	429
#define WQ_SYS_fsopen		430
#define WQ_SYS_fsconfig		431
#define WQ_SYS_fsmount		432
#define WQ_SYS_fspick		433
#define WQ_OPEN_TREE_CLONE	1
#define WQ_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define WQ_FSCONFIG_SET_FLAG	0
#define WQ_FSCONFIG_SET_STRING	1
#define WQ_FSCONFIG_CMD_CREATE	6
#define WQ_FSCONFIG_CMD_RECONFIGURE 7
#define WQ_MOUNT_ATTR_RDONLY	0x1

static int attach(int mfd, const char *to)
{
	int r = (int)syscall(WQ_SYS_move_mount, mfd, "", AT_FDCWD, to,
			     WQ_MOVE_MOUNT_F_EMPTY_PATH);

	close(mfd);
	return r;
}

/* open_tree(OPEN_TREE_CLONE) + move_mount, fsopen/fsconfig/fsmount +
 * move_mount: a NEW_MOUNT each, when move_mount attaches them. */
WATCHQ_TEST(mount_new_api_open_tree_fsmount)
{
	struct host_rec got[8];
	struct mfix f;
	__u64 base, a, b = 0, c = 0;
	int n = 0, none = -1, tfd = -1, fsfd = -1, mfd = -1;
	bool ok;

	HOST_REQUIRE();
	SETUP(&f, "a", "b", "c");
	base = mnt_id(f.base);
	ok = ASSERT_OK(mount("wqa", f.path[0], "tmpfs", 0, NULL), "mount a") &&
	     ASSERT_TRUE((a = mnt_id(f.path[0])) != base, "a's id") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.base, 1), "watch the tmpfs") &&
	     ASSERT_TRUE((tfd = (int)syscall(WQ_SYS_open_tree, AT_FDCWD, f.path[0],
					     WQ_OPEN_TREE_CLONE | O_CLOEXEC)) >= 0, "open_tree") &&
	     /* a detached clone is no mount of the tree yet */
	     ASSERT_TRUE((none = host_drain(f.q, got, N(got))) == 0, "nothing before move_mount") &&
	     STEP(attach(tfd, f.path[1]), "move_mount the clone on b") &&
	     ASSERT_TRUE((b = mnt_id(f.path[1])) != a && b != base, "b's id") &&
	     ASSERT_TRUE((fsfd = (int)syscall(WQ_SYS_fsopen, "tmpfs", 1 /* CLOEXEC */)) >= 0,
			 "fsopen") &&
	     ASSERT_OK(syscall(WQ_SYS_fsconfig, fsfd, WQ_FSCONFIG_SET_STRING, "size", "64k", 0),
		       "fsconfig size") &&
	     ASSERT_OK(syscall(WQ_SYS_fsconfig, fsfd, WQ_FSCONFIG_CMD_CREATE, NULL, NULL, 0),
		       "fsconfig create") &&
	     ASSERT_TRUE((mfd = (int)syscall(WQ_SYS_fsmount, fsfd, 1 /* CLOEXEC */,
					     WQ_MOUNT_ATTR_RDONLY)) >= 0, "fsmount ro") &&
	     ASSERT_TRUE((none = host_drain(f.q, got + n, N(got) - n)) == 0,
			 "nothing before move_mount") &&
	     STEP(attach(mfd, f.path[2]), "move_mount the new tmpfs on c") &&
	     ASSERT_TRUE((c = mnt_id(f.path[2])) != b && c != base, "c's id") &&
	     host_expect("one NEW_MOUNT per move_mount", got, n, (struct host_rec[]){
			MREC(NEW_MOUNT, base, b, 1, 0), MREC(NEW_MOUNT, base, c, 1, RO),
		 }, 2);
	if (fsfd >= 0)
		close(fsfd);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* A tmpfs on the fixture's first directory, watched with id 2, and the
 * fixture's tmpfs it is on (@base) with id 1. */
static bool mount_watched(struct mfix *f, __u64 *base, __u64 *id)
{
	*base = mnt_id(f->base);
	return ASSERT_OK(mount("wqm", f->path[0], "tmpfs", 0, NULL), "mount it") &&
	       ASSERT_TRUE((*id = mnt_id(f->path[0])) != *base, "its id") &&
	       ASSERT_OK(watchq_watch_mount(f->q, f->base, 1), "watch the tmpfs") &&
	       ASSERT_OK(watchq_watch_mount(f->q, f->path[0], 2), "watch it");
}

/* fspick + fsconfig(FSCONFIG_CMD_RECONFIGURE) ro and back: the superblock
 * goes read-only, so its mount is read-only: READONLY. */
WATCHQ_TEST(mount_fsconfig_reconfigure_ro)
{
	struct host_rec got[8];
	struct mfix f;
	__u64 base = 0, a = 0;
	int n = 0, fd = -1;
	bool ok;

	HOST_REQUIRE();
	SETUP(&f, "a");
	ok = mount_watched(&f, &base, &a) &&
	     ASSERT_TRUE((fd = (int)syscall(WQ_SYS_fspick, AT_FDCWD, f.path[0], 1)) >= 0,
			 "fspick") &&
	     ASSERT_OK(syscall(WQ_SYS_fsconfig, fd, WQ_FSCONFIG_SET_FLAG, "ro", NULL, 0),
		       "fsconfig ro") &&
	     STEP(syscall(WQ_SYS_fsconfig, fd, WQ_FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0),
		  "reconfigure ro") &&
	     ASSERT_OK(syscall(WQ_SYS_fsconfig, fd, WQ_FSCONFIG_SET_FLAG, "rw", NULL, 0),
		       "fsconfig rw") &&
	     STEP(syscall(WQ_SYS_fsconfig, fd, WQ_FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0),
		  "reconfigure rw") &&
	     host_expect("READONLY on, then off", got, n, (struct host_rec[]){
			MREC(READONLY, a, 0, 2, RO), MREC(READONLY, a, 0, 1, RO | SUB),
			MREC(READONLY, a, 0, 2, 0), MREC(READONLY, a, 0, 1, SUB),
		 }, 4);
	if (fd >= 0)
		close(fd);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* A client in namespace B passes an O_PATH fd of a mount of namespace A
 * (opened by its parent, in A, inherited): refused with EPERM.  The same
 * client watching a path of its own namespace is accepted: the control. */
static int foreign_watcher(void *arg)
{
	int fd = *(int *)arg, r;
	char path[64];
	struct watchq *q;

	if (host_private_mount_ns())
		return 2;
	q = watchq_open(NULL, 1);
	if (!q)
		return 3;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = watchq_watch_mount(q, path, 1);
	if (r != -EPERM) {
		fprintf(stderr, "    foreign mount: %d, want %d\n", r, -EPERM);
		watchq_close(q);
		return 4;
	}
	r = watchq_watch_mount(q, "/", 2);
	watchq_close(q);
	if (r) {
		fprintf(stderr, "    own mount: %d\n", r);
		return 5;
	}
	return 0;
}

WATCHQ_TEST(mount_foreign_namespace_eperm)
{
	struct mfix f;
	int fd = -1;
	bool ok;

	HOST_REQUIRE();
	SETUP(&f, "a");
	ok = ASSERT_TRUE((fd = open(f.base, O_PATH)) >= 0, "O_PATH fd in namespace A") &&
	     ASSERT_EQ(host_run_as((uid_t)-1, 0, foreign_watcher, &fd), 0,
		       "namespace B: EPERM for A's mount, its own accepted");
	if (fd >= 0)
		close(fd);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

struct setattr_call {
	int dfd;
	const char *path;
	struct wq_mount_attr attr;
};

/* mount_setattr(AT_RECURSIVE) from a process that exits at once: the
 * daemon may find it gone before it reads where the call pointed. */
static int setattr_and_exit(void *arg)
{
	struct setattr_call *c = arg;

	return syscall(SYS_mount_setattr, c->dfd, c->path, 0x8000 /* AT_RECURSIVE */,
		       &c->attr, sizeof(c->attr)) ? 1 : 0;
}

/*
 * A recursive mount_setattr changes every mount of the tree: READONLY for
 * each, outermost first, whether the caller is still there to say where it
 * pointed (a path from its root) or not (its absolute path is the tree's
 * mount point; a relative one leaves only a reread of the whole tree).
 */
WATCHQ_TEST(mount_setattr_recursive_exited_caller)
{
	struct setattr_call abs_ro = { AT_FDCWD, NULL, { .attr_set = WQ_MOUNT_ATTR_RDONLY } };
	struct setattr_call rel_rw = { AT_FDCWD, "t", { .attr_clr = WQ_MOUNT_ATTR_RDONLY } };
	struct host_rec got[16];
	struct mfix f;
	__u64 t = 0, tx = 0, ty = 0;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "t");
	abs_ro.path = f.path[0];
	ok = mount_tree(f.path[0], &t, &tx, &ty) &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.path[0], 4), "watch t") &&
	     STEP(host_run_as((uid_t)-1, 0, setattr_and_exit, &abs_ro),
		  "recursive ro by an absolute path, caller exits") &&
	     ASSERT_OK(chdir(f.base), "cd to the tmpfs") &&
	     STEP(host_run_as((uid_t)-1, 0, setattr_and_exit, &rel_rw),
		  "recursive rw by a relative path, caller exits") &&
	     host_expect("READONLY for each mount of the tree, outermost first", got, n,
		 (struct host_rec[]){
			MREC(READONLY, t, 0, 4, RO), MREC(READONLY, tx, 0, 4, RO | SUB),
			MREC(READONLY, ty, 0, 4, RO | SUB),
			MREC(READONLY, t, 0, 4, 0), MREC(READONLY, tx, 0, 4, SUB),
			MREC(READONLY, ty, 0, 4, SUB),
		 }, 6);
	if (chdir("/"))
		ok = false;
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* The daemon's mount rung (--probe, with the suite's daemon arguments)
 * starts with @rung. */
static bool mount_rung_is(const char *rung)
{
	const char *extra = getenv("WATCHQ_TEST_DAEMON_ARGS");
	char cmd[512], line[256], want[64];
	bool is = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/watchqd --probe --sources mount %s 2>/dev/null",
		 host_build_dir(), extra ? extra : "");
	snprintf(want, sizeof(want), "mount: %s", rung);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		is |= !strncmp(line, want, strlen(want));
	if (p)
		pclose(p);
	return is;
}

/*
 * The kernel mounts tracefs on debugfs's "tracing" the first time a path
 * walk crosses it: an automount no mount syscall made, reported like any
 * new mount with IS_SUBMOUNT (fanotify names a process in no mount syscall);
 * on the rescan rung, which nothing wakes for it, with the next change and
 * without IS_SUBMOUNT (a rescan cannot say who made a mount).
 */
WATCHQ_TEST(mount_automount)
{
	struct host_rec got[4];
	char dbg[160], tr[192];
	struct stat st;
	struct mfix f;
	__u64 d = 0, tm = 0;
	bool ok, fan;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "dbg", "o");
	fan = mount_rung_is("fanotify");
	snprintf(dbg, sizeof(dbg), "%s", f.path[0]);
	snprintf(tr, sizeof(tr), "%s/tracing/.", dbg);
	if (mount("wqd", dbg, "debugfs", 0, NULL)) {
		mfix_teardown(&f, true);
		return SKIP("no debugfs: %s", strerror(errno));
	}
	if (system("grep -qw tracefs /proc/filesystems")) {
		mfix_teardown(&f, true);
		return SKIP("no tracefs to automount on debugfs");
	}
	ok = ASSERT_TRUE((d = mnt_id(dbg)) != 0, "debugfs's id") &&
	     ASSERT_OK(watchq_watch_mount(f.q, dbg, 5), "watch debugfs") &&
	     STEP(stat(tr, &st), "walk into tracing/.: automount") &&
	     ASSERT_TRUE((tm = mnt_id(tr)) != d && tm, "tracefs's id") &&
	     /* the rescan rung finds it when the next change (maybe another
	      * process's, anywhere) rereads the tree */
	     (fan ? ASSERT_EQ(n, 1, "reported at once") :
		    STEP(mount("wqo", f.path[1], "tmpfs", 0, NULL), "another mount")) &&
	     host_expect("one NEW_MOUNT, made by the kernel", got, n, (struct host_rec[]){
			MREC(NEW_MOUNT, d, tm, 5, fan ? KERN : 0),
		 }, 1);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/*
 * umount2(MNT_EXPIRE): the first call marks the mount (EAGAIN), the second
 * unmounts it if nothing used it meanwhile: EXPIRY on the mount, then its
 * UNMOUNT, then the end of the watch on it.
 */
WATCHQ_TEST(mount_expire)
{
	struct host_rec got[8];
	struct mfix f;
	__u64 base = 0, t = 0;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "t");
	ok = mount_watched(&f, &base, &t) &&
	     ASSERT_EQ(umount2(f.path[0], MNT_EXPIRE) < 0 ? errno : 0, EAGAIN,
			 "the first MNT_EXPIRE marks it") &&
	     STEP(umount2(f.path[0], MNT_EXPIRE), "the second expires it") &&
	     host_expect("EXPIRY, UNMOUNT, the watch's end", got, n, (struct host_rec[]){
			MREC(EXPIRY, t, 0, 2, 0), MREC(EXPIRY, t, 0, 1, SUB),
			MREC(UNMOUNT, base, t, 1, 0),
			REMOVAL_REC(t, 2),
		 }, 4);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* mount(2) takes MS_BIND before a propagation flag (path_mount()'s
 * order): a bind that carries MS_PRIVATE is a syscall's new mount, never
 * the kernel's. */
WATCHQ_TEST(mount_bind_with_propagation_flag)
{
	struct host_rec got[4];
	struct mfix f;
	__u64 base = 0, a = 0, b = 0;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "a", "b");
	base = mnt_id(f.base);
	ok = ASSERT_OK(mount("wqa", f.path[0], "tmpfs", 0, NULL), "mount a") &&
	     ASSERT_TRUE((a = mnt_id(f.path[0])) != base, "a's id") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.base, 1), "watch the tmpfs") &&
	     STEP(mount(f.path[0], f.path[1], NULL, MS_BIND | MS_PRIVATE, NULL),
		  "bind a on b, MS_PRIVATE too") &&
	     ASSERT_TRUE((b = mnt_id(f.path[1])) != a, "b's id") &&
	     host_expect("a NEW_MOUNT without IS_SUBMOUNT", got, n, (struct host_rec[]){
			MREC(NEW_MOUNT, base, b, 1, 0),
		 }, 1);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/*
 * A tree moved: one MOVE_FROM/MOVE_TO, for its top only (the mounts below
 * went along), and the mounts below are known by their new mount points
 * (umount2(MNT_EXPIRE) names them so).
 */
WATCHQ_TEST(mount_move_tree_then_expire_below)
{
	struct host_rec got[16];
	struct mfix f;
	char y[200];
	__u64 base = 0, t = 0, tx = 0, ty = 0;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "t", "c");
	base = mnt_id(f.base);
	snprintf(y, sizeof(y), "%s/x/y", f.path[1]);
	ok = mount_tree(f.path[0], &t, &tx, &ty) &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.base, 1), "watch the tmpfs") &&
	     STEP(mount(f.path[0], f.path[1], NULL, MS_MOVE, NULL), "move t to c") &&
	     ASSERT_EQ(umount2(y, MNT_EXPIRE) < 0 ? errno : 0, EAGAIN, "mark c/x/y") &&
	     STEP(umount2(y, MNT_EXPIRE), "expire c/x/y") &&
	     host_expect("the move of t, then y's EXPIRY and UNMOUNT", got, n,
		 (struct host_rec[]){
			MREC(MOVE_FROM, base, t, 1, 0), MREC(MOVE_TO, base, t, 1, 0),
			MREC(EXPIRY, ty, 0, 1, SUB), MREC(UNMOUNT, tx, ty, 1, SUB),
		 }, 4);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

struct chrooted {
	const char *root;
	struct wq_mount_attr attr;
};

/*
 * In a chroot at the tmpfs, with a copy of the tmpfs's outside path made
 * inside it (so that the outside path of the cwd, wrongly applied below
 * the root, would lead somewhere else), mount_setattr on a relative path;
 * stays a while so that the daemon finds it alive.
 */
static int setattr_in_chroot(void *arg)
{
	struct chrooted *c = arg;
	char p[256];
	int r;

	if (chroot(c->root) || chdir("/"))
		return 2;
	snprintf(p, sizeof(p), "%s/a", c->root);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
	r = (int)syscall(SYS_mount_setattr, AT_FDCWD, "a", 0, &c->attr, sizeof(c->attr));
	usleep(300000);
	return r ? 3 : 0;
}

WATCHQ_TEST(mount_setattr_relative_in_chroot)
{
	struct chrooted c = { .attr = { .attr_set = 0x2 /* MOUNT_ATTR_NOSUID */ } };
	struct host_rec got[4];
	struct mfix f;
	__u64 base = 0, a = 0;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "a");
	c.root = f.base;
	base = mnt_id(f.base);
	ok = ASSERT_OK(mount("wqa", f.path[0], "tmpfs", 0, NULL), "mount a") &&
	     ASSERT_TRUE((a = mnt_id(f.path[0])) != base, "a's id") &&
	     ASSERT_OK(watchq_watch_mount(f.q, f.path[0], 1), "watch a") &&
	     STEP(host_run_as((uid_t)-1, 0, setattr_in_chroot, &c), "nosuid on a, from a chroot") &&
	     host_expect("SETATTR on a", got, n, (struct host_rec[]){
			MREC(SETATTR, a, 0, 1, 0),
		 }, 1);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/* As uid 65534: a user namespace and a mount namespace of its own, a
 * chroot with the cwd left outside it, and 50 mount_setattr calls on a
 * path relative to that cwd (which nobody outside could resolve). */
static int setattr_in_own_userns(void *arg)
{
	static const char *const maps[][2] = {
		{ "/proc/self/uid_map", "0 65534 1" }, { "/proc/self/setgroups", "deny" },
		{ "/proc/self/gid_map", "0 65534 1" },
	};
	struct wq_mount_attr ma = { .attr_set = 0x2 };
	int r = 0, out;

	(void)arg;
	/* setresuid() made it undumpable: its /proc files would be root's */
	prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS))
		return 10;		/* no unprivileged user namespaces */
	for (size_t i = 0; i < N(maps); i++) {
		int fd = open(maps[i][0], O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, maps[i][1], strlen(maps[i][1])) < 0)
			return 2;
		close(fd);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("x", "/tmp", "tmpfs", 0, NULL) || mkdir("/tmp/r", 0755) ||
	    mount("y", "/tmp/r", "tmpfs", 0, NULL) || mkdir("/tmp/r/a", 0755) ||
	    mount("z", "/tmp/r/a", "tmpfs", 0, NULL) ||
	    (out = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    chroot("/tmp/r") || fchdir(out))
		return 3;
	/* the cwd outside the root: no path the daemon could resolve */
	for (int i = 0; i < 50; i++)
		r |= (int)syscall(SYS_mount_setattr, AT_FDCWD, "r/a", 0, &ma, sizeof(ma));
	return r ? 4 : 0;
}

/*
 * Attribute changes in a namespace nobody watches cost the daemon
 * nothing: no path of it is resolved, no watched tree reread (its log says
 * each reread).  Not "mount_": the guest's shared daemon keeps no log.
 */
WATCHQ_TEST(daemon_mount_unwatched_attribute_changes_cost_nothing)
{
	struct host_rec got[4];
	char path[128], line[512];
	struct mfix f;
	bool ok, reread = false;
	int n = 0, r;
	FILE *log;

	HOST_REQUIRE();
	SETUP(&f, "a");
	ok = ASSERT_OK(watchq_watch_mount(f.q, f.base, 1), "watch the tmpfs");
	r = host_run_as(65534, 65534, setattr_in_own_userns, NULL);
	if (ok && r == 10) {
		mfix_teardown(&f, true);
		return SKIP("no user namespace for an unprivileged user here (disabled, or a chroot)");
	}
	ok = ok && ASSERT_EQ(r, 0, "50 setattrs in a user's own namespace") &&
	     collect(f.q, got, &n, N(got)) && ASSERT_EQ(n, 0, "no records here");
	snprintf(path, sizeof(path), "%s/log", f.hd.dir);
	log = ok ? fopen(path, "re") : NULL;
	while (log && fgets(line, sizeof(line), log))
		reread |= strstr(line, "rereading") != NULL;
	if (log)
		fclose(log);
	ok = ok && ASSERT_TRUE(log, "the daemon's log") &&
	     ASSERT_TRUE(!reread, "no watched tree reread for them");
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}

/*
 * Hints lost to a full BPF ring buffer (the daemon stopped while a
 * process floods it with failing umount2 calls, then changes a mount):
 * the queue's loss flag is set, and the daemon reads the tree again and
 * posts the change whose hint was lost.  Not "mount_": it stops its own
 * daemon, which the guest's shared one is not.
 */
WATCHQ_TEST(daemon_mount_hints_lost_flag_and_resync)
{
	struct host_rec got[4];
	struct mfix f;
	__u64 base = 0, a = 0;
	bool ok;
	int n = 0;

	HOST_REQUIRE();
	SETUP(&f, "a");
	if (f.hd.pid <= 0) {
		mfix_teardown(&f, true);
		return SKIP("a shared daemon: not ours to stop");
	}
	ok = mount_watched(&f, &base, &a) && ASSERT_OK(kill(f.hd.pid, SIGSTOP), "stop the daemon");
	/* 304-byte hints, two per call: well past the 256 KiB ring */
	for (int i = 0; ok && i < 4000; i++)
		umount2(f.path[0] + 1, 0);	/* relative to /: no mount, EINVAL */
	ok = ok &&
	     ASSERT_OK(mount(NULL, f.path[0], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL),
		       "remount a ro, its hint lost") &&
	     ASSERT_OK(kill(f.hd.pid, SIGCONT), "let it go") &&
	     collect(f.q, got, &n, N(got)) &&
	     ASSERT_EQ(watchq_lost(f.q), 1, "loss flag set") &&
	     host_expect("READONLY found by the reread", got, n, (struct host_rec[]){
			MREC(READONLY, a, 0, 2, RO), MREC(READONLY, a, 0, 1, RO | SUB),
		 }, 2);
	if (!ok && f.hd.pid > 0)
		kill(f.hd.pid, SIGCONT);
	return mfix_teardown(&f, ok) ? TEST_PASS : TEST_FAIL;
}
