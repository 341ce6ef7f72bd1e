// SPDX-License-Identifier: GPL-2.0
/*
 * The mount source's user half.  No hook on this kernel says what changed
 * in a mount tree, only that a mount syscall succeeded (bpf/mount.bpf.c) or
 * that a namespace's table changed (poll() on its mountinfo, which also
 * sees automounts, expiry and propagation from syscalls in other
 * namespaces).  On either, every watched namespace's tree is read again
 * with listmount()/statmount() and compared with the last view: what
 * appeared, went, moved or changed attributes becomes the ABI's records.
 * See mount.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "watchq_abi.h"
#include "../bpf/mount.h"
#include "bpfsrc.h"
#include "mount.h"
#include "mount.skel.h"

/* uapi of 6.8+ (listmount/statmount) and 6.11+ (foreign namespaces),
 * absent from Debian 12's headers. */
#ifndef __NR_statmount
#define __NR_statmount		457
#define __NR_listmount		458
#endif
#define WQ_STATX_MNT_ID_UNIQUE	0x4000U
#define WQ_NS_GET_MNTNS_ID	_IOR(0xb7, 0x5, __u64)
#define WQ_LSMT_ROOT		0xffffffffffffffffULL
#define WQ_STATMOUNT_SB_BASIC	0x01U
#define WQ_STATMOUNT_MNT_BASIC	0x02U
#define WQ_STATMOUNT_MNT_POINT	0x10U
#define WQ_MNT_ID_REQ_SIZE_VER0	24
#define WQ_MNT_ID_REQ_SIZE_VER1	32
#define WQ_MOUNT_ATTR_RDONLY	0x1ULL
#define WQ_SB_RDONLY		0x1U

struct wq_mnt_id_req {
	__u32 size;
	__u32 mnt_ns_fd;
	__u64 mnt_id;
	__u64 param;
	__u64 mnt_ns_id;
};

/* struct statmount's fixed part (512 bytes); strings follow it. */
struct wq_statmount {
	__u32 size;
	__u32 mnt_opts;
	__u64 mask;
	__u32 sb_dev_major;
	__u32 sb_dev_minor;
	__u64 sb_magic;
	__u32 sb_flags;
	__u32 fs_type;
	__u64 mnt_id;
	__u64 mnt_parent_id;
	__u32 mnt_id_old;
	__u32 mnt_parent_id_old;
	__u64 mnt_attr;
	__u64 mnt_propagation;
	__u64 mnt_peer_group;
	__u64 mnt_master;
	__u64 propagate_from;
	__u32 mnt_root;
	__u32 mnt_point;
	__u64 mnt_ns_id;
	__u64 rest[49];
	char str[];
};
_Static_assert(sizeof(struct wq_statmount) == 512, "struct statmount is 512 bytes");

#define SM_BUF_BYTES	(512 + 8192)
#define MAX_DEPTH	64

/* One mount as the last read of its namespace saw it. */
struct ent {
	__u64 id, parent;
	__u64 attr, prop, peer, master;
	__u32 sb_flags;
	char *point;
};

/* A watched mount namespace and its tree, sorted by id. */
struct view {
	__u64 ns_id;
	int infofd;			/* its mountinfo, polled for changes */
	unsigned int watches;
	struct ent *e;
	size_t n;
	struct view *next;
};

struct mwatch {
	__u64 mnt_id;
	struct view *v;
	unsigned int refs;
	struct mwatch *next;
};

struct watchq_mount {
	struct mount_bpf *skel;
	struct watchq_mount_opts o;
	int epfd;
	struct view *views;
	struct mwatch *watches;
	char *buf;			/* statmount's answer */
	__u64 rescans;
};

static const char *const hint_syscalls[] = {
	"mount", "umount", "move_mount", "fsconfig", "mount_setattr", "pivot_root",
};

static long sys_statmount(__u64 mnt_id, __u64 ns_id, __u64 mask, void *buf, size_t len)
{
	struct wq_mnt_id_req req = {
		.size = ns_id ? WQ_MNT_ID_REQ_SIZE_VER1 : WQ_MNT_ID_REQ_SIZE_VER0,
		.mnt_id = mnt_id,
		.param = mask,
		.mnt_ns_id = ns_id,
	};

	return syscall(__NR_statmount, &req, buf, len, 0);
}

static long sys_listmount(__u64 ns_id, __u64 last, __u64 *ids, size_t n)
{
	struct wq_mnt_id_req req = {
		.size = WQ_MNT_ID_REQ_SIZE_VER1,
		.mnt_id = WQ_LSMT_ROOT,
		.param = last,
		.mnt_ns_id = ns_id,
	};

	return syscall(__NR_listmount, &req, ids, n, 0);
}

int watchq_mount_sb_info(__u64 mnt_id, __u64 ns_id, __u32 *sb_flags,
			 __u32 *major, __u32 *minor)
{
	struct wq_statmount sm;

	if (sys_statmount(mnt_id, ns_id, WQ_STATMOUNT_SB_BASIC, &sm, sizeof(sm)))
		return -errno;
	*sb_flags = sm.sb_flags;
	*major = sm.sb_dev_major;
	*minor = sm.sb_dev_minor;
	return 0;
}

static int ns_id_of_pid(pid_t pid, __u64 *ns_id)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, WQ_NS_GET_MNTNS_ID, ns_id))
		err = -errno;
	close(fd);
	return err;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct ent *find(const struct ent *e, size_t n, __u64 id)
{
	struct ent key = { .id = id };

	return n ? bsearch(&key, e, n, sizeof(*e), cmp_ent) : NULL;
}

static void free_ents(struct ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].point);
	free(e);
}

/* The namespace's whole tree now: listmount, then statmount each. */
static int read_tree(struct watchq_mount *m, __u64 ns_id, struct ent **out, size_t *nout)
{
	struct wq_statmount *sm = (void *)m->buf;
	__u64 ids[256], last = 0;
	struct ent *e = NULL;
	size_t n = 0, cap = 0;
	long got;

	do {
		got = sys_listmount(ns_id, last, ids, 256);
		if (got < 0)
			goto fail;
		for (long i = 0; i < got; i++) {
			struct ent *x;

			last = ids[i];
			if (sys_statmount(ids[i], ns_id, WQ_STATMOUNT_SB_BASIC |
					  WQ_STATMOUNT_MNT_BASIC | WQ_STATMOUNT_MNT_POINT,
					  sm, SM_BUF_BYTES)) {
				if (errno == ENOENT)	/* gone meanwhile */
					continue;
				goto fail;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				x = realloc(e, cap * sizeof(*e));
				if (!x)
					goto fail;
				e = x;
			}
			x = &e[n++];
			memset(x, 0, sizeof(*x));
			x->id = sm->mnt_id;
			x->parent = sm->mnt_parent_id;
			x->attr = sm->mnt_attr;
			x->prop = sm->mnt_propagation;
			x->peer = sm->mnt_peer_group;
			x->master = sm->mnt_master;
			x->sb_flags = sm->sb_flags;
			x->point = strdup((sm->mask & WQ_STATMOUNT_MNT_POINT) ?
					  sm->str + sm->mnt_point : "");
			if (!x->point)
				goto fail;
		}
	} while (got == 256);
	qsort(e, n, sizeof(*e), cmp_ent);
	*out = e;
	*nout = n;
	return 0;
fail:
	got = errno ? -errno : -ENOMEM;
	free_ents(e, n);
	return (int)got;
}

/* @id and its ancestors in @e, innermost first. */
static unsigned int chain_of(const struct ent *e, size_t n, __u64 id, __u64 *chain)
{
	unsigned int len = 0;
	const struct ent *x;

	chain[len++] = id;
	while (len < MAX_DEPTH && (x = find(e, n, chain[len - 1])) &&
	       x->parent != x->id && find(e, n, x->parent))
		chain[len++] = x->parent;
	return len;
}

static void post(struct watchq_mount *m, const struct ent *tree, size_t n,
		 __u32 subtype, __u64 on, __u64 aux, __u32 flags)
{
	struct watchq_mount_notification r = { 0 };
	__u64 chain[MAX_DEPTH];

	if (subtype >= 32 || !(m->o.subtypes & (1U << subtype)))
		return;
	r.watch.type = WATCHQ_TYPE_MOUNT_NOTIFY;
	r.watch.subtype = subtype;
	r.watch.info = WATCHQ_INFO(3, 0, flags);
	r.triggered_on = on;
	r.auxiliary_mount = aux;
	m->o.post(m->o.ctx, &r, chain, chain_of(tree, n, on, chain));
}

struct change {
	const struct ent *x;
	unsigned int depth;
};

static int by_depth(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->x->id < y->x->id ? -1 : x->x->id > y->x->id;
}

static bool is_ro(const struct ent *x)
{
	return (x->attr & WQ_MOUNT_ATTR_RDONLY) || (x->sb_flags & WQ_SB_RDONLY);
}

/*
 * Post what turned @o into @nw.  Unmounts first, deepest first (children
 * before the mount they were on, with ancestry from the old tree); then
 * moves; then new mounts, outermost first; then attribute changes.  Ids of
 * watched mounts that went are added to @gone.
 */
static void diff(struct watchq_mount *m, const struct ent *o, size_t no,
		 const struct ent *nw, size_t nn, __u64 **gone, size_t *ngone)
{
	struct change *ch = calloc(no + nn + 1, sizeof(*ch));
	__u64 chain[MAX_DEPTH];
	size_t nc = 0, i;

	if (!ch)
		return;
	for (i = 0; i < no; i++)
		if (!find(nw, nn, o[i].id)) {
			ch[nc].x = &o[i];
			ch[nc++].depth = MAX_DEPTH - chain_of(o, no, o[i].id, chain);
		}
	qsort(ch, nc, sizeof(*ch), by_depth);
	for (i = 0; i < nc; i++) {
		const struct ent *x = ch[i].x;
		struct mwatch *w;
		__u64 *g;

		post(m, o, no, WATCHQ_NOTIFY_MOUNT_UNMOUNT, x->parent, x->id, 0);
		for (w = m->watches; w && w->mnt_id != x->id; w = w->next)
			;
		if (w && (g = realloc(*gone, (*ngone + 1) * sizeof(**gone)))) {
			*gone = g;
			g[(*ngone)++] = x->id;
		}
	}

	for (i = 0; i < nn; i++) {
		const struct ent *x = &nw[i], *was = find(o, no, x->id);

		if (was && (was->parent != x->parent || strcmp(was->point, x->point))) {
			post(m, o, no, WATCHQ_NOTIFY_MOUNT_MOVE_FROM, was->parent, x->id, 0);
			post(m, nw, nn, WATCHQ_NOTIFY_MOUNT_MOVE_TO, x->parent, x->id, 0);
		}
	}

	nc = 0;
	for (i = 0; i < nn; i++)
		if (!find(o, no, nw[i].id)) {
			ch[nc].x = &nw[i];
			ch[nc++].depth = chain_of(nw, nn, nw[i].id, chain);
		}
	qsort(ch, nc, sizeof(*ch), by_depth);
	for (i = 0; i < nc; i++)
		post(m, nw, nn, WATCHQ_NOTIFY_MOUNT_NEW_MOUNT, ch[i].x->parent, ch[i].x->id,
		     is_ro(ch[i].x) ? WATCHQ_NOTIFY_MOUNT_IS_NOW_RO : 0);

	for (i = 0; i < nn; i++) {
		const struct ent *x = &nw[i], *was = find(o, no, x->id);
		__u32 ro = is_ro(x) ? WATCHQ_NOTIFY_MOUNT_IS_NOW_RO : 0;

		if (!was)
			continue;
		/* read-only by its own flag or by its superblock's (a
		 * remount or fsconfig reconfigure of the filesystem) */
		if (is_ro(was) != is_ro(x))
			post(m, nw, nn, WATCHQ_NOTIFY_MOUNT_READONLY, x->id, 0, ro);
		if (((was->attr ^ x->attr) & ~WQ_MOUNT_ATTR_RDONLY) ||
		    was->prop != x->prop || was->peer != x->peer || was->master != x->master)
			post(m, nw, nn, WATCHQ_NOTIFY_MOUNT_SETATTR, x->id, 0, ro);
	}
	free(ch);
}

/* Read every watched tree again and post the differences; then end the
 * watches on mounts that went (which may free views: nothing after). */
static void rescan_all(struct watchq_mount *m)
{
	__u64 *gone = NULL;
	size_t ngone = 0;

	m->rescans++;
	for (struct view *v = m->views; v; v = v->next) {
		struct ent *e;
		size_t n;
		int err = read_tree(m, v->ns_id, &e, &n);

		if (err) {
			if (m->o.verbose)
				fprintf(stderr, "watchq mount: namespace %llu: %s\n",
					(unsigned long long)v->ns_id, strerror(-err));
			continue;
		}
		diff(m, v->e, v->n, e, n, &gone, &ngone);
		free_ents(v->e, v->n);
		v->e = e;
		v->n = n;
	}
	for (size_t i = 0; i < ngone; i++)
		m->o.gone(m->o.ctx, gone[i]);
	free(gone);
}

void watchq_mount_on_hint(struct watchq_mount *m, const void *data, size_t size)
{
	const struct watchq_mount_hint *h = data;

	if (size < sizeof(*h) || (h->type_subtype >> 24) != WATCHQ_MOUNT_HINT)
		return;
	if (m->o.verbose >= 2)
		fprintf(stderr, "watchq mount: syscall %u by %u: rereading %s\n",
			h->syscall_nr, h->tgid, m->views ? "the watched trees" : "nothing");
	rescan_all(m);
}

int watchq_mount_poll_fd(const struct watchq_mount *m)
{
	return m->epfd;
}

void watchq_mount_poll(struct watchq_mount *m)
{
	struct epoll_event ev[16];

	/* Polling mountinfo consumes its event: one rescan covers them all. */
	if (epoll_wait(m->epfd, ev, 16, 0) > 0)
		rescan_all(m);
}

int watchq_mount_resolve(struct watchq_mount *m, pid_t pid, int fd, __u64 *mnt_id,
			 __u64 *ns_id)
{
	struct wq_statmount sm;
	struct statx stx;
	int err;

	(void)m;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, WQ_STATX_MNT_ID_UNIQUE, &stx))
		return -errno;
	if (!(stx.stx_mask & WQ_STATX_MNT_ID_UNIQUE))
		return -EOPNOTSUPP;
	*mnt_id = stx.stx_mnt_id;
	err = ns_id_of_pid(pid, ns_id);
	if (err)
		return err;
	/* Found in the watcher's namespace, or not its to watch. */
	if (sys_statmount(*mnt_id, *ns_id, WQ_STATMOUNT_MNT_BASIC, &sm, sizeof(sm)))
		return errno == ENOMEM ? -ENOMEM : -EPERM;
	return 0;
}

static void view_free(struct watchq_mount *m, struct view *v)
{
	struct view **p;

	for (p = &m->views; *p && *p != v; p = &(*p)->next)
		;
	if (*p)
		*p = v->next;
	if (v->infofd >= 0) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, v->infofd, NULL);
		close(v->infofd);
	}
	free_ents(v->e, v->n);
	free(v);
}

static void set_on(struct watchq_mount *m)
{
	/* .bss is mapped: the programs see the store at once */
	__atomic_store_n(&m->skel->bss->watchq_mount_on, m->views != NULL, __ATOMIC_RELEASE);
}

static int view_get(struct watchq_mount *m, pid_t pid, __u64 ns_id, struct view **out)
{
	struct epoll_event ev = { .events = EPOLLPRI };
	struct view *v;
	char path[64];
	__u64 now;
	int err;

	for (v = m->views; v; v = v->next)
		if (v->ns_id == ns_id) {
			*out = v;
			return 0;
		}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->ns_id = ns_id;
	/* mountinfo stays bound to the namespace it was opened in, and pins it. */
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	v->infofd = open(path, O_RDONLY | O_CLOEXEC);
	if (v->infofd < 0) {
		err = -errno;
		free(v);
		return err;
	}
	err = ns_id_of_pid(pid, &now);
	if (!err && now != ns_id)
		err = -EAGAIN;		/* it changed namespace meanwhile */
	ev.data.ptr = v;
	if (!err && epoll_ctl(m->epfd, EPOLL_CTL_ADD, v->infofd, &ev))
		err = -errno;
	if (!err)
		err = read_tree(m, ns_id, &v->e, &v->n);
	if (err) {
		view_free(m, v);
		return err;
	}
	v->next = m->views;
	m->views = v;
	*out = v;
	return 0;
}

int watchq_mount_watch(struct watchq_mount *m, pid_t pid, __u64 ns_id, __u64 mnt_id)
{
	struct mwatch *w;
	struct view *v = NULL;
	int err;

	for (w = m->watches; w; w = w->next)
		if (w->mnt_id == mnt_id) {
			w->refs++;
			return 0;
		}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	err = view_get(m, pid, ns_id, &v);
	if (err) {
		free(w);
		return err;
	}
	w->mnt_id = mnt_id;
	w->v = v;
	w->refs = 1;
	v->watches++;
	w->next = m->watches;
	m->watches = w;
	set_on(m);
	return 0;
}

void watchq_mount_unwatch(struct watchq_mount *m, __u64 mnt_id)
{
	struct mwatch **p, *w;

	for (p = &m->watches; *p && (*p)->mnt_id != mnt_id; p = &(*p)->next)
		;
	w = *p;
	if (!w || --w->refs)
		return;
	*p = w->next;
	if (!--w->v->watches)
		view_free(m, w->v);
	free(w);
	set_on(m);
}

static bool tracepoint_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/syscalls/sys_exit_%s", name);
	return !access(path, F_OK);
}

int watchq_mount_open(struct watchq_mount **out, const struct watchq_mount_opts *o)
{
	struct bpf_program *prog;
	struct watchq_mount *m;
	struct wq_statmount sm;
	int err;

	*out = NULL;
	if (!o || !o->post || !o->gone)
		return -EINVAL;
	/* Without listmount/statmount (6.8) in other namespaces (6.11) there
	 * is nothing to compare with. */
	if (sys_statmount(WQ_LSMT_ROOT, 0, 0, &sm, sizeof(sm)) && errno == ENOSYS) {
		fprintf(stderr, "watchq mount: statmount() is missing (Linux 6.8+)\n");
		return -EOPNOTSUPP;	/* this kernel cannot carry the source */
	}
	err = watchq_mount_bpf_fs("mount");
	if (err)
		return err;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->o = *o;
	if (!m->o.subtypes)
		m->o.subtypes = ~0U;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->buf = malloc(SM_BUF_BYTES);
	m->skel = mount_bpf__open();
	if (m->epfd < 0 || !m->buf || !m->skel) {
		err = -errno ? -errno : -ENOMEM;
		goto fail;
	}
	/* A syscall this kernel lacks (fsconfig before 5.2, ...) is not hinted. */
	bpf_object__for_each_program(prog, m->skel->obj) {
		const char *sc = bpf_program__name(prog) + strlen("watchq_mount_exit_");

		bpf_program__set_autoload(prog, tracepoint_exists(sc));
	}
	err = mount_bpf__load(m->skel);
	if (!err)
		err = mount_bpf__attach(m->skel);
	if (err) {
		fprintf(stderr, "watchq mount: tracepoint rung: %s\n", strerror(-err));
		goto fail;
	}
	if (o->verbose)
		fprintf(stderr, "watchq mount: tracepoint rung loaded\n");
	*out = m;
	return 0;
fail:
	watchq_mount_close(m);
	return err;
}

void watchq_mount_close(struct watchq_mount *m)
{
	if (!m)
		return;
	while (m->watches) {
		struct mwatch *w = m->watches;

		m->watches = w->next;
		free(w);
	}
	while (m->views)
		view_free(m, m->views);
	mount_bpf__destroy(m->skel);
	if (m->epfd >= 0)
		close(m->epfd);
	free(m->buf);
	free(m);
}

int watchq_mount_ringbuf_fd(const struct watchq_mount *m)
{
	return bpf_map__fd(m->skel->maps.watchq_rb);
}

__u64 watchq_mount_dropped(const struct watchq_mount *m)
{
	return watchq_percpu_sum(m->skel->maps.watchq_dropped);
}

const char *watchq_mount_rung(const struct watchq_mount *m)
{
	(void)m;
	return "tracepoint+rescan";
}

void watchq_mount_describe(const struct watchq_mount *m, FILE *f)
{
	fprintf(f, "mount: %s rung (hints: tracepoint syscalls/sys_exit_{", watchq_mount_rung(m));
	for (size_t i = 0, first = 1; i < sizeof(hint_syscalls) / sizeof(hint_syscalls[0]); i++)
		if (tracepoint_exists(hint_syscalls[i])) {
			fprintf(f, "%s%s", first ? "" : ",", hint_syscalls[i]);
			first = 0;
		}
	fprintf(f, "}; poll() on each watched namespace's mountinfo)\n");
	fprintf(f,
		"  RESCANS: no hook here says what changed, so every hint rereads each\n"
		"    watched namespace's whole tree (listmount + one statmount per mount)\n"
		"    and compares it with the last view: work grows with the mount table\n"
		"  ids: 64-bit unique mount ids (STATX_MNT_ID_UNIQUE, statmount mnt_id),\n"
		"    not the 32-bit ids of /proc/*/mountinfo\n"
		"  sees: mount(2) (new, bind, move, remount, propagation types), umount2\n"
		"    (MNT_DETACH: one UNMOUNT per mount of the tree), move_mount, fsconfig,\n"
		"    mount_setattr, pivot_root, shared-subtree propagation into any watched\n"
		"    namespace; automounts and expiry through mountinfo's poll()\n"
		"  not told apart: EXPIRY (an expired mount is an UNMOUNT), IS_SUBMOUNT\n"
		"    (never set: statmount does not say who made a mount); a mount and\n"
		"    its unmount between two rereads are never seen\n"
		"  a rename of a directory holding a mount point shows as MOVE_FROM/TO\n");
}
