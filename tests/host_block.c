// SPDX-License-Identifier: GPL-2.0
/*
 * Block-layer errors end to end: a loop device over a file on failfs (a
 * FUSE filesystem whose file fails I/O in a range), O_DIRECT reads and
 * writes on it, and the records devices watches get.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

#define DISK_BYTES	(4 << 20)
#define FAIL_SECTOR	2048		/* 1 MiB */
#define FAIL_SECTORS	64		/* 32 KiB */
#define BLK		4096

struct bad_disk {
	char dir[64];
	char file[96];
	char loop[64];
	pid_t fuse;
	int fd;			/* the loop device, O_DIRECT */
	dev_t dev;
};

#define build_dir host_build_dir

static void bad_disk_free(struct bad_disk *b)
{
	char cmd[128];

	if (b->fd >= 0)
		close(b->fd);
	if (b->loop[0]) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", b->loop);
		if (system(cmd))
			TEST_LOG("%s failed", cmd);
	}
	if (b->fuse > 0) {
		umount2(b->dir, MNT_DETACH);
		kill(b->fuse, SIGTERM);
		waitpid(b->fuse, NULL, 0);
	}
	if (b->dir[0])
		rmdir(b->dir);
}

/* failfs mounted on a fresh directory, a loop device over its file. */
static int bad_disk_new(struct bad_disk *b)
{
	char bin[256], size[32], off[32], len[32], cmd[256];
	struct stat st;
	FILE *p;
	int i;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	snprintf(bin, sizeof(bin), "%s/failfs", build_dir());
	if (access(bin, X_OK))
		return SKIP("failfs not built (%.200s)", bin);
	if (access("/dev/fuse", R_OK | W_OK))
		return SKIP("no /dev/fuse");
	if (system("command -v losetup >/dev/null"))
		return SKIP("no losetup (util-linux)");
	snprintf(b->dir, sizeof(b->dir), "/tmp/watchq-failfs.XXXXXX");
	if (!mkdtemp(b->dir)) {
		b->dir[0] = 0;
		return TEST_FAIL;
	}
	snprintf(b->file, sizeof(b->file), "%s/disk", b->dir);
	snprintf(size, sizeof(size), "%d", DISK_BYTES);
	snprintf(off, sizeof(off), "%d", FAIL_SECTOR * 512);
	snprintf(len, sizeof(len), "%d", FAIL_SECTORS * 512);
	fflush(NULL);
	b->fuse = fork();
	if (b->fuse == 0) {
		execl(bin, bin, b->dir, size, off, len, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && (stat(b->file, &st) || st.st_size != DISK_BYTES); i++)
		usleep(20000);
	if (i == 200) {
		TEST_LOG("failfs did not mount on %s", b->dir);
		return TEST_FAIL;
	}
	snprintf(cmd, sizeof(cmd), "losetup --find --show --direct-io=off %s", b->file);
	p = popen(cmd, "r");
	if (!p || !fgets(b->loop, sizeof(b->loop), p)) {
		if (p)
			pclose(p);
		b->loop[0] = 0;
		TEST_LOG("%s failed", cmd);
		return TEST_FAIL;
	}
	pclose(p);
	b->loop[strcspn(b->loop, "\n")] = 0;
	b->fd = open(b->loop, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st)) {
		TEST_LOG("open %s: %s", b->loop, strerror(errno));
		return TEST_FAIL;
	}
	b->dev = st.st_rdev;
	return TEST_PASS;
}

/* One O_DIRECT block at @sector: true if it failed with EIO. */
static bool io_fails(struct bad_disk *b, bool write, __u64 sector)
{
	void *buf;
	ssize_t n;

	if (posix_memalign(&buf, BLK, BLK))
		return false;
	memset(buf, 0x5a, BLK);
	n = write ? pwrite(b->fd, buf, BLK, sector * 512) : pread(b->fd, buf, BLK, sector * 512);
	free(buf);
	if (n == BLK)
		return false;
	if (n >= 0 || errno != EIO)
		TEST_LOG("%s at %llu: %zd (%s)", write ? "write" : "read",
			 (unsigned long long)sector, n, n < 0 ? strerror(errno) : "short");
	return n < 0 && errno == EIO;
}

#define SETUP_DISK(b) do {						\
	int __r;							\
	HOST_REQUIRE();							\
	__r = bad_disk_new(b);						\
	if (__r != TEST_PASS) {						\
		bad_disk_free(b);					\
		return __r;						\
	}								\
} while (0)

WATCHQ_TEST(block_loop_read_write_errors)
{
	struct host_daemon hd = { 0 };
	struct host_rec got[16];
	struct watchq *q = NULL;
	struct bad_disk b;
	bool ok;
	int n;

	SETUP_DISK(&b);
	ok = host_daemon_start(&hd, "-v", NULL) &&
	     ASSERT_TRUE(q = watchq_open(NULL, 4), "watchq_open") &&
	     ASSERT_OK(watchq_watch_devices(q, 7), "watch devices") &&
	     /* outside the range: fine, and no record */
	     ASSERT_FALSE(io_fails(&b, false, 0), "read before the range") &&
	     ASSERT_FALSE(io_fails(&b, true, FAIL_SECTOR - 8), "write before the range") &&
	     ASSERT_FALSE(io_fails(&b, false, FAIL_SECTOR + FAIL_SECTORS), "read after the range") &&
	     ASSERT_TRUE(io_fails(&b, false, FAIL_SECTOR), "read in the range fails") &&
	     ASSERT_TRUE(io_fails(&b, true, FAIL_SECTOR + 16), "write in the range fails") &&
	     ASSERT_TRUE((n = host_drain(q, got, N(got))) >= 0, "drain") &&
	     host_expect("one IO record per failed request", got, n,
			 (struct host_rec[]){
				BLOCK_REC(IO, b.dev, FAIL_SECTOR, 7),
				BLOCK_REC(IO, b.dev, FAIL_SECTOR + 16, 7),
			 }, 2);
	if (!ok)
		host_daemon_log(&hd);
	if (q)
		watchq_close(q);
	if (hd.pid > 0)
		ok = host_daemon_stop(&hd) && ok;
	bad_disk_free(&b);
	return ok ? TEST_PASS : TEST_FAIL;
}

/* A filter passing block subtype @sub only. */
static int filter_block(struct watchq *q, unsigned int sub)
{
	struct {
		struct watchq_notification_filter f;
		struct watchq_notification_type_filter t;
	} f = { { .nr_filters = 1 }, { .type = WATCHQ_TYPE_BLOCK_NOTIFY } };

	f.t.subtype_filter[sub / 32] = 1u << (sub % 32);
	return watchq_set_filter(q, &f.f);
}

WATCHQ_TEST(block_two_watches_own_filters)
{
	struct host_daemon hd = { 0 };
	struct host_rec got1[8], got2[8];
	struct watchq *q1 = NULL, *q2 = NULL;
	struct watchq_stats st = { .sz = sizeof(st) };
	struct bad_disk b;
	int n1 = -1, n2 = -1;
	bool ok;

	SETUP_DISK(&b);
	ok = host_daemon_start(&hd, "-v", NULL) &&
	     ASSERT_TRUE(q1 = watchq_open(NULL, 1), "open q1") &&
	     ASSERT_TRUE(q2 = watchq_open(NULL, 1), "open q2") &&
	     ASSERT_OK(filter_block(q1, WATCHQ_NOTIFY_BLOCK_ERROR_IO), "q1 filter io") &&
	     ASSERT_OK(filter_block(q2, WATCHQ_NOTIFY_BLOCK_ERROR_TIMEOUT), "q2 filter timeout") &&
	     ASSERT_OK(watchq_watch_devices(q1, 1), "q1 watch") &&
	     ASSERT_OK(watchq_watch_devices(q2, 2), "q2 watch") &&
	     ASSERT_EQ(watchq_watch_devices(q2, 3), -EBUSY, "one devices watch per queue") &&
	     ASSERT_TRUE(io_fails(&b, false, FAIL_SECTOR + 8), "read fails") &&
	     ASSERT_TRUE((n1 = host_drain(q1, got1, N(got1))) >= 0, "drain q1") &&
	     ASSERT_TRUE((n2 = host_drain(q2, got2, N(got2))) >= 0, "drain q2") &&
	     host_expect("q1 (io, id 1)", got1, n1,
			 (struct host_rec[]){ BLOCK_REC(IO, b.dev, FAIL_SECTOR + 8, 1) }, 1) &&
	     host_expect("q2 (timeout only)", got2, n2, NULL, 0) &&
	     ASSERT_OK(watchq_stats(q2, &st), "q2 stats") &&
	     ASSERT_EQ(st.filtered, 1, "q2 filtered the record") &&
	     /* the watch's end: no more records (q1's filter drops its
	      * removal record too: it passes block records only) */
	     ASSERT_OK(watchq_unwatch_devices(q1, 1), "q1 unwatch") &&
	     ASSERT_TRUE(io_fails(&b, false, FAIL_SECTOR), "read fails again") &&
	     ASSERT_TRUE((n1 = host_drain(q1, got1, N(got1))) >= 0, "drain q1 again") &&
	     host_expect("q1 after unwatch", got1, n1, NULL, 0) &&
	     ASSERT_TRUE((n2 = host_drain(q2, got2, N(got2))) >= 0, "drain q2 again") &&
	     ASSERT_OK(watchq_stats(q2, &st), "q2 stats again") &&
	     ASSERT_EQ(st.filtered, 2, "q2 still watches");
	if (!ok)
		host_daemon_log(&hd);
	if (q1)
		watchq_close(q1);
	if (q2)
		watchq_close(q2);
	if (hd.pid > 0)
		ok = host_daemon_stop(&hd) && ok;
	bad_disk_free(&b);
	return ok ? TEST_PASS : TEST_FAIL;
}

/* Block records the daemon took from BPF (its -vv log names each). */
static int bpf_block_records(const struct host_daemon *hd)
{
	char path[160], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", hd->dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, "watchqd: bpf: type 2 ");
	fclose(f);
	return n;
}

WATCHQ_TEST_TIMEOUT(block_no_watch_no_traffic, 60)
{
	struct host_daemon hd = { 0 };
	struct host_rec got[8];
	struct watchq *q = NULL;
	struct bad_disk b;
	bool ok, io = true;
	int i, n = -1;

	SETUP_DISK(&b);
	ok = host_daemon_start(&hd, "-vv", NULL) &&
	     ASSERT_TRUE(q = watchq_open(NULL, 1), "watchq_open");
	/* heavy I/O, failing and not, with no devices watch anywhere */
	for (i = 0; ok && io && i < 2000; i++)
		io = io_fails(&b, i % 2, i % 10 ? (__u64)(i % 256) * 8 : FAIL_SECTOR) ==
		     !(i % 10);
	ok = ok && ASSERT_TRUE(io, "I/O failed where it should, only there") &&
	     ASSERT_OK(watchq_sync(q), "sync") &&
	     ASSERT_EQ(bpf_block_records(&hd), 0, "records from BPF without a watch") &&
	     /* the control: with a watch the same error is a record */
	     ASSERT_OK(watchq_watch_devices(q, 0), "watch") &&
	     ASSERT_TRUE(io_fails(&b, false, FAIL_SECTOR), "read fails") &&
	     ASSERT_TRUE((n = host_drain(q, got, N(got))) >= 0, "drain") &&
	     host_expect("with a watch", got, n,
			 (struct host_rec[]){ BLOCK_REC(IO, b.dev, FAIL_SECTOR, 0) }, 1) &&
	     ASSERT_EQ(bpf_block_records(&hd), 1, "records from BPF with a watch");
	if (!ok)
		host_daemon_log(&hd);
	if (q)
		watchq_close(q);
	if (hd.pid > 0)
		ok = host_daemon_stop(&hd) && ok;
	bad_disk_free(&b);
	return ok ? TEST_PASS : TEST_FAIL;
}
