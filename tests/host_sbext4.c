// SPDX-License-Identifier: GPL-2.0
/*
 * Superblock notifications from a real ext4 on a loop device, each test in
 * a private mount namespace: ENOSPC when it fills up, EDQUOT past a user
 * quota, and EIO from a journal on failing sectors (failfs under the loop
 * device), after which errors=remount-ro makes it read-only.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/loop.h>

#include "host.h"

#define BLK 4096

struct ext4 {
	char dir[64];		/* everything lives under it */
	char img[96], mnt[96], ff[96], disk[128];
	char loop[64];		/* the attached loop device, or "" */
	int loop_fd;		/* open on it */
	pid_t fuse;
	bool mounted;
	dev_t dev;		/* st_dev of the mounted filesystem */
	struct host_daemon hd;
	struct watchq *q;
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	r = system(cmd);
	if (r)
		TEST_LOG("'%s' failed (%d)", cmd, r);
	return r;
}

static bool ext4_teardown(struct ext4 *e, bool ok)
{
	if (!ok && e->hd.pid > 0)
		host_daemon_log(&e->hd);
	if (e->q)
		watchq_close(e->q);
	if (e->hd.pid > 0)
		ok = host_daemon_stop(&e->hd) && ok;
	if (e->mounted && umount2(e->mnt, 0) && umount2(e->mnt, MNT_DETACH))
		TEST_LOG("umount %s: %s", e->mnt, strerror(errno));
	if (e->loop[0]) {
		if (ioctl(e->loop_fd, LOOP_CLR_FD))
			TEST_LOG("detach %s: %s", e->loop, strerror(errno));
		close(e->loop_fd);
	}
	if (e->fuse > 0) {
		umount2(e->ff, MNT_DETACH);
		kill(e->fuse, SIGTERM);
		waitpid(e->fuse, NULL, 0);
	}
	if (e->dir[0])
		sh("rm -rf %s", e->dir);
	return ok;
}

/*
 * Tools, a private namespace, a directory, and in it an ext4 image: a copy
 * of $WATCHQ_BUILD/@image where that exists, else one of @size made by
 * mkfs.ext4 @mkfs_args.  The QEMU guest has no e2fsprogs: tests/qemu/qemu.mk
 * makes its images on the host, with the same arguments.
 */
static int ext4_prepare(struct ext4 *e, const char *image, const char *mkfs_args,
			const char *size)
{
	char prebuilt[256] = "";
	int r;

	memset(e, 0, sizeof(*e));
	if (image) {
		snprintf(prebuilt, sizeof(prebuilt), "%s/%s", host_build_dir(), image);
		if (access(prebuilt, R_OK))
			prebuilt[0] = 0;
	}
	if (!prebuilt[0] && system("command -v mkfs.ext4 >/dev/null"))
		return SKIP("no mkfs.ext4 (e2fsprogs)");
	if (access("/dev/loop-control", F_OK) && system("modprobe loop 2>/dev/null"))
		return SKIP("no loop devices in this kernel");
	if (access("/proc/fs/ext4", F_OK) && system("modprobe ext4 2>/dev/null"))
		return SKIP("no ext4 in this kernel");
	if ((r = host_private_mount_ns()))
		return SKIP("no private mount namespace: %s", strerror(-r));
	snprintf(e->dir, sizeof(e->dir), "/tmp/watchq-ext4.XXXXXX");
	if (!mkdtemp(e->dir)) {
		e->dir[0] = 0;
		return TEST_FAIL;
	}
	/* mkdtemp's 0700 would keep the EDQUOT test's user out of the mount. */
	if (chmod(e->dir, 0755))
		return TEST_FAIL;
	snprintf(e->img, sizeof(e->img), "%s/img", e->dir);
	snprintf(e->mnt, sizeof(e->mnt), "%s/mnt", e->dir);
	snprintf(e->ff, sizeof(e->ff), "%s/ff", e->dir);
	snprintf(e->disk, sizeof(e->disk), "%s/disk", e->ff);
	if (mkdir(e->mnt, 0755))
		return TEST_FAIL;
	/* A copy: the test writes to it, and the guest runs it twice. */
	if (prebuilt[0] ? sh("cp %s %s", prebuilt, e->img) :
			  sh("truncate -s %s %s && mkfs.ext4 -q -F -b %d %s %s", size, e->img,
			     BLK, mkfs_args, e->img))
		return TEST_FAIL;
	return TEST_PASS;
}

/*
 * A free loop device over @file, as "losetup --find" makes it but without
 * the tool (the QEMU guest has no util-linux); buffered, like
 * --direct-io=off.  Another process may configure the device GET_FREE named
 * before we do (EBUSY): then take the next one.
 */
static bool loop_attach(struct ext4 *e, const char *file)
{
	struct loop_config cfg = { 0 };
	char dev[sizeof(e->loop)];
	int ctl, file_fd, i, nr, err, fd = -1;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		TEST_LOG("/dev/loop-control: %s", strerror(errno));
		return false;
	}
	file_fd = open(file, O_RDWR | O_CLOEXEC);
	if (file_fd < 0) {
		TEST_LOG("%s: %s", file, strerror(errno));
		close(ctl);
		return false;
	}
	cfg.fd = file_fd;
	for (i = 0; i < 16 && fd < 0; i++) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0) {
			TEST_LOG("LOOP_CTL_GET_FREE: %s", strerror(errno));
			break;
		}
		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			TEST_LOG("%s: %s", dev, strerror(errno));
			break;
		}
		if (!ioctl(fd, LOOP_CONFIGURE, &cfg))
			break;
		err = errno;
		close(fd);
		fd = -1;
		if (err != EBUSY) {
			TEST_LOG("LOOP_CONFIGURE %s on %s: %s", file, dev, strerror(err));
			break;
		}
	}
	/* The device holds its own reference to the file. */
	close(file_fd);
	close(ctl);
	if (fd < 0)
		return false;
	memcpy(e->loop, dev, sizeof(dev));
	e->loop_fd = fd;
	return true;
}

/* A loop device over @file, ext4 from it mounted with @opts, a daemon
 * with the sb source, a queue watching the superblock with id @wid. */
static int ext4_mount(struct ext4 *e, const char *file, const char *opts, int wid)
{
	struct stat st;

	if (!loop_attach(e, file))
		return TEST_FAIL;
	if (mount(e->loop, e->mnt, "ext4", 0, opts)) {
		TEST_LOG("mount %s on %s (%s): %s", e->loop, e->mnt, opts, strerror(errno));
		return TEST_FAIL;
	}
	e->mounted = true;
	if (!ASSERT_OK(stat(e->mnt, &st), "stat the mount") ||
	    !ASSERT_OK(stat(e->loop, (struct stat[]){ 0 }), "stat the loop device"))
		return TEST_FAIL;
	e->dev = st.st_dev;
	{
		struct stat ls;

		if (stat(e->loop, &ls) || ls.st_rdev != st.st_dev) {
			TEST_LOG("st_dev %#llx is not %s", (unsigned long long)st.st_dev, e->loop);
			return TEST_FAIL;
		}
	}
	if (!host_daemon_start(&e->hd, "-v", "--sources", "sb", NULL) ||
	    !(e->q = watchq_open(NULL, 4)) ||
	    !ASSERT_OK(watchq_watch_sb(e->q, e->mnt, wid), "watch the superblock"))
		return TEST_FAIL;
	return TEST_PASS;
}

#define SETUP(e, prep, mnt) do {					\
	int __r;							\
	HOST_REQUIRE();							\
	__r = (prep);							\
	if (__r == TEST_PASS)						\
		__r = (mnt);						\
	if (__r != TEST_PASS) {						\
		ext4_teardown(e, __r == TEST_SKIP);			\
		return __r;						\
	}								\
} while (0)

/* Write 4 KiB blocks to @path until a write fails; its errno, or 0. */
static int fill(const char *path)
{
	char buf[BLK];
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644), err = 0;

	if (fd < 0)
		return -1;
	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < (64 << 20) / BLK && !err; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			err = errno;
	close(fd);
	return err;
}

WATCHQ_TEST(sb_ext4_enospc)
{
	struct host_rec got[8];
	char file[128];
	struct ext4 e;
	bool ok;
	int n = -1;

	SETUP(&e, ext4_prepare(&e, NULL, "-m 0 -O ^has_journal", "4M"),
	      ext4_mount(&e, e.img, "", 6));
	snprintf(file, sizeof(file), "%s/f", e.mnt);
	ok = ASSERT_EQ(fill(file), ENOSPC, "write until ENOSPC") &&
	     ASSERT_TRUE((n = host_drain(e.q, got, N(got))) >= 0, "drain") &&
	     host_expect("ENOSPC", got, n, (struct host_rec[]){ SERR(e.dev, ENOSPC, 6) }, 1);
	return ext4_teardown(&e, ok) ? TEST_PASS : TEST_FAIL;
}

static int fill_as_user(void *path)
{
	return fill(path);
}

WATCHQ_TEST(sb_ext4_edquot)
{
	struct dqblk dq = { .dqb_bhardlimit = 64, .dqb_bsoftlimit = 64,
			    .dqb_valid = QIF_BLIMITS };
	const uid_t uid = 65534;
	struct host_rec got[8];
	char dir[128], file[160];
	struct ext4 e;
	bool ok;
	int n = -1;

	HOST_REQUIRE();
	if (system("grep -qw dquot_initialize /proc/kallsyms && grep -qw v2_check_quota_file /proc/kallsyms"))
		return SKIP("kernel without CONFIG_QUOTA and CONFIG_QFMT_V2 (ext4 refuses usrquota): no EDQUOT to see");
	/* tests/qemu/qemu.mk makes the guest's image with these arguments. */
	SETUP(&e, ext4_prepare(&e, "ext4-quota.img", "-m 0 -O quota,^has_journal", "8M"),
	      ext4_mount(&e, e.img, "usrquota", 7));
	snprintf(dir, sizeof(dir), "%s/u", e.mnt);
	snprintf(file, sizeof(file), "%s/f", dir);
	ok = ASSERT_OK(mkdir(dir, 0755), "mkdir") &&
	     ASSERT_OK(chown(dir, uid, uid), "chown") &&
	     /* 64 KiB for the user, in 1 KiB units */
	     ASSERT_OK(quotactl(QCMD(Q_SETQUOTA, USRQUOTA), e.loop, (int)uid, (caddr_t)&dq),
		       "quotactl Q_SETQUOTA") &&
	     ASSERT_EQ(host_run_as(uid, uid, fill_as_user, file), EDQUOT,
		       "write as the user until EDQUOT") &&
	     ASSERT_TRUE((n = host_drain(e.q, got, N(got))) >= 0, "drain") &&
	     host_expect("EDQUOT", got, n, (struct host_rec[]){ SREC(EDQUOT, e.dev, 7, 0) }, 1);
	return ext4_teardown(&e, ok) ? TEST_PASS : TEST_FAIL;
}

/*
 * The journal on failing sectors: a 32 MiB ext4 whose 4 MiB journal sits at
 * block 1024 (byte 4 MiB), copied onto failfs whose disk fails I/O on every
 * journal block but the journal's superblock (so that it mounts).  The
 * first commit fails: fsync returns EIO (ERROR EIO); the journal is
 * aborted, the next write finds it so (ext4_error, errno EIO in the
 * superblock's error record) and errors=remount-ro makes the filesystem
 * read-only (on 6.6+ ext4 no longer sets SB_RDONLY: "emergency_ro").
 */
#define JOURNAL_BLK	1024
#define JOURNAL_BLKS	1024
#define DISK_MB		32

static int copy_skipping(const char *from, const char *to, off_t lo, off_t hi)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CLOEXEC);
	char buf[BLK];
	off_t off;
	int err = 0;

	for (off = 0; in >= 0 && out >= 0 && !err; off += BLK) {
		ssize_t r = pread(in, buf, BLK, off);

		if (r == 0)
			break;
		if (r != BLK || (!(off >= lo && off < hi) && pwrite(out, buf, BLK, off) != BLK))
			err = errno ? errno : EIO;
	}
	if (in < 0 || out < 0)
		err = errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return err;
}

static int failing_journal(struct ext4 *e)
{
	off_t lo = (off_t)(JOURNAL_BLK + 1) * BLK, hi = (off_t)(JOURNAL_BLK + JOURNAL_BLKS) * BLK;
	char bin[256], size[32], off[32], len[32];
	struct stat st;
	int i, r;

	/* A skip below still runs the teardown: nothing in it may be stale. */
	memset(e, 0, sizeof(*e));
	snprintf(bin, sizeof(bin), "%s/failfs", host_build_dir());
	if (access(bin, X_OK))
		return SKIP("failfs not built (%.200s)", bin);
	if (access("/dev/fuse", R_OK | W_OK))
		return SKIP("no /dev/fuse");
	if (system("command -v debugfs >/dev/null"))
		return SKIP("no debugfs (e2fsprogs)");
	r = ext4_prepare(e, NULL, "-J size=4,location=4M -O ^resize_inode", "32M");
	if (r != TEST_PASS)
		return r;
	/* where the journal is, and that it is one extent */
	if (sh("debugfs -R 'bmap <8> 0' %s 2>/dev/null | grep -qx %d && "
	       "debugfs -R 'bmap <8> %d' %s 2>/dev/null | grep -qx %d", e->img, JOURNAL_BLK,
	       JOURNAL_BLKS - 1, e->img, JOURNAL_BLK + JOURNAL_BLKS - 1))
		return TEST_FAIL;
	if (mkdir(e->ff, 0755))
		return TEST_FAIL;
	snprintf(size, sizeof(size), "%d", DISK_MB << 20);
	snprintf(off, sizeof(off), "%lld", (long long)lo);
	snprintf(len, sizeof(len), "%lld", (long long)(hi - lo));
	fflush(NULL);
	e->fuse = fork();
	if (e->fuse == 0) {
		execl(bin, bin, e->ff, size, off, len, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 250 && (stat(e->disk, &st) || st.st_size != DISK_MB << 20); i++)
		usleep(20000);
	if (i == 250) {
		TEST_LOG("failfs did not mount on %s", e->ff);
		return TEST_FAIL;
	}
	r = copy_skipping(e->img, e->disk, lo, hi);
	if (r) {
		TEST_LOG("copying the image: %s", strerror(r));
		return TEST_FAIL;
	}
	return TEST_PASS;
}

WATCHQ_TEST(sb_ext4_eio_remount_ro)
{
	struct host_rec got[8];
	char file[128];
	struct ext4 e;
	bool ok;
	int n = -1, fd = -1;

	SETUP(&e, failing_journal(&e), ext4_mount(&e, e.disk, "errors=remount-ro", 8));
	snprintf(file, sizeof(file), "%s/f", e.mnt);
	ok = ASSERT_TRUE((fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0, "create") &&
	     ASSERT_EQ(write(fd, "x", 1), 1, "write") &&
	     ASSERT_TRUE(fsync(fd) < 0 && errno == EIO, "fsync fails with EIO") &&
	     ASSERT_TRUE((n = host_drain(e.q, got, N(got))) >= 0, "drain") &&
	     host_expect("fsync's EIO", got, n, (struct host_rec[]){ SERR(e.dev, EIO, 8) }, 1) &&
	     ASSERT_TRUE(write(fd, "y", 1) < 0 && errno == EROFS,
			 "the next write finds the journal aborted") &&
	     ASSERT_TRUE((n = host_drain(e.q, got, N(got))) >= 0, "drain") &&
	     host_expect("ext4_error, then read-only", got, n, (struct host_rec[]){
			SERR(e.dev, EIO, 8),
			SREC(READONLY, e.dev, 8, WATCHQ_NOTIFY_SUPERBLOCK_IS_NOW_RO),
		 }, 2);
	if (fd >= 0)
		close(fd);
	return ext4_teardown(&e, ok) ? TEST_PASS : TEST_FAIL;
}
