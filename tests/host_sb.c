// SPDX-License-Identifier: GPL-2.0
/*
 * Superblock notifications end to end, in a private mount namespace over a
 * small tmpfs: READONLY on remounts, ERROR with ENOSPC when it fills up.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

WATCHQ_TEST(sb_remount_ro_rw_and_enospc)
{
	struct host_daemon hd = { 0 };
	struct host_rec got[8];
	struct watchq *q = NULL;
	char dir[64] = "/tmp/watchq-sb.XXXXXX", file[96], buf[4096];
	struct stat st;
	bool ok;
	int n = -1, fd = -1;
	ssize_t w = 0;

	HOST_REQUIRE();
	if ((n = host_private_mount_ns()))
		return SKIP("no private mount namespace: %s", strerror(-n));
	if (!mkdtemp(dir) || mount("wqsb", dir, "tmpfs", 0, "size=64k"))
		return TEST_FAIL;
	snprintf(file, sizeof(file), "%s/f", dir);
	memset(buf, 0x5a, sizeof(buf));
	ok = ASSERT_OK(stat(dir, &st), "stat") &&
	     ASSERT_TRUE(host_daemon_start(&hd, "-v", "--sources", "sb", NULL), "daemon") &&
	     ASSERT_TRUE(q = watchq_open(NULL, 4), "watchq_open") &&
	     ASSERT_OK(watchq_watch_sb(q, dir, 5), "watch the superblock") &&
	     ASSERT_OK(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL), "remount ro") &&
	     ASSERT_TRUE((n = host_drain(q, got, N(got))) >= 0, "drain") &&
	     host_expect("read-only", got, n, (struct host_rec[]){
			SREC(READONLY, st.st_dev, 5, WATCHQ_NOTIFY_SUPERBLOCK_IS_NOW_RO) }, 1) &&
	     ASSERT_OK(mount(NULL, dir, NULL, MS_REMOUNT, NULL), "remount rw") &&
	     ASSERT_TRUE((n = host_drain(q, got, N(got))) >= 0, "drain") &&
	     host_expect("read-write", got, n, (struct host_rec[]){
			SREC(READONLY, st.st_dev, 5, 0) }, 1) &&
	     ASSERT_TRUE((fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0, "create");
	while (ok && (w = write(fd, buf, sizeof(buf))) > 0)
		;
	ok = ok && ASSERT_TRUE(w < 0 && errno == ENOSPC, "filled up") &&
	     ASSERT_TRUE((n = host_drain(q, got, N(got))) >= 0, "drain") &&
	     host_expect("ENOSPC", got, n, (struct host_rec[]){
			SERR(st.st_dev, ENOSPC, 5) }, 1);
	if (fd >= 0)
		close(fd);
	if (!ok)
		host_daemon_log(&hd);
	if (q)
		watchq_close(q);
	if (hd.pid > 0)
		ok = host_daemon_stop(&hd) && ok;
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return ok ? TEST_PASS : TEST_FAIL;
}
