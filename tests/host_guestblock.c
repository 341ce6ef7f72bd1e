// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-only scenarios (make test-qemu): block errors from the kernel's own
 * fault injectors, and key removals made by the key garbage collector.
 *
 *   null_blk badblocks (configfs)        -> BLK_STS_IOERR  -> BLOCK_ERROR_IO
 *   scsi_debug medium errors (opts=2)    -> BLK_STS_MEDIUM -> BLOCK_ERROR_CRITICAL_MEDIUM
 *   device-mapper "error" target (ioctl) -> bio-based, the bio fails at dm
 *   dm "linear" over the scsi_debug disk  -> the disk's request and the dm
 *                                           bio, both CRITICAL_MEDIUM
 *
 * The block tests skip on a machine without the modules (the host boots
 * with nomodule); tests/qemu/rungs.sh runs them in the 6.1 guest on the
 * fentry rung and on the forced tracepoint rung, which must give the same
 * records: one per failed request (bio, for dm), dev == stat().st_rdev of
 * the disk, sector == the first sector of what failed, none for good I/O.
 * No difference between the rungs is known for these scenarios.
 *
 * Known limits the expectations encode (same on both rungs):
 *  - null_blk fails a request that touches a bad block as a whole: a read
 *    straddling the bad range's start reports the request's first sector.
 *  - device-mapper splits a bio at a target boundary (bio_trim() of the
 *    original, resubmitted) and ends it once: its record carries the start
 *    of the last piece dm mapped.  A bio running from a good target into the
 *    error target reports the first failing sector; one running from the
 *    error target into a good one reports the good piece's start.  Both
 *    rungs see only the original bio (the error target kills its clone
 *    without ending it), so neither can do better (user/block.c says so).
 *  - scsi_debug injects medium errors on reads only; writes there succeed.
 *
 * The key tests need no module and run anywhere: the removal record of a
 * key the garbage collector destroys comes at its destruction (within 1 s),
 * not at some later poll.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/dm-ioctl.h>
#include <linux/keyctl.h>

#include "host.h"

#define BLK 4096
#define BLK_SECTORS (BLK / 512)

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static bool wait_path(const char *path, int ms)
{
	long deadline = host_now_ms() + ms;

	while (access(path, F_OK)) {
		if (host_now_ms() >= deadline)
			return false;
		usleep(10000);
	}
	return true;
}

/* The module loaded (by the guest's /init, else by modprobe) and @path
 * there.  Never loads anything where modprobe has no such module. */
static bool have_module(const char *mod, const char *opts, const char *path)
{
	char cmd[256], sys[64];

	snprintf(sys, sizeof(sys), "/sys/module/%s", mod);
	if (access(sys, F_OK)) {
		snprintf(cmd, sizeof(cmd), "modprobe -q %s %s >/dev/null 2>&1", mod,
			 opts ? opts : "");
		if (system(cmd))
			return false;
	}
	return wait_path(path, 2000);
}

/* One O_DIRECT block at @sector: 0, or -errno (-EIO for a short one). */
static int disk_io(int fd, bool write, __u64 sector)
{
	void *buf;
	ssize_t n;

	if (posix_memalign(&buf, BLK, BLK))
		return -ENOMEM;
	memset(buf, 0x5a, BLK);
	n = write ? pwrite(fd, buf, BLK, (off_t)sector * 512) :
		    pread(fd, buf, BLK, (off_t)sector * 512);
	n = n == BLK ? 0 : n < 0 ? -errno : -EIO;
	free(buf);
	return (int)n;
}

struct io_op {
	bool write;
	__u64 sector;
	int err;		/* 0, or the -errno the I/O must fail with */
	__u64 rec_sector;	/* the record's sector when it fails */
};

#define GOOD(w, s) { (w), (s), 0, 0 }
#define BAD(w, s, e) { (w), (s), (e), (s) }

/*
 * A devices watch (id @wid) on a fresh queue, @ops on @fd in order, then
 * exactly one @subtype record per failing op, in order, and nothing else;
 * with an @under device (dm over a disk, same sectors), first one for its
 * failed request, then the dm bio's.
 */
static bool run_ops(const char *what, int fd, dev_t dev, dev_t under,
		    const struct io_op *ops, int nops, __u32 subtype, unsigned int wid)
{
	struct host_daemon hd = { 0 };
	struct host_rec got[32], want[32];
	struct watchq *q = NULL;
	int i, n = 0, nwant = 0;
	long t0 = host_now_ms();
	bool ok;

	ok = host_daemon_start(&hd, "-v", NULL) &&
	     ASSERT_TRUE(q = watchq_open(NULL, 4), "watchq_open") &&
	     ASSERT_OK(watchq_watch_devices(q, wid), "watch devices");
	for (i = 0; ok && i < nops; i++) {
		int r = disk_io(fd, ops[i].write, ops[i].sector);

		if (r != ops[i].err)
			TEST_LOG("%s: %s at sector %llu", what,
				 ops[i].write ? "write" : "read",
				 (unsigned long long)ops[i].sector);
		ok = ASSERT_EQ(r, ops[i].err, "the I/O's result");
		if (ops[i].err && under && nwant < N(want))
			want[nwant++] = (struct host_rec){
				WATCHQ_TYPE_BLOCK_NOTIFY, subtype, wid, 0, 3,
				under, ops[i].rec_sector };
		if (ops[i].err && nwant < N(want))
			want[nwant++] = (struct host_rec){
				WATCHQ_TYPE_BLOCK_NOTIFY, subtype, wid, 0, 3,
				dev, ops[i].rec_sector };
	}
	ok = ok && ASSERT_OK(watchq_sync(q), "sync") &&
	     ASSERT_TRUE((n = host_read(q, got, N(got), 300)) >= 0, "read") &&
	     host_expect(what, got, n, want, nwant);
	if (!ok)
		host_daemon_log(&hd);
	else
		TEST_LOG("%s: %d I/Os, %d records, %ld ms", what, nops, n, host_now_ms() - t0);
	if (q)
		watchq_close(q);
	if (hd.pid > 0 || hd.pid == -1)
		ok = host_daemon_stop(&hd) && ok;
	return ok;
}

static int open_disk(const char *path, dev_t *dev)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);

	if (fd < 0) {
		TEST_LOG("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISBLK(st.st_mode)) {
		TEST_LOG("%s is not a block device", path);
		close(fd);
		return -1;
	}
	*dev = st.st_rdev;
	return fd;
}

/* ---- null_blk: badblocks -> BLK_STS_IOERR ------------------------------- */

#define NULLB_DIR	"/sys/kernel/config/nullb"
#define NULLB_NAME	"watchqbad"
#define NULLB_BAD	2048		/* 1 MiB in, 8 sectors */

static void nullb_remove(void)
{
	write_str(NULLB_DIR "/" NULLB_NAME "/power", "0");
	rmdir(NULLB_DIR "/" NULLB_NAME);
}

static int nullb_create(char *dev, size_t len)
{
	static const char *const attrs[][2] = {
		{ "size", "16" },		/* MiB */
		{ "blocksize", "512" },
		{ "queue_mode", "2" },		/* blk-mq */
		{ "memory_backed", "1" },
		{ "badblocks", "+2048-2055" },
		{ "power", "1" },
	};
	char path[128], idx[16];
	int i, err;

	nullb_remove();		/* a leftover of an interrupted run */
	if (mkdir(NULLB_DIR "/" NULLB_NAME, 0755)) {
		TEST_LOG("mkdir " NULLB_DIR "/" NULLB_NAME ": %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < N(attrs); i++) {
		snprintf(path, sizeof(path), NULLB_DIR "/" NULLB_NAME "/%s", attrs[i][0]);
		err = write_str(path, attrs[i][1]);
		if (err) {
			TEST_LOG("%s = %s: %s", path, attrs[i][1], strerror(-err));
			return -1;
		}
	}
	/* 6.1 names the disk after the folder; older kernels nullb<index> */
	snprintf(dev, len, "/dev/" NULLB_NAME);
	if (wait_path(dev, 2000))
		return 0;
	if (!read_str(NULLB_DIR "/" NULLB_NAME "/index", idx, sizeof(idx))) {
		snprintf(dev, len, "/dev/nullb%s", idx);
		if (wait_path(dev, 1000))
			return 0;
	}
	TEST_LOG("no device node for null_blk " NULLB_NAME);
	return -1;
}

WATCHQ_TEST_TIMEOUT(guest_block_null_blk_badblocks, 60)
{
	const struct io_op ops[] = {
		GOOD(false, 0),
		GOOD(true, NULLB_BAD - BLK_SECTORS),		/* just before */
		GOOD(false, NULLB_BAD + BLK_SECTORS),		/* just after */
		BAD(false, NULLB_BAD, -EIO),
		BAD(true, NULLB_BAD, -EIO),
		GOOD(false, NULLB_BAD - BLK_SECTORS),
		/* runs into the bad range: null_blk fails it whole */
		BAD(false, NULLB_BAD - 4, -EIO),
		GOOD(true, 8192),
	};
	char path[64];
	dev_t dev;
	int fd = -1;
	bool ok;

	HOST_REQUIRE();
	if (!have_module("null_blk", "nr_devices=0", NULLB_DIR))
		return SKIP("null_blk not available (QEMU guest only)");
	ok = ASSERT_OK(nullb_create(path, sizeof(path)), "null_blk device") &&
	     ASSERT_TRUE((fd = open_disk(path, &dev)) >= 0, "open") &&
	     run_ops("null_blk badblocks", fd, dev, 0, ops, N(ops),
		     WATCHQ_NOTIFY_BLOCK_ERROR_IO, 3);
	if (fd >= 0)
		close(fd);
	nullb_remove();
	return ok ? TEST_PASS : TEST_FAIL;
}

/* ---- scsi_debug: medium errors -> BLK_STS_MEDIUM ------------------------- */

#define SDEBUG_PARAMS	"/sys/module/scsi_debug/parameters"
#define SDEBUG_DRV	"/sys/bus/pseudo/drivers/scsi_debug"
#define SDEBUG_BAD	4096		/* 2 MiB in, 8 sectors */
#define SDEBUG_OPT_MEDIUM_ERR "2"

/* The scsi_debug disk's node, e.g. "/dev/sdb". */
static bool sdebug_disk(char *out, size_t len)
{
	char path[300], model[64];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir("/sys/block");

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (strncmp(de->d_name, "sd", 2))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/device/model", de->d_name);
		if (!read_str(path, model, sizeof(model)) && !strncmp(model, "scsi_debug", 10)) {
			snprintf(out, len, "/dev/%.32s", de->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

/* Medium errors on reads of SDEBUG_BAD..+7, whether /init loaded the
 * module (set at run time) or modprobe does it here (options). */
static int sdebug_setup(char *dev, size_t len)
{
	static const char *const params[][2] = {
		{ SDEBUG_PARAMS "/medium_error_start", "4096" },
		{ SDEBUG_PARAMS "/medium_error_count", "8" },
		{ SDEBUG_DRV "/opts", SDEBUG_OPT_MEDIUM_ERR },
	};
	long deadline = host_now_ms() + 10000;
	int i, err;

	for (i = 0; i < N(params); i++) {
		err = write_str(params[i][0], params[i][1]);
		if (err) {
			TEST_LOG("%s = %s: %s", params[i][0], params[i][1], strerror(-err));
			return -1;
		}
	}
	/* sd probes asynchronously */
	while (!sdebug_disk(dev, len) || access(dev, F_OK)) {
		if (host_now_ms() >= deadline) {
			TEST_LOG("no scsi_debug disk in /sys/block");
			return -1;
		}
		usleep(20000);
	}
	return 0;
}

WATCHQ_TEST_TIMEOUT(guest_block_scsi_debug_medium_error, 60)
{
	const struct io_op ops[] = {
		GOOD(false, 0),
		GOOD(false, SDEBUG_BAD - BLK_SECTORS),		/* just before */
		GOOD(false, SDEBUG_BAD + BLK_SECTORS),		/* just after */
		BAD(false, SDEBUG_BAD, -ENODATA),
		/* scsi_debug injects medium errors on reads only */
		GOOD(true, SDEBUG_BAD),
		BAD(false, SDEBUG_BAD, -ENODATA),
		GOOD(true, 0),
	};
	char path[64];
	dev_t dev;
	int fd = -1;
	bool ok;

	HOST_REQUIRE();
	if (!have_module("scsi_debug", "opts=" SDEBUG_OPT_MEDIUM_ERR
			 " medium_error_start=4096 medium_error_count=8", SDEBUG_DRV))
		return SKIP("scsi_debug not available (QEMU guest only)");
	ok = ASSERT_OK(sdebug_setup(path, sizeof(path)), "scsi_debug disk") &&
	     ASSERT_TRUE((fd = open_disk(path, &dev)) >= 0, "open") &&
	     run_ops("scsi_debug medium errors", fd, dev, 0, ops, N(ops),
		     WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_MEDIUM, 4);
	if (fd >= 0)
		close(fd);
	write_str(SDEBUG_DRV "/opts", "0");
	return ok ? TEST_PASS : TEST_FAIL;
}

/* ---- device-mapper error target: bio-based ------------------------------- */

#define DM_CONTROL	"/dev/mapper/control"
#define DM_NAME		"watchq-err"
#define DM_BAD		2048		/* sectors 2048..2055 fail */

struct dm_req {
	struct dm_ioctl io;
	char data[1024];
};

static void dm_init(struct dm_req *r, size_t data)
{
	memset(r, 0, sizeof(*r));
	/* 4.0.0: any 4.x kernel takes it (newer headers may say 4.48) */
	r->io.version[0] = DM_VERSION_MAJOR;
	r->io.data_size = (__u32)(sizeof(r->io) + data);
	r->io.data_start = sizeof(r->io);
	snprintf(r->io.name, sizeof(r->io.name), DM_NAME);
}

struct dm_tgt {
	__u64 start, len;
	const char *type, *params;
};

/* Appends one target to @r's table at @off; returns the new offset. */
static size_t dm_target(struct dm_req *r, size_t off, const struct dm_tgt *d)
{
	struct dm_target_spec *t = (void *)(r->data + off);
	size_t plen = strlen(d->params) + 1;
	size_t sz = (sizeof(*t) + plen + 7) & ~(size_t)7;

	t->sector_start = d->start;
	t->length = d->len;
	snprintf(t->target_type, sizeof(t->target_type), "%s", d->type);
	memcpy(t + 1, d->params, plen);
	t->next = (__u32)sz;
	r->io.target_count++;
	return off + sz;
}

static void dm_remove(int ctl)
{
	struct dm_req r;

	dm_init(&r, 0);
	ioctl(ctl, DM_DEV_REMOVE, &r);
}

/* DM_NAME with the table @t (@n targets), live; its node to @dev. */
static int dm_create(int ctl, const struct dm_tgt *t, int n, char *dev, size_t len)
{
	struct dm_req r;
	unsigned int maj, min;
	size_t off = 0;
	struct stat st;
	int i;

	dm_remove(ctl);		/* a leftover of an interrupted run */
	dm_init(&r, 0);
	if (ioctl(ctl, DM_DEV_CREATE, &r)) {
		TEST_LOG("DM_DEV_CREATE: %s", strerror(errno));
		return -1;
	}
	/* fresh: name and the dev DM_DEV_CREATE returned together are refused */
	dm_init(&r, 0);
	for (i = 0; i < n; i++)
		off = dm_target(&r, off, &t[i]);
	r.io.data_size = (__u32)(sizeof(r.io) + off);
	r.io.data_start = sizeof(r.io);
	if (ioctl(ctl, DM_TABLE_LOAD, &r)) {
		TEST_LOG("DM_TABLE_LOAD: %s", strerror(errno));
		return -1;
	}
	dm_init(&r, 0);		/* no DM_SUSPEND_FLAG: resume, table live */
	if (ioctl(ctl, DM_DEV_SUSPEND, &r)) {
		TEST_LOG("DM_DEV_SUSPEND (resume): %s", strerror(errno));
		return -1;
	}
	/* dev is huge_encode_dev(), which is glibc's makedev() for 32 bits */
	maj = major(r.io.dev);
	min = minor(r.io.dev);
	if (!r.io.dev) {
		TEST_LOG("DM_DEV_SUSPEND gave no dev");
		return -1;
	}
	snprintf(dev, len, "/dev/dm-%u", min);
	if (wait_path(dev, 2000) && !stat(dev, &st) && st.st_rdev == makedev(maj, min))
		return 0;
	/* no devtmpfs node: our own */
	snprintf(dev, len, "/tmp/watchq-dm-%u", min);
	unlink(dev);
	if (mknod(dev, S_IFBLK | 0600, makedev(maj, min))) {
		TEST_LOG("mknod %s: %s", dev, strerror(errno));
		return -1;
	}
	return 0;
}

WATCHQ_TEST_TIMEOUT(guest_block_dm_error_target, 60)
{
	const struct io_op ops[] = {
		GOOD(false, 0),
		GOOD(false, DM_BAD - BLK_SECTORS),		/* zero, just before */
		GOOD(true, DM_BAD + BLK_SECTORS),		/* zero, just after */
		BAD(false, DM_BAD, -EIO),
		BAD(true, DM_BAD, -EIO),
		/* zero then error: dm splits it at the boundary; the record
		 * has the sector of the piece it handled last, the error's */
		{ false, DM_BAD - 4, -EIO, DM_BAD },
		/* error then zero: the last piece is the good one, so the
		 * record says DM_BAD + 8, not the first failing sector (a
		 * known limit, both rungs: see the comment at the top) */
		{ false, DM_BAD + 4, -EIO, DM_BAD + 8 },
		GOOD(false, 4096),
	};
	/* zero | error (8 sectors at DM_BAD) | zero, 4 MiB */
	const struct dm_tgt table[] = {
		{ 0, DM_BAD, "zero", "" },
		{ DM_BAD, 8, "error", "" },
		{ DM_BAD + 8, 8192 - DM_BAD - 8, "zero", "" },
	};
	char path[64] = "";
	dev_t dev;
	int ctl, fd = -1;
	bool ok;

	HOST_REQUIRE();
	if (access(DM_CONTROL, F_OK))
		(void)have_module("dm_mod", NULL, DM_CONTROL);
	ctl = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return SKIP("device-mapper not available (QEMU guest only)");
	/* the good I/O around the error target goes to dm-zero */
	if (!have_module("dm_zero", NULL, "/sys/module/dm_zero")) {
		TEST_LOG("no dm-zero module (tests/qemu/run.sh loads it)");
		close(ctl);
		return TEST_FAIL;
	}
	ok = ASSERT_OK(dm_create(ctl, table, N(table), path, sizeof(path)), "dm device") &&
	     ASSERT_TRUE((fd = open_disk(path, &dev)) >= 0, "open") &&
	     run_ops("dm error target", fd, dev, 0, ops, N(ops),
		     WATCHQ_NOTIFY_BLOCK_ERROR_IO, 5);
	if (fd >= 0)
		close(fd);
	dm_remove(ctl);
	if (!strncmp(path, "/tmp/", 5))
		unlink(path);
	close(ctl);
	return ok ? TEST_PASS : TEST_FAIL;
}

/*
 * dm linear over the scsi_debug disk: the disk's failed request and the dm
 * bio it fails, both CRITICAL_MEDIUM.  The dm record's subtype comes from
 * the raw blk_status_t through the kernel's blk_errors[] on the fentry rung
 * (bio_endio) and from the errno on the tracepoint rung.
 */
WATCHQ_TEST_TIMEOUT(guest_block_dm_linear_over_medium_error, 60)
{
	const struct io_op ops[] = {
		GOOD(false, SDEBUG_BAD - BLK_SECTORS),
		BAD(false, SDEBUG_BAD, -ENODATA),
		GOOD(true, SDEBUG_BAD),
		GOOD(false, SDEBUG_BAD + BLK_SECTORS),
	};
	struct dm_tgt table[1] = { { 0, 8192, "linear", NULL } };
	char disk[64], params[64], path[64] = "";
	dev_t dev, under;
	int ctl = -1, fd = -1, sfd = -1;
	bool ok;

	HOST_REQUIRE();
	if (!have_module("scsi_debug", "opts=" SDEBUG_OPT_MEDIUM_ERR
			 " medium_error_start=4096 medium_error_count=8", SDEBUG_DRV))
		return SKIP("scsi_debug not available (QEMU guest only)");
	if (access(DM_CONTROL, F_OK))
		(void)have_module("dm_mod", NULL, DM_CONTROL);
	ctl = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return SKIP("device-mapper not available (QEMU guest only)");
	ok = ASSERT_OK(sdebug_setup(disk, sizeof(disk)), "scsi_debug disk") &&
	     ASSERT_TRUE((sfd = open_disk(disk, &under)) >= 0, "open the disk");
	if (ok) {
		snprintf(params, sizeof(params), "%u:%u 0", major(under), minor(under));
		table[0].params = params;
	}
	ok = ok && ASSERT_OK(dm_create(ctl, table, N(table), path, sizeof(path)), "dm device") &&
	     ASSERT_TRUE((fd = open_disk(path, &dev)) >= 0, "open") &&
	     run_ops("dm linear over medium errors", fd, dev, under, ops, N(ops),
		     WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_MEDIUM, 6);
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	dm_remove(ctl);
	if (!strncmp(path, "/tmp/", 5))
		unlink(path);
	close(ctl);
	write_str(SDEBUG_DRV "/opts", "0");
	return ok ? TEST_PASS : TEST_FAIL;
}

/* ---- the key garbage collector ------------------------------------------- */

/* Reads records until one comes or @ms pass; its arrival time to *@at. */
static bool next_rec(struct watchq *q, struct host_rec *r, int ms, long *at)
{
	int n = host_read(q, r, 1, ms);

	*at = host_now_ms();
	return ASSERT_EQ(n, 1, "a record within the time");
}

/*
 * The last link goes: the key's refcount reaches zero and the collector
 * destroys it at once (a work item, no delay): the removal must follow
 * within 1 s.
 */
WATCHQ_TEST_TIMEOUT(guest_keys_gc_removal_on_last_unlink, 30)
{
	struct host_fix f;
	struct host_rec r;
	__s32 ring = -1, key = -1;
	long t0 = 0, at = 0;
	bool ok;

	HOST_REQUIRE();
	ok = host_fix_setup(&f) &&
	     ASSERT_TRUE((ring = host_add_key("keyring", "gc-r", NULL,
					      KEY_SPEC_SESSION_KEYRING)) > 0, "ring") &&
	     ASSERT_TRUE((key = host_add_key("user", "gc-k", "x", ring)) > 0, "key") &&
	     ASSERT_OK(watchq_watch_key(f.q, key, 21), "watch") &&
	     ASSERT_OK(watchq_sync(f.q), "sync") &&
	     (t0 = host_now_ms()) &&
	     ASSERT_OK(host_keyctl(KEYCTL_UNLINK, (unsigned long)key, (unsigned long)ring, 0, 0),
		       "unlink the only link") &&
	     next_rec(f.q, &r, 5000, &at) &&
	     host_expect("removal", &r, 1, &REMOVAL_REC(key, 21), 1);
	if (ok)
		TEST_LOG("removal %ld ms after the unlink", at - t0);
	ok = ok && ASSERT_TRUE(at - t0 <= 1000, "removal within 1 s of the unlink") &&
	     ASSERT_EQ(watchq_unwatch_key(f.q, key, 0), -EBADSLT, "the watch is gone");
	host_fix_teardown(&f);
	return ok ? TEST_PASS : TEST_FAIL;
}

#define GC_DELAY "/proc/sys/kernel/keys/gc_delay"

/*
 * A key that expires is unlinked from its keyrings and destroyed by the
 * collector itself, on its timer (expiry + gc_delay, set to 0 here): the
 * removal must follow the expiry (1 s) by at most 1 s.
 */
WATCHQ_TEST_TIMEOUT(guest_keys_gc_removal_on_expiry, 30)
{
	struct host_fix f;
	struct host_rec r;
	char old[32] = "";
	__s32 key = -1;
	long t0 = 0, at = 0;
	bool ok;

	HOST_REQUIRE();
	if (read_str(GC_DELAY, old, sizeof(old)))
		return SKIP("no " GC_DELAY);
	ok = host_fix_setup(&f) &&
	     ASSERT_OK(write_str(GC_DELAY, "0"), "gc_delay = 0") &&
	     ASSERT_TRUE((key = host_add_key("user", "gc-expire", "x",
					     KEY_SPEC_SESSION_KEYRING)) > 0, "key") &&
	     ASSERT_OK(watchq_watch_key(f.q, key, 22), "watch") &&
	     ASSERT_OK(watchq_sync(f.q), "sync") &&
	     (t0 = host_now_ms()) &&
	     ASSERT_OK(host_keyctl(KEYCTL_SET_TIMEOUT, (unsigned long)key, 1, 0, 0),
		       "timeout 1 s") &&
	     next_rec(f.q, &r, 5000, &at) &&
	     host_expect("the timeout", &r, 1, &KEY_REC(SETATTR, key, 0, 22), 1) &&
	     next_rec(f.q, &r, 5000, &at) &&
	     host_expect("removal", &r, 1, &REMOVAL_REC(key, 22), 1);
	if (ok)
		TEST_LOG("removal %ld ms after setting a 1 s timeout", at - t0);
	ok = ok && ASSERT_TRUE(at - t0 <= 2000, "removal within 1 s of the expiry") &&
	     ASSERT_EQ(watchq_unwatch_key(f.q, key, 0), -EBADSLT, "the watch is gone");
	if (old[0])
		write_str(GC_DELAY, old);
	host_fix_teardown(&f);
	return ok ? TEST_PASS : TEST_FAIL;
}
