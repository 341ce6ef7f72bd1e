// SPDX-License-Identifier: GPL-2.0
/*
 * The superblock source's user half: keeps the BPF map of watched
 * superblocks and, on a hint (a remount, an ext4 error), rereads each
 * watched superblock's flags with statmount() through a mount of it and
 * posts READONLY where SB_RDONLY changed.  See sb.h and bpf/sb.bpf.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "watchq_abi.h"
#include "../bpf/sb.h"
#include "bpfsrc.h"
#include "mount.h"
#include "sb.h"
#include "sb.skel.h"

#define WQ_SB_RDONLY		0x1U

struct swatch {
	__u64 sb_id;
	__u32 kdev;			/* the kernel's encoding, the map's key */
	unsigned int refs;
	int fd;				/* an O_PATH fd on it: how to find it again */
	__u64 mnt_id, ns_id;		/* the mount that fd is on, and where */
	bool ro;			/* as last seen */
	struct swatch *next;
};

struct watchq_sb {
	struct sb_bpf *skel;
	struct watchq_sb_opts o;
	struct swatch *watches;
};

int watchq_sb_resolve(int fd, __u64 *sb_id)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*sb_id = st.st_dev;
	return 0;
}

/* SB_RDONLY now, from statmount() of the watch's mount; statvfs (which
 * also says ro for a read-only mount) when that mount is gone. */
static bool sb_ro(const struct swatch *w)
{
	__u32 flags, maj, min;
	struct statvfs sv;

	if (!watchq_mount_sb_info(w->mnt_id, w->ns_id, &flags, &maj, &min))
		return flags & WQ_SB_RDONLY;
	if (!fstatvfs(w->fd, &sv))
		return sv.f_flag & ST_RDONLY;
	return w->ro;
}

static void set_on(struct watchq_sb *s)
{
	__atomic_store_n(&s->skel->bss->watchq_sb_on, s->watches != NULL, __ATOMIC_RELEASE);
}

int watchq_sb_watch(struct watchq_sb *s, pid_t pid, int fd, __u64 sb_id)
{
	struct swatch *w;
	__u8 one = 1;
	int err;

	for (w = s->watches; w; w = w->next)
		if (w->sb_id == sb_id) {
			w->refs++;
			return 0;
		}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->sb_id = sb_id;
	w->kdev = major(sb_id) << 20 | minor(sb_id);
	w->refs = 1;
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	/* no statmount of it: statvfs only */
	if (w->fd < 0 || watchq_mount_resolve(NULL, pid, fd, &w->mnt_id, &w->ns_id))
		w->mnt_id = w->ns_id = 0;
	if (w->fd < 0) {
		free(w);
		return -errno;
	}
	w->ro = sb_ro(w);
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.watched_sbs), &w->kdev, &one,
				BPF_ANY)) {
		err = -errno;
		close(w->fd);
		free(w);
		return err;
	}
	w->next = s->watches;
	s->watches = w;
	set_on(s);
	return 0;
}

void watchq_sb_unwatch(struct watchq_sb *s, __u64 sb_id)
{
	struct swatch **p, *w;

	for (p = &s->watches; *p && (*p)->sb_id != sb_id; p = &(*p)->next)
		;
	w = *p;
	if (!w || --w->refs)
		return;
	*p = w->next;
	bpf_map_delete_elem(bpf_map__fd(s->skel->maps.watched_sbs), &w->kdev);
	close(w->fd);
	free(w);
	set_on(s);
}

bool watchq_sb_accept(struct watchq_sb *s, const void *data, size_t size)
{
	const struct watchq_sb_hint *h = data;

	if (size < sizeof(*h))
		return false;
	if ((h->type_subtype >> 24) != WATCHQ_SB_HINT)
		return true;
	for (struct swatch *w = s->watches; w; w = w->next) {
		struct watchq_superblock_notification n = { 0 };
		bool ro = sb_ro(w);

		if (ro == w->ro)
			continue;
		w->ro = ro;
		if (!(s->o.subtypes & (1U << WATCHQ_NOTIFY_SUPERBLOCK_READONLY)))
			continue;
		n.watch.type = WATCHQ_TYPE_SB_NOTIFY;
		n.watch.subtype = WATCHQ_NOTIFY_SUPERBLOCK_READONLY;
		n.watch.info = WATCHQ_INFO(2, 0, ro ? WATCHQ_NOTIFY_SUPERBLOCK_IS_NOW_RO : 0);
		n.sb_id = w->sb_id;
		s->o.post(s->o.ctx, &n.watch, w->sb_id);
	}
	return false;
}

static bool tracepoint_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", name);
	return !access(path, F_OK);
}

int watchq_sb_open(struct watchq_sb **out, const struct watchq_sb_opts *o)
{
	struct bpf_program *prog;
	struct watchq_sb *s;
	int err;

	*out = NULL;
	if (!o || !o->post)
		return -EINVAL;
	err = watchq_mount_bpf_fs("sb");
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	if (!s->o.subtypes)
		s->o.subtypes = ~0U;
	s->skel = sb_bpf__open();
	if (!s->skel) {
		err = -errno;
		free(s);
		return err;
	}
	s->skel->rodata->watchq_subtypes = s->o.subtypes;
	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *sec = bpf_program__section_name(prog) + strlen("tracepoint/");

		bpf_program__set_autoload(prog, tracepoint_exists(sec));
	}
	err = sb_bpf__load(s->skel);
	if (!err)
		err = sb_bpf__attach(s->skel);
	if (err) {
		fprintf(stderr, "watchq sb: tracepoint rung: %s\n", strerror(-err));
		sb_bpf__destroy(s->skel);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

void watchq_sb_close(struct watchq_sb *s)
{
	if (!s)
		return;
	while (s->watches) {
		struct swatch *w = s->watches;

		s->watches = w->next;
		close(w->fd);
		free(w);
	}
	sb_bpf__destroy(s->skel);
	free(s);
}

int watchq_sb_ringbuf_fd(const struct watchq_sb *s)
{
	return bpf_map__fd(s->skel->maps.watchq_rb);
}

__u64 watchq_sb_dropped(const struct watchq_sb *s)
{
	return watchq_percpu_sum(s->skel->maps.watchq_dropped);
}

const char *watchq_sb_rung(const struct watchq_sb *s)
{
	(void)s;
	return "tracepoint";
}

void watchq_sb_describe(const struct watchq_sb *s, FILE *f)
{
	(void)s;
	fprintf(f, "sb: %s rung (syscalls/sys_exit_* of write-like calls, mount, fsconfig;\n"
		"    ext4/ext4_error, ext4/ext4_shutdown)\n", watchq_sb_rung(s));
	fprintf(f,
		"  sb_id = st_dev; root or the --group only\n"
		"  READONLY: after each successful mount(2)/fsconfig() and ext4 error the\n"
		"    watched superblocks' SB_RDONLY is reread (statmount): one check per\n"
		"    watched superblock per remount\n"
		"  ERROR: EIO/ENOSPC returned by write, pwrite64, writev, pwritev(2),\n"
		"    fallocate, ftruncate, fsync, fdatasync, sync_file_range, sendfile,\n"
		"    copy_file_range on a file of it; ext4_error (errno EUCLEAN: the\n"
		"    tracepoint carries none), ext4_shutdown (EIO)\n"
		"  EDQUOT: the same syscalls returning EDQUOT\n"
		"  not seen: errors of path syscalls (open(O_CREAT), mkdir, rename...),\n"
		"    io_uring and mmap writeback, other filesystems' error reports;\n"
		"    NETWORK: no hook on this kernel (never posted)\n");
}
