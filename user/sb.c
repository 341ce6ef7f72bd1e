// SPDX-License-Identifier: GPL-2.0
/*
 * The superblock source's user half: keeps the BPF map of watched
 * superblocks and, on a hint (a remount, an ext4 error), rereads each
 * watched superblock's flags with statmount() through a mount of it and
 * posts READONLY where SB_RDONLY changed.  A fanotify group per watch
 * (FAN_FS_ERROR) gives the filesystem's own error reports with their
 * errno; nothing waits in the event loop for an error's consequences (a
 * timer looks again).  See sb.h and bpf/sb.bpf.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "watchq_abi.h"
#include "../bpf/sb.h"
#include "bpfsrc.h"
#include "fan.h"
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
	char ext4[64];			/* /sys/fs/ext4/<this> and /proc/fs/ext4/<this>,
					 * if ext4 on a block device */
	long errors;			/* ext4's errors_count, as last seen */
	int fan;			/* fanotify FAN_FS_ERROR on it, or -1 */
	long err_until;			/* an ext4 error whose errno ext4 has not
					 * recorded yet: wait for it until then (us) */
	long ro_until;			/* an error may still make it read-only */
	struct swatch *next;
};

struct watchq_sb {
	struct sb_bpf *skel;
	struct watchq_sb_opts o;
	struct swatch *watches;
	int epfd;			/* the watches' fanotify fds and the timer */
	int tfd;			/* ticks while some watch waits (above) */
};

int watchq_sb_resolve(int fd, __u64 *sb_id)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*sb_id = st.st_dev;
	return 0;
}

/* The first line of @path, or "" (true if it could be read). */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok = f && fgets(buf, (int)len, f);

	if (f)
		fclose(f);
	if (!ok)
		buf[0] = 0;
	return ok;
}

static long ext4_long(const struct swatch *w, const char *attr)
{
	char path[160], buf[32];

	snprintf(path, sizeof(path), "/sys/fs/ext4/%s/%s", w->ext4, attr);
	return read_line(path, buf, sizeof(buf)) ? strtol(buf, NULL, 10) : -1;
}

/* Whether ext4's option list (one per line) holds @opt. */
static bool ext4_has_opt(const struct swatch *w, const char *opt)
{
	char path[160], line[128];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/fs/ext4/%s/options", w->ext4);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		found = !strcmp(line, opt);
	}
	fclose(f);
	return found;
}

/* ext4's name for the device (sb->s_id), if ext4 knows it. */
static void ext4_name(struct swatch *w)
{
	char path[64], link[256], sys[160];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(w->sb_id), minor(w->sb_id));
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = 0;
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	snprintf(sys, sizeof(sys), "/sys/fs/ext4/%.60s", base);
	if (!access(sys, F_OK))
		snprintf(w->ext4, sizeof(w->ext4), "%.60s", base);
}

/*
 * Read-only now: SB_RDONLY from statmount() of the watch's mount (statvfs,
 * which also says ro for a read-only mount, when that mount is gone); or,
 * for ext4, "emergency_ro": since 6.6 an error under errors=remount-ro (or
 * an aborted journal) no longer sets SB_RDONLY but stops all writes.
 */
static bool sb_ro(const struct swatch *w)
{
	__u32 flags, maj, min;
	struct statvfs sv;

	if (w->ext4[0] && ext4_has_opt(w, "emergency_ro"))
		return true;
	if (!watchq_mount_sb_info(w->mnt_id, w->ns_id, &flags, &maj, &min))
		return flags & WQ_SB_RDONLY;
	if (!fstatvfs(w->fd, &sv))
		return sv.f_flag & ST_RDONLY;
	return w->ro;
}

/* ext4's error codes (EXT4_ERR_*, as last_error_errcode says) as errnos. */
static __u32 ext4_errno(long code)
{
	static const __u32 map[] = {
		[2] = EIO, [3] = ENOMEM, [4] = EBADMSG /* EFSBADCRC */,
		[5] = EUCLEAN /* EFSCORRUPTED */, [6] = ENOSPC, [7] = ENOKEY,
		[8] = EROFS, [9] = EFBIG, [10] = EEXIST, [11] = ERANGE,
		[12] = EOVERFLOW, [13] = EBUSY, [14] = ENOTDIR, [15] = ENOTEMPTY,
		[16] = ESHUTDOWN, [17] = EFAULT,
	};

	if (code > 0 && code < (long)(sizeof(map) / sizeof(map[0])) && map[code])
		return map[code];
	return EUCLEAN;		/* EXT4_ERR_UNKNOWN, or none recorded */
}

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void post_error(struct watchq_sb *s, struct swatch *w, __u32 error)
{
	struct watchq_superblock_error_notification n = { 0 };

	if (!(s->o.subtypes & (1U << WATCHQ_NOTIFY_SUPERBLOCK_ERROR)))
		return;
	n.s.watch.type = WATCHQ_TYPE_SB_NOTIFY;
	n.s.watch.subtype = WATCHQ_NOTIFY_SUPERBLOCK_ERROR;
	n.s.watch.info = WATCHQ_INFO(3, 0, 0);
	n.s.sb_id = w->sb_id;
	n.error_number = error;
	s->o.post(s->o.ctx, &n.s.watch, w->sb_id);
}

/* READONLY if @w's read-only state changed since last seen. */
static bool check_ro(struct watchq_sb *s, struct swatch *w)
{
	struct watchq_superblock_notification n = { 0 };
	bool ro = sb_ro(w);

	if (ro == w->ro)
		return false;
	w->ro = ro;
	if (!(s->o.subtypes & (1U << WATCHQ_NOTIFY_SUPERBLOCK_READONLY)))
		return true;
	n.watch.type = WATCHQ_TYPE_SB_NOTIFY;
	n.watch.subtype = WATCHQ_NOTIFY_SUPERBLOCK_READONLY;
	n.watch.info = WATCHQ_INFO(2, 0, ro ? WATCHQ_NOTIFY_SUPERBLOCK_IS_NOW_RO : 0);
	n.sb_id = w->sb_id;
	s->o.post(s->o.ctx, &n.watch, w->sb_id);
	return true;
}

/*
 * How long an error's consequences take: ext4 records the errno and
 * applies errors=remount-ro within the call that hit the error, after
 * the tracepoint and the fanotify event; a superblock ext4 cannot write
 * keeps no count at all.  Never waited for in the event loop: each watch
 * is looked at again on the timer, and at every sync (by then the call
 * that hit the error, if it was the syncing client's, has returned).
 */
#define SETTLE_US	200000
#define TICK_NS		1000000		/* 1 ms */

static void arm(struct watchq_sb *s)
{
	struct itimerspec its = { 0 };

	for (struct swatch *w = s->watches; w; w = w->next)
		if (w->err_until || w->ro_until) {
			its.it_value.tv_nsec = TICK_NS;
			its.it_interval.tv_nsec = TICK_NS;
			break;
		}
	timerfd_settime(s->tfd, 0, &its, NULL);
}

/* Post what settled on @w: the errno ext4 recorded (or, past the deadline
 * with none, EUCLEAN), then a switch to read-only. */
static void settle(struct watchq_sb *s, struct swatch *w, long now)
{
	long count;

	if (w->err_until) {
		count = w->ext4[0] ? ext4_long(w, "errors_count") : -1;
		if (count >= 0 && count != w->errors) {
			post_error(s, w, ext4_errno(ext4_long(w, "last_error_errcode")));
			w->errors = count;
			w->err_until = 0;
		} else if (now >= w->err_until || count < 0) {
			post_error(s, w, EUCLEAN);
			w->err_until = 0;
		}
	}
	/* the count is saved before the switch to read-only */
	if (!w->err_until && w->ro_until && (check_ro(s, w) || now >= w->ro_until))
		w->ro_until = 0;
}

/*
 * ext4_error fired on @w's superblock: the tracepoint has no errno.  With
 * fanotify's FAN_FS_ERROR on it, that event carries the errno (read it
 * first: it may be queued already); else ext4's error record will.
 */
static void ext4_error(struct watchq_sb *s, struct swatch *w)
{
	long now = now_us();

	if (w->fan < 0)
		w->err_until = now + SETTLE_US;
	if (w->ext4[0] && ext4_has_opt(w, "errors=remount-ro"))
		w->ro_until = now + SETTLE_US;
	settle(s, w, now);
	arm(s);
}

struct fan_ctx {
	struct watchq_sb *s;
	struct swatch *w;
};

/* A FAN_FS_ERROR: the errno the filesystem reported (error_count says how
 * many it folded into the one event). */
static void fan_error(void *ctx, const struct fanotify_event_metadata *md,
		      const struct fanotify_event_info_header *info)
{
	const struct wq_fan_info_error *ie = (const void *)info;
	struct fan_ctx *c = ctx;

	if (!(md->mask & WQ_FAN_FS_ERROR) || info->info_type != WQ_FAN_EVENT_INFO_TYPE_ERROR ||
	    info->len < sizeof(*ie))
		return;
	if (c->s->o.verbose >= 2)
		fprintf(stderr, "watchq sb: %u:%u: fanotify: error %d (x%u)\n",
			major(c->w->sb_id), minor(c->w->sb_id), ie->error, ie->error_count);
	post_error(c->s, c->w, ie->error > 0 ? (__u32)ie->error : EUCLEAN);
	if (c->w->ext4[0])
		c->w->errors = ext4_long(c->w, "errors_count");
}

/* @w's fanotify group.  Its queue cannot overflow: the kernel keeps one
 * error event per mark and counts further errors into it. */
static void fan_read(struct watchq_sb *s, struct swatch *w)
{
	struct fan_ctx c = { s, w };

	if (w->fan >= 0)
		watchq_fan_drain(w->fan, fan_error, &c);
}

/* The filesystem's own error reports, where fanotify has them (5.16+) and
 * the filesystem sends them (ext4; others as they adopt it). */
static void fan_open(struct watchq_sb *s, struct swatch *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
	char path[64];

	w->fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK | FAN_CLOEXEC,
			       O_RDONLY);
	if (w->fan < 0)
		return;
	/* fanotify takes no O_PATH fd itself: its path, through /proc */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", w->fd);
	if (fanotify_mark(w->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, WQ_FAN_FS_ERROR,
			  AT_FDCWD, path) ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, w->fan, &ev)) {
		if (s->o.verbose)
			fprintf(stderr, "watchq sb: %u:%u: no FAN_FS_ERROR (%s): ext4's error record gives the errno\n",
				major(w->sb_id), minor(w->sb_id), strerror(errno));
		close(w->fan);
		w->fan = -1;
	}
}

static void swatch_free(struct watchq_sb *s, struct swatch *w)
{
	if (w->fan >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->fan, NULL);
		close(w->fan);
	}
	close(w->fd);
	free(w);
}

int watchq_sb_poll_fd(const struct watchq_sb *s)
{
	return s->epfd;
}

void watchq_sb_poll(struct watchq_sb *s)
{
	__u64 ticks;
	long now = now_us();

	if (read(s->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (struct swatch *w = s->watches; w; w = w->next) {
		fan_read(s, w);
		if (w->err_until || w->ro_until)
			settle(s, w, now);
	}
	arm(s);
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
	w->fan = -1;
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	/* no statmount of it: statvfs only */
	if (w->fd < 0 || watchq_mount_resolve(NULL, pid, fd, &w->mnt_id, &w->ns_id))
		w->mnt_id = w->ns_id = 0;
	if (w->fd < 0) {
		free(w);
		return -errno;
	}
	ext4_name(w);
	if (w->ext4[0])
		w->errors = ext4_long(w, "errors_count");
	w->ro = sb_ro(w);
	fan_open(s, w);
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.watched_sbs), &w->kdev, &one,
				BPF_ANY)) {
		err = -errno;
		swatch_free(s, w);
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
	swatch_free(s, w);
	arm(s);
	set_on(s);
}

bool watchq_sb_accept(struct watchq_sb *s, const void *data, size_t size)
{
	const struct watchq_sb_hint *h = data;

	if (size < sizeof(*h))
		return false;
	if ((h->type_subtype >> 24) != WATCHQ_SB_HINT)
		return true;
	if (h->info & WATCHQ_SB_HINT_EXT4_ERROR)
		for (struct swatch *w = s->watches; w; w = w->next)
			if (w->sb_id == h->sb_id) {
				fan_read(s, w);
				ext4_error(s, w);
			}
	/* a remount: each watch's state now (one waiting on an error says
	 * what it waits for first) */
	for (struct swatch *w = s->watches; w; w = w->next)
		if (!w->err_until)
			check_ro(s, w);
	return false;
}

int watchq_sb_open(struct watchq_sb **out, const struct watchq_sb_opts *o)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
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
	s->tfd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->tfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev)) {
		err = -errno;
		goto fail;
	}
	s->skel = sb_bpf__open();
	if (!s->skel) {
		err = -errno;
		goto fail;
	}
	s->skel->rodata->watchq_subtypes = s->o.subtypes;
	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *sec = bpf_program__section_name(prog) + strlen("tracepoint/");

		bpf_program__set_autoload(prog, watchq_tracepoint_exists(sec));
	}
	err = sb_bpf__load(s->skel);
	if (!err)
		err = sb_bpf__attach(s->skel);
	if (err) {
		fprintf(stderr, "watchq sb: tracepoint rung: %s\n", strerror(-err));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	watchq_sb_close(s);
	return err;
}

void watchq_sb_close(struct watchq_sb *s)
{
	if (!s)
		return;
	while (s->watches) {
		struct swatch *w = s->watches;

		s->watches = w->next;
		swatch_free(s, w);
	}
	sb_bpf__destroy(s->skel);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->epfd >= 0)
		close(s->epfd);
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
		"    ext4/ext4_error, ext4/ext4_shutdown; fanotify FAN_FS_ERROR per watch)\n",
		watchq_sb_rung(s));
	fprintf(f,
		"  sb_id = st_dev; root or the --group only\n"
		"  READONLY: after each successful mount(2)/fsconfig() and ext4 error the\n"
		"    watched superblocks' SB_RDONLY is reread (statmount), and ext4's\n"
		"    emergency_ro (errors=remount-ro, aborted journal: 6.6+ sets no\n"
		"    SB_RDONLY): one check per watched superblock per remount\n"
		"  ERROR: EIO/ENOSPC returned by write, pwrite64, writev, pwritev(2),\n"
		"    fallocate, ftruncate, fsync, fdatasync, sync_file_range, sendfile,\n"
		"    copy_file_range on a file of it; the filesystem's own error reports\n"
		"    with their errno (fanotify FAN_FS_ERROR, 5.16+: ext4's errors and\n"
		"    journal aborts, other filesystems as they send them); where fanotify\n"
		"    cannot mark it, ext4_error with the errno ext4 records\n"
		"    (last_error_errcode, looked for on a 1 ms timer for up to 200 ms;\n"
		"    EUCLEAN if none), and ext4_shutdown (EIO)\n"
		"  EDQUOT: the same syscalls returning EDQUOT\n"
		"  not seen: errors of path syscalls (open(O_CREAT), mkdir, rename...),\n"
		"    io_uring and mmap writeback unless the filesystem reports them;\n"
		"    NETWORK: no hook on this kernel (never posted)\n");
}
