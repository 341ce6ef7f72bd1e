// SPDX-License-Identifier: GPL-2.0
/*
 * failfs: a FUSE filesystem with one file, "disk", held in memory, whose
 * reads and writes fail with EIO when they touch a chosen byte range.  A
 * loop device over it is a block device with bad sectors, and needs no
 * kernel module: the host tests inject block-layer errors with it.
 *
 *   failfs MOUNTPOINT SIZE FAIL_OFFSET FAIL_LENGTH   (bytes; runs in the
 *   foreground until unmounted)
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *disk_path = "/disk";
static char *disk;
static off_t disk_size, fail_lo, fail_hi;

static bool fails(off_t off, size_t len)
{
	return off < fail_hi && off + (off_t)len > fail_lo;
}

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (!strcmp(path, disk_path)) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = disk_size;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, disk_path + 1, NULL, 0, 0);
	return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, disk_path))
		return -ENOENT;
	/* No page cache in front: every read and write reaches us. */
	fi->direct_io = 1;
	return 0;
}

static int ff_read(const char *path, char *buf, size_t len, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	if (off >= disk_size)
		return 0;
	if ((off_t)len > disk_size - off)
		len = disk_size - off;
	if (fails(off, len))
		return -EIO;
	memcpy(buf, disk + off, len);
	return (int)len;
}

static int ff_write(const char *path, const char *buf, size_t len, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	if (off >= disk_size)
		return -ENOSPC;
	if ((off_t)len > disk_size - off)
		len = disk_size - off;
	if (fails(off, len))
		return -EIO;
	memcpy(disk + off, buf, len);
	return (int)len;
}

static const struct fuse_operations ops = {
	.getattr = ff_getattr,
	.readdir = ff_readdir,
	.open = ff_open,
	.read = ff_read,
	.write = ff_write,
};

int main(int argc, char **argv)
{
	char *fargv[] = { argv[0], "-f", "-s", argv[1], NULL };

	if (argc != 5) {
		fprintf(stderr, "usage: failfs MOUNTPOINT SIZE FAIL_OFFSET FAIL_LENGTH\n");
		return 2;
	}
	disk_size = strtoll(argv[2], NULL, 0);
	fail_lo = strtoll(argv[3], NULL, 0);
	fail_hi = fail_lo + strtoll(argv[4], NULL, 0);
	disk = calloc(1, disk_size);
	if (!disk || disk_size <= 0)
		return 1;
	return fuse_main(4, fargv, &ops, NULL);
}
