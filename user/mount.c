// SPDX-License-Identifier: GPL-2.0
/*
 * The mount source's user half: a view of each watched namespace's tree
 * (listmount/statmount, kept by id), and three rungs to keep it current.
 *
 * fanotify (Linux 6.15+): FAN_MNT_ATTACH/DETACH name each mount attached,
 * detached or moved, so each costs one statmount() of that mount.  No
 * event covers attribute or read-only changes: bpf/mount.bpf.c hints them
 * with the syscall's own arguments, and only the mount (subtree,
 * superblock) they name is read again.
 *
 * rescan (6.11+): a hint or a poll() of the namespace's mountinfo only
 * says that something changed; every watched tree is read again and
 * compared with the view.
 *
 * mountinfo (before 6.11, where listmount/statmount cannot take another
 * namespace): the rescan rung, reading the tree from the namespace's
 * mountinfo, with its 32-bit ids.  See mount.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "watchq_abi.h"
#include "../bpf/mount.h"
#include "bpfsrc.h"
#include "fan.h"
#include "mount.h"
#include "mount.skel.h"

/* uapi of 6.8+ (listmount/statmount) and 6.11+ (foreign namespaces),
 * absent from Debian 12's headers. */
#ifndef __NR_statmount
#define __NR_statmount		457
#define __NR_listmount		458
#endif
#define WQ_STATX_MNT_ID		0x1000U
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
#define MNT_EXPIRE		0x4	/* umount2() */
/* statmount's mnt_propagation: mount(2)'s flags */
#define WQ_MS_UNBINDABLE	(1U << 17)
#define WQ_MS_PRIVATE		(1U << 18)
#define WQ_MS_SLAVE		(1U << 19)
#define WQ_MS_SHARED		(1U << 20)

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
	struct ent *hnext;		/* in its table's bucket */
	__u64 id, parent;
	__u64 attr, prop, peer, master;
	__u32 sb_flags, dev_major, dev_minor;
	char *point;
};

/* Mounts by id: chained buckets, a power of two of them, grown at load 1. */
struct tab {
	struct ent **b;
	size_t nb, n;
};

#define tab_for_each(t, i, e) \
	for ((i) = 0; (i) < (t)->nb; (i)++) \
		for ((e) = (t)->b[i]; (e); (e) = (e)->hnext)

/* A watched mount namespace and its tree. */
struct view {
	__u64 ns_id;
	__u64 ns_ino;			/* its nsfs inode: what hints carry */
	/* polled: a fanotify group marking the namespace (fanotify rung), or
	 * its mountinfo, which also pins it (rescan rung) */
	int fd;
	unsigned int watches;
	struct tab t;
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
	enum { RUNG_FANOTIFY, RUNG_STATMOUNT, RUNG_MOUNTINFO } rung;
	int epfd;
	struct view *views;
	struct mwatch *watches;
	char *buf;			/* statmount's answer */
	__u64 *gone;			/* watched mounts that went, this batch */
	size_t ngone, gone_cap;
	/* attach/detach/move syscalls between their ENTER hint and their
	 * return, by process: fanotify names the process an attach came from */
	struct flight { __u32 tgid, n; } *flight;
	size_t nflight;
	/* mounts an umount2(MNT_EXPIRE) in flight names: EXPIRY if they go */
	struct expiring { __u64 id; __u32 tgid; } *expiring;
	size_t nexpiring;
	struct fan_ev *ev;		/* fanotify's events, one drain's worth */
	size_t nev, ev_cap;
	bool ev_lost;			/* ... and whether all of them fit */
	__u64 rescans, rereads, unresolved;
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

/* The children of @mnt_id (WQ_LSMT_ROOT: every mount) after @last. */
static long sys_listmount(__u64 ns_id, __u64 mnt_id, __u64 last, __u64 *ids, size_t n)
{
	struct wq_mnt_id_req req = {
		.size = WQ_MNT_ID_REQ_SIZE_VER1,
		.mnt_id = mnt_id,
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

/*
 * @pid's mount namespace: its 64-bit id (6.11+: what listmount/statmount
 * take), or, with @by_inode, the inode of its nsfs file (what tells
 * namespaces apart before that).
 */
static int ns_of_pid(pid_t pid, bool by_inode, __u64 *ns_id)
{
	char path[64];
	struct stat st;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (by_inode ? fstat(fd, &st) : ioctl(fd, WQ_NS_GET_MNTNS_ID, ns_id))
		err = -errno;
	else if (by_inode)
		*ns_id = st.st_ino;
	close(fd);
	return err;
}

static int ns_id_of_pid(pid_t pid, __u64 *ns_id)
{
	return ns_of_pid(pid, false, ns_id);
}

/* ---- the tree of a namespace, by id ---------------------------------- */

static size_t tab_slot(const struct tab *t, __u64 id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (t->nb - 1);
}

static struct ent *tab_get(const struct tab *t, __u64 id)
{
	struct ent *e;

	if (!t->nb)
		return NULL;
	for (e = t->b[tab_slot(t, id)]; e && e->id != id; e = e->hnext)
		;
	return e;
}

static int tab_put(struct tab *t, struct ent *e)
{
	if (t->n >= t->nb) {
		struct tab bigger = { .nb = t->nb ? t->nb * 2 : 64 };
		struct ent *x, *next;
		size_t i;

		bigger.b = calloc(bigger.nb, sizeof(*bigger.b));
		if (!bigger.b)
			return -ENOMEM;
		for (i = 0; i < t->nb; i++)
			for (x = t->b[i]; x; x = next) {
				next = x->hnext;
				x->hnext = bigger.b[tab_slot(&bigger, x->id)];
				bigger.b[tab_slot(&bigger, x->id)] = x;
			}
		free(t->b);
		t->b = bigger.b;
		t->nb = bigger.nb;
	}
	e->hnext = t->b[tab_slot(t, e->id)];
	t->b[tab_slot(t, e->id)] = e;
	t->n++;
	return 0;
}

static void ent_free(struct ent *e)
{
	if (e)
		free(e->point);
	free(e);
}

/* Out of the table, not freed. */
static struct ent *tab_take(struct tab *t, __u64 id)
{
	struct ent **p, *e;

	if (!t->nb)
		return NULL;
	for (p = &t->b[tab_slot(t, id)]; *p && (*p)->id != id; p = &(*p)->hnext)
		;
	e = *p;
	if (e) {
		*p = e->hnext;
		t->n--;
	}
	return e;
}

static void tab_free(struct tab *t)
{
	struct ent *e, *next;

	for (size_t i = 0; i < t->nb; i++)
		for (e = t->b[i]; e; e = next) {
			next = e->hnext;
			ent_free(e);
		}
	free(t->b);
	memset(t, 0, sizeof(*t));
}

/* statmount() of one mount of @ns_id into @x (id and table link kept). */
static int stat_ent(struct watchq_mount *m, __u64 ns_id, __u64 id, struct ent *x)
{
	struct wq_statmount *sm = (void *)m->buf;
	char *point;

	if (sys_statmount(id, ns_id, WQ_STATMOUNT_SB_BASIC | WQ_STATMOUNT_MNT_BASIC |
			  WQ_STATMOUNT_MNT_POINT, sm, SM_BUF_BYTES))
		return -errno;
	point = strdup((sm->mask & WQ_STATMOUNT_MNT_POINT) ? sm->str + sm->mnt_point : "");
	if (!point)
		return -ENOMEM;
	free(x->point);
	x->point = point;
	x->id = sm->mnt_id;
	x->parent = sm->mnt_parent_id;
	x->attr = sm->mnt_attr;
	x->prop = sm->mnt_propagation;
	x->peer = sm->mnt_peer_group;
	x->master = sm->mnt_master;
	x->sb_flags = sm->sb_flags;
	x->dev_major = sm->sb_dev_major;
	x->dev_minor = sm->sb_dev_minor;
	return 0;
}

/* mountinfo's escapes (\ooo for space, tab, newline, backslash), in place */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = 0;
}

/* Whether the comma-separated @list holds @opt. */
static bool has_opt(const char *list, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, opt, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/*
 * One line of mountinfo (proc(5)) as statmount would have said it: the
 * per-mount options as MOUNT_ATTR_* bits, the optional fields as the
 * propagation type and groups, the superblock's ro as SB_RDONLY.  Only
 * comparisons between two reads on this rung use them.
 */
static int parse_mountinfo(char *line, struct ent *x)
{
	static const struct { const char *opt; __u64 attr; } attrs[] = {
		{ "ro", WQ_MOUNT_ATTR_RDONLY }, { "nosuid", 0x2 }, { "nodev", 0x4 },
		{ "noexec", 0x8 }, { "noatime", 0x10 }, { "strictatime", 0x20 },
		{ "nodiratime", 0x80 }, { "idmapped", 0x100000 }, { "nosymfollow", 0x200000 },
	};
	char *save = NULL, *f[6], *tok, *super = NULL;
	unsigned long long id, parent;
	unsigned int maj, min;
	int i;

	for (i = 0; i < 6; i++)
		if (!(f[i] = strtok_r(i ? NULL : line, " \n", &save)))
			return -EINVAL;
	if (sscanf(f[0], "%llu", &id) != 1 || sscanf(f[1], "%llu", &parent) != 1 ||
	    sscanf(f[2], "%u:%u", &maj, &min) != 2)
		return -EINVAL;
	memset(x, 0, sizeof(*x));
	x->id = id;
	x->parent = parent;
	x->dev_major = maj;
	x->dev_minor = min;
	for (size_t k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++)
		if (has_opt(f[5], attrs[k].opt))
			x->attr |= attrs[k].attr;
	x->prop = WQ_MS_PRIVATE;
	while ((tok = strtok_r(NULL, " \n", &save)) && strcmp(tok, "-")) {
		if (!strncmp(tok, "shared:", 7)) {
			x->prop = (x->prop & ~WQ_MS_PRIVATE) | WQ_MS_SHARED;
			x->peer = strtoull(tok + 7, NULL, 10);
		} else if (!strncmp(tok, "master:", 7)) {
			x->prop = (x->prop & ~WQ_MS_PRIVATE) | WQ_MS_SLAVE;
			x->master = strtoull(tok + 7, NULL, 10);
		} else if (!strcmp(tok, "unbindable")) {
			x->prop = (x->prop & ~WQ_MS_PRIVATE) | WQ_MS_UNBINDABLE;
		}
	}
	/* then filesystem type, source, superblock options */
	if (tok && strtok_r(NULL, " \n", &save) && strtok_r(NULL, " \n", &save))
		super = strtok_r(NULL, " \n", &save);
	if (super && has_opt(super, "ro"))
		x->sb_flags = WQ_SB_RDONLY;
	unescape(f[4]);
	x->point = strdup(f[4]);
	return x->point ? 0 : -ENOMEM;
}

/* The tree from @v's mountinfo, which is bound to its namespace. */
static int read_mountinfo(struct view *v, struct tab *out)
{
	struct tab t = { 0 };
	char *line = NULL;
	size_t cap = 0;
	int err = 0, fd;
	FILE *f;

	/* The held fd, from the top: opening the file again would read the
	 * namespace its process is in now, if it still exists. */
	if (lseek(v->fd, 0, SEEK_SET) < 0)
		return -errno;
	fd = fcntl(v->fd, F_DUPFD_CLOEXEC, 3);
	f = fd >= 0 ? fdopen(fd, "re") : NULL;
	if (!f) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	while (!err && getline(&line, &cap, f) > 0) {
		struct ent *x = calloc(1, sizeof(*x));

		err = x ? parse_mountinfo(line, x) : -ENOMEM;
		if (!err)
			err = tab_put(&t, x);
		if (err)
			ent_free(x);
	}
	free(line);
	fclose(f);
	if (err) {
		tab_free(&t);
		return err;
	}
	*out = t;
	return 0;
}

/* The namespace's whole tree now: listmount, then statmount each. */
static int read_tree(struct watchq_mount *m, struct view *v, struct tab *out)
{
	__u64 ns_id = v->ns_id;
	struct tab t = { 0 };
	__u64 ids[256], last = 0;
	long got;
	int err = 0;

	if (m->rung == RUNG_MOUNTINFO)
		return read_mountinfo(v, out);
	do {
		got = sys_listmount(ns_id, WQ_LSMT_ROOT, last, ids, 256);
		if (got < 0) {
			err = -errno;
			break;
		}
		for (long i = 0; i < got && !err; i++) {
			struct ent *x = calloc(1, sizeof(*x));

			last = ids[i];
			if (!x) {
				err = -ENOMEM;
				break;
			}
			err = stat_ent(m, ns_id, ids[i], x);
			if (!err)
				err = tab_put(&t, x);
			if (err)
				ent_free(x);
			if (err == -ENOENT)	/* gone meanwhile */
				err = 0;
		}
	} while (!err && got == 256);
	if (err) {
		tab_free(&t);
		return err;
	}
	*out = t;
	return 0;
}

/* @id and its ancestors in @t, innermost first. */
static unsigned int chain_of(const struct tab *t, __u64 id, __u64 *chain)
{
	unsigned int len = 0;
	const struct ent *x;

	chain[len++] = id;
	while (len < MAX_DEPTH && (x = tab_get(t, chain[len - 1])) &&
	       x->parent != x->id && tab_get(t, x->parent))
		chain[len++] = x->parent;
	return len;
}

static void post(struct watchq_mount *m, const struct tab *t, __u32 subtype, __u64 on,
		 __u64 aux, __u32 flags)
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
	m->o.post(m->o.ctx, &r, chain, chain_of(t, on, chain));
}

static bool is_ro(const struct ent *x)
{
	return (x->attr & WQ_MOUNT_ATTR_RDONLY) || (x->sb_flags & WQ_SB_RDONLY);
}

static __u32 ro_flag(const struct ent *x)
{
	return is_ro(x) ? WATCHQ_NOTIFY_MOUNT_IS_NOW_RO : 0;
}

/* What changed between two reads of one mount: READONLY, SETATTR or both. */
static bool post_attrs(struct watchq_mount *m, const struct tab *t, const struct ent *was,
		       const struct ent *x)
{
	bool changed = false;

	/* read-only by its own flag or by its superblock's (a remount or
	 * fsconfig reconfigure of the filesystem) */
	if (is_ro(was) != is_ro(x)) {
		post(m, t, WATCHQ_NOTIFY_MOUNT_READONLY, x->id, 0, ro_flag(x));
		changed = true;
	}
	if (((was->attr ^ x->attr) & ~WQ_MOUNT_ATTR_RDONLY) || was->prop != x->prop ||
	    was->peer != x->peer || was->master != x->master) {
		post(m, t, WATCHQ_NOTIFY_MOUNT_SETATTR, x->id, 0, ro_flag(x));
		changed = true;
	}
	return changed;
}

/* A watched mount went: its watches end once the batch's records are out. */
static void note_gone(struct watchq_mount *m, __u64 id)
{
	struct mwatch *w;
	__u64 *g;

	for (w = m->watches; w && w->mnt_id != id; w = w->next)
		;
	if (!w)
		return;
	if (m->ngone == m->gone_cap) {
		g = realloc(m->gone, (m->gone_cap * 2 + 8) * sizeof(*g));
		if (!g)
			return;
		m->gone = g;
		m->gone_cap = m->gone_cap * 2 + 8;
	}
	m->gone[m->ngone++] = id;
}

/* End the watches on mounts that went (which may free views: call it
 * last). */
static void end_gone(struct watchq_mount *m)
{
	for (size_t i = 0; i < m->ngone; i++)
		m->o.gone(m->o.ctx, m->gone[i]);
	m->ngone = 0;
}

/* ---- who is making changes -------------------------------------------- */

static void flight_start(struct watchq_mount *m, __u32 tgid)
{
	struct flight *f;

	for (size_t i = 0; i < m->nflight; i++)
		if (m->flight[i].tgid == tgid) {
			m->flight[i].n++;
			return;
		}
	f = realloc(m->flight, (m->nflight + 1) * sizeof(*f));
	if (!f)
		return;
	m->flight = f;
	f[m->nflight].tgid = tgid;
	f[m->nflight++].n = 1;
}

static void flight_end(struct watchq_mount *m, __u32 tgid)
{
	for (size_t i = 0; i < m->nflight; i++)
		if (m->flight[i].tgid == tgid) {
			if (!--m->flight[i].n)
				m->flight[i] = m->flight[--m->nflight];
			break;
		}
	for (size_t i = 0; i < m->nexpiring;)
		if (m->expiring[i].tgid == tgid)
			m->expiring[i] = m->expiring[--m->nexpiring];
		else
			i++;
}

/* An attach by a process in no mount syscall: the kernel made it. */
static bool by_kernel(const struct watchq_mount *m, __u32 pid)
{
	for (size_t i = 0; i < m->nflight; i++)
		if (m->flight[i].tgid == pid)
			return false;
	return true;
}

static bool expiring_take(struct watchq_mount *m, __u64 id)
{
	for (size_t i = 0; i < m->nexpiring; i++)
		if (m->expiring[i].id == id) {
			m->expiring[i] = m->expiring[--m->nexpiring];
			return true;
		}
	return false;
}

struct change {
	struct ent *x;
	unsigned int depth;
};

static int by_depth(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->x->id < y->x->id ? -1 : x->x->id > y->x->id;
}

/*
 * The mounts in @ch (all still in @t) went: one UNMOUNT each, deepest
 * first, so a child is reported while the mount it was on still names
 * its watched ancestors; then they leave @t.
 */
static void post_unmounts(struct watchq_mount *m, struct tab *t, struct change *ch, size_t n)
{
	__u64 chain[MAX_DEPTH];
	size_t i;

	for (i = 0; i < n; i++)
		ch[i].depth = MAX_DEPTH - chain_of(t, ch[i].x->id, chain);
	qsort(ch, n, sizeof(*ch), by_depth);
	for (i = 0; i < n; i++) {
		if (expiring_take(m, ch[i].x->id))
			post(m, t, WATCHQ_NOTIFY_MOUNT_EXPIRY, ch[i].x->id, 0, 0);
		post(m, t, WATCHQ_NOTIFY_MOUNT_UNMOUNT, ch[i].x->parent, ch[i].x->id, 0);
		note_gone(m, ch[i].x->id);
	}
	for (i = 0; i < n; i++)
		ent_free(tab_take(t, ch[i].x->id));
}

/*
 * @was (in @o) is @x (in @nw) moved: a new parent, or a new mount point on
 * the same parent whose own mount point stayed (else it only went along
 * with a moved ancestor).
 */
static bool moved(const struct tab *o, const struct tab *nw, const struct ent *was,
		  const struct ent *x)
{
	const struct ent *po, *pn;

	if (was->parent != x->parent)
		return true;
	if (!strcmp(was->point, x->point))
		return false;
	po = tab_get(o, x->parent);
	pn = tab_get(nw, x->parent);
	return po && pn && !strcmp(po->point, pn->point);
}

/*
 * Post what turned @o into @nw, then make @o the new tree (@nw is
 * emptied).  Unmounts first; then moves; then new mounts, outermost
 * first; then attribute changes.
 */
/* @x's mount in @t: the same id on the same superblock (the mountinfo
 * rung's 32-bit ids are reused after an unmount). */
static struct ent *same(const struct tab *t, const struct ent *x)
{
	struct ent *y = tab_get(t, x->id);

	return y && y->dev_major == x->dev_major && y->dev_minor == x->dev_minor ? y : NULL;
}

static void diff(struct watchq_mount *m, struct tab *o, struct tab *nw)
{
	struct change *ch = calloc(o->n + nw->n + 1, sizeof(*ch));
	__u64 chain[MAX_DEPTH];
	struct ent *x, *was;
	size_t nc = 0, i, k;

	if (!ch) {
		tab_free(o);
		*o = *nw;
		memset(nw, 0, sizeof(*nw));
		return;
	}
	tab_for_each(o, i, x)
		if (!same(nw, x))
			ch[nc++].x = x;
	post_unmounts(m, o, ch, nc);

	/* moves, outermost first */
	nc = 0;
	tab_for_each(nw, i, x)
		if ((was = same(o, x)) && moved(o, nw, was, x)) {
			ch[nc].x = x;
			ch[nc++].depth = chain_of(nw, x->id, chain);
		}
	qsort(ch, nc, sizeof(*ch), by_depth);
	for (k = 0; k < nc; k++) {
		was = same(o, ch[k].x);
		post(m, o, WATCHQ_NOTIFY_MOUNT_MOVE_FROM, was->parent, was->id, 0);
		post(m, nw, WATCHQ_NOTIFY_MOUNT_MOVE_TO, ch[k].x->parent, was->id, 0);
	}

	nc = 0;
	tab_for_each(nw, i, x)
		if (!same(o, x)) {
			ch[nc].x = x;
			ch[nc++].depth = chain_of(nw, x->id, chain);
		}
	qsort(ch, nc, sizeof(*ch), by_depth);
	for (k = 0; k < nc; k++)
		post(m, nw, WATCHQ_NOTIFY_MOUNT_NEW_MOUNT, ch[k].x->parent, ch[k].x->id,
		     ro_flag(ch[k].x));

	/* attributes: outermost first too, as a recursive change makes them */
	nc = 0;
	tab_for_each(nw, i, x)
		if (same(o, x)) {
			ch[nc].x = x;
			ch[nc++].depth = chain_of(nw, x->id, chain);
		}
	qsort(ch, nc, sizeof(*ch), by_depth);
	for (k = 0; k < nc; k++)
		post_attrs(m, nw, same(o, ch[k].x), ch[k].x);
	free(ch);
	tab_free(o);
	*o = *nw;
	memset(nw, 0, sizeof(*nw));
}

/* Read @v's tree again and post the differences. */
static void rescan(struct watchq_mount *m, struct view *v)
{
	struct tab t;
	int err = read_tree(m, v, &t);

	if (err) {
		if (m->o.verbose)
			fprintf(stderr, "watchq mount: namespace %llu: %s\n",
				(unsigned long long)v->ns_id, strerror(-err));
		return;
	}
	diff(m, &v->t, &t);
}

static void rescan_all(struct watchq_mount *m)
{
	m->rescans++;
	for (struct view *v = m->views; v; v = v->next)
		rescan(m, v);
	end_gone(m);
}

/* ---- the fanotify rung: one change at a time ------------------------- */

struct fan_ev {
	__u32 mask, pid;
	__u64 id;
};

static void reread_tree(struct watchq_mount *m, __u64 id, bool tree, bool say);

/* @id was attached to @v's tree by process @pid (or, with @move, moved
 * within it). */
static void fan_attach(struct watchq_mount *m, struct view *v, __u64 id, bool move, __u32 pid)
{
	struct ent *x = tab_get(&v->t, id), *nx;
	int err;

	if (x) {
		/* A move; or an attach the first read of the tree already
		 * had (the mark came first): then only what changed. */
		struct ent now = { .hnext = x->hnext };

		if (stat_ent(m, v->ns_id, id, &now))
			return;		/* gone again: its detach follows */
		if (move || now.parent != x->parent) {
			/* from: with the old ancestry, to: with the new */
			post(m, &v->t, WATCHQ_NOTIFY_MOUNT_MOVE_FROM, x->parent, id, 0);
			free(x->point);
			*x = now;
			post(m, &v->t, WATCHQ_NOTIFY_MOUNT_MOVE_TO, x->parent, id, 0);
			/* the mounts below moved along: their points changed */
			reread_tree(m, id, true, false);
			return;
		}
		post_attrs(m, &v->t, x, &now);
		free(x->point);
		*x = now;
		return;
	}
	nx = calloc(1, sizeof(*nx));
	if (!nx)
		return;
	err = stat_ent(m, v->ns_id, id, nx);
	if (!err)
		err = tab_put(&v->t, nx);
	if (err) {
		/* Already gone (its detach follows): nothing to say of a mount
		 * whose parent can no longer be asked. */
		if (err == -ENOENT)
			m->unresolved++;
		ent_free(nx);
		return;
	}
	post(m, &v->t, WATCHQ_NOTIFY_MOUNT_NEW_MOUNT, nx->parent, id,
	     ro_flag(nx) | (by_kernel(m, pid) ? WATCHQ_NOTIFY_MOUNT_IS_SUBMOUNT : 0));
}

/*
 * Events in the order the kernel queued them.  A run of detaches (one
 * umount of a tree gives one per mount, outermost first) is reported
 * deepest first, like the kernel's own umount_tree() takes them.
 */
static void fan_apply(struct watchq_mount *m, struct view *v, const struct fan_ev *ev, size_t n)
{
	struct change *ch = calloc(n + 1, sizeof(*ch));
	size_t i = 0, nc;

	while (ch && i < n) {
		if (ev[i].mask & WQ_FAN_MNT_ATTACH) {
			fan_attach(m, v, ev[i].id, ev[i].mask & WQ_FAN_MNT_DETACH, ev[i].pid);
			i++;
			continue;
		}
		for (nc = 0; i < n && !(ev[i].mask & WQ_FAN_MNT_ATTACH); i++) {
			struct ent *x = tab_get(&v->t, ev[i].id);

			if (x)
				ch[nc++].x = x;
		}
		post_unmounts(m, &v->t, ch, nc);
	}
	free(ch);
}

/* One event's mount, kept for fan_apply(). */
static void fan_collect(void *ctx, const struct fanotify_event_metadata *md,
			const struct fanotify_event_info_header *info)
{
	const struct wq_fan_info_mnt *im = (const void *)info;
	struct watchq_mount *m = ctx;
	struct fan_ev *ev;

	if (info->info_type != WQ_FAN_EVENT_INFO_TYPE_MNT || info->len < sizeof(*im))
		return;
	if (m->nev == m->ev_cap) {
		ev = realloc(m->ev, (m->ev_cap * 2 + 64) * sizeof(*ev));
		if (!ev) {
			m->ev_lost = true;	/* a reread will say */
			return;
		}
		m->ev = ev;
		m->ev_cap = m->ev_cap * 2 + 64;
	}
	m->ev[m->nev].mask = (__u32)md->mask;
	m->ev[m->nev].pid = (__u32)md->pid;
	m->ev[m->nev++].id = im->mnt_id;
}

/* Read @v's queued events, all of them before any is applied (a detach
 * run stays one run); a queue that overflowed costs one rescan. */
static void fan_read(struct watchq_mount *m, struct view *v)
{
	bool lost;

	m->nev = 0;
	m->ev_lost = false;
	lost = watchq_fan_drain(v->fd, fan_collect, m) | m->ev_lost;
	fan_apply(m, v, m->ev, m->nev);
	if (lost) {
		if (m->o.verbose)
			fprintf(stderr, "watchq mount: namespace %llu: events lost: rereading it\n",
				(unsigned long long)v->ns_id);
		m->rescans++;
		rescan(m, v);
	}
}

static void fan_read_all(struct watchq_mount *m)
{
	for (struct view *v = m->views; v; v = v->next)
		fan_read(m, v);
	end_gone(m);
}

/* ---- attribute changes: reread where the syscall pointed ------------- */

/* The view that has mount @id, if any. */
static struct view *view_of(struct watchq_mount *m, __u64 id, struct ent **x)
{
	for (struct view *v = m->views; v; v = v->next)
		if ((*x = tab_get(&v->t, id)))
			return v;
	return NULL;
}

/* Read one known mount again and (with @say) post what changed. */
static bool reread(struct watchq_mount *m, struct view *v, struct ent *x, bool say)
{
	struct ent now = { .hnext = x->hnext };
	bool changed = false;

	m->rereads++;
	if (stat_ent(m, v->ns_id, x->id, &now))
		return false;		/* gone: its detach is queued */
	if (say)
		changed = post_attrs(m, &v->t, x, &now);
	free(x->point);
	*x = now;
	return changed;
}

/* @id and, with @tree, every mount below it (listmount: the children
 * only, never the whole table), outermost first; with @say, posting what
 * changed, else only taking it in (their mount points after a move). */
static void reread_tree(struct watchq_mount *m, __u64 id, bool tree, bool say)
{
	__u64 *todo, *more, ids[64];
	size_t head = 0, ntodo = 1, cap = 16;
	struct view *v;
	struct ent *x;

	v = view_of(m, id, &x);
	todo = malloc(cap * sizeof(*todo));
	if (!v || !todo) {
		free(todo);
		return;
	}
	todo[0] = id;
	while (head < ntodo) {
		__u64 last = 0, cur = todo[head++];
		long got;

		if ((x = tab_get(&v->t, cur)) && (say || cur != id))
			reread(m, v, x, say);
		if (!tree)
			break;
		do {
			got = sys_listmount(v->ns_id, cur, last, ids, 64);
			for (long i = 0; i < got; i++) {
				last = ids[i];
				if (ntodo == cap) {
					more = realloc(todo, cap * 2 * sizeof(*todo));
					if (!more)
						break;
					todo = more;
					cap *= 2;
				}
				todo[ntodo++] = ids[i];
			}
		} while (got == 64);
	}
	free(todo);
}

/* Every mount of the superblock @major:@minor in every watched tree: an
 * in-memory pass over the views, statmount() of those mounts only. */
static void reread_sb(struct watchq_mount *m, __u32 major, __u32 minor)
{
	struct ent *x;
	size_t i;

	for (struct view *v = m->views; v; v = v->next)
		tab_for_each(&v->t, i, x)
			if (x->dev_major == major && x->dev_minor == minor)
				reread(m, v, x, true);
}

/*
 * @r's text with its caller's root @root stripped (both as /proc shows
 * them to the daemon), into @out: the path as the caller sees it.  False
 * if @r is not below @root.
 */
static bool below_root(const char *r, const char *root, char *out, size_t len)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		n = 0;
	else if (strncmp(r, root, n) || (r[n] && r[n] != '/'))
		return false;
	snprintf(out, len, "%s", r[n] ? r + n : "/");
	return true;
}

/*
 * The mount the hinted syscall named, as its caller saw it, and its
 * superblock: the path is resolved again below the caller's root
 * (/proc/PID/task/TID/root, RESOLVE_IN_ROOT), a relative one after the
 * caller's cwd or dfd as a path below that root, so that "..", symlinks
 * and a chroot mean what they meant to it.  O_PATH and statx() only:
 * nothing is opened for reading.  Fails if the caller is gone or moved.
 */
static int hint_target(const struct watchq_mount_hint *h, __u64 *mnt_id, __u32 *major,
		       __u32 *minor)
{
	char proc[96], link[PATH_MAX], rootpath[PATH_MAX];
	char path[PATH_MAX + WATCHQ_MOUNT_HINT_PATH + 2], rel[WATCHQ_MOUNT_HINT_PATH];
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	struct statx stx;
	ssize_t n;
	int root, fd = -1, err = 0;

	memcpy(rel, h->path, sizeof(rel));
	rel[sizeof(rel) - 1] = 0;
	snprintf(proc, sizeof(proc), "/proc/%u/task/%u/root", h->tgid, h->tid);
	root = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	if (rel[0] == '/') {
		fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	} else {
		if (h->dfd == -100)
			snprintf(proc, sizeof(proc), "/proc/%u/task/%u/cwd", h->tgid, h->tid);
		else
			snprintf(proc, sizeof(proc), "/proc/%u/fd/%d", h->tgid, h->dfd);
		if (!rel[0]) {
			/* AT_EMPTY_PATH: the fd itself, no text at all */
			fd = open(proc, O_PATH | O_CLOEXEC);
		} else if ((n = readlink(proc, link, sizeof(link) - 1)) > 0 &&
			   (link[n] = 0, snprintf(proc, sizeof(proc), "/proc/%u/task/%u/root",
						  h->tgid, h->tid),
			    (n = readlink(proc, rootpath, sizeof(rootpath) - 1)) > 0) &&
			   (rootpath[n] = 0, below_root(link, rootpath, path, PATH_MAX))) {
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", rel);
			fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
		} else {
			errno = ENOENT;
		}
	}
	if (fd < 0)
		err = -errno;
	else if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, WQ_STATX_MNT_ID_UNIQUE, &stx))
		err = -errno;
	else if (!(stx.stx_mask & WQ_STATX_MNT_ID_UNIQUE))
		err = -EOPNOTSUPP;
	else {
		*mnt_id = stx.stx_mnt_id;
		*major = stx.stx_dev_major;
		*minor = stx.stx_dev_minor;
	}
	if (fd >= 0)
		close(fd);
	close(root);
	return err;
}

/* The view of the namespace with nsfs inode @ino, if watched. */
static struct view *view_by_ino(struct watchq_mount *m, __u64 ino)
{
	struct view *v;

	for (v = m->views; v && v->ns_ino != ino; v = v->next)
		;
	return v;
}

/*
 * Its caller gone, an absolute path still names the mounts whose mount
 * point it is in the caller's namespace @v (mount(8) passes canonical
 * paths): reread those.  How many there were.
 */
static size_t reread_point(struct watchq_mount *m, struct view *v,
			   const struct watchq_mount_hint *h)
{
	size_t i, found = 0;
	struct ent *x;

	if (!v || h->path[0] != '/' || !memchr(h->path, 0, sizeof(h->path)))
		return 0;
	tab_for_each(&v->t, i, x)
		if (!strcmp(x->point, h->path)) {
			found++;
			if (h->kind == WATCHQ_MOUNT_HINT_ATTR_TREE)
				reread_tree(m, x->id, true, true);
			else if (h->kind == WATCHQ_MOUNT_HINT_SB)
				reread_sb(m, x->dev_major, x->dev_minor);
			else
				reread(m, v, x, true);
		}
	return found;
}

/*
 * A superblock was reconfigured where no path can say which: every
 * superblock in the views is asked once (one statmount of one of its
 * mounts), and only one whose flags changed has its mounts reread.  Work
 * grows with the number of superblocks, not of mounts.
 */
static void reread_sbs(struct watchq_mount *m)
{
	struct { __u32 major, minor; } *seen = NULL, *more;
	size_t nseen = 0, i, k;
	struct ent *x, now;

	for (struct view *v = m->views; v; v = v->next)
		tab_for_each(&v->t, i, x) {
			for (k = 0; k < nseen; k++)
				if (seen[k].major == x->dev_major && seen[k].minor == x->dev_minor)
					break;
			if (k < nseen || !(more = realloc(seen, (nseen + 1) * sizeof(*seen))))
				continue;
			seen = more;
			seen[nseen].major = x->dev_major;
			seen[nseen++].minor = x->dev_minor;
			memset(&now, 0, sizeof(now));
			if (!stat_ent(m, v->ns_id, x->id, &now) &&
			    (now.sb_flags & WQ_SB_RDONLY) != (x->sb_flags & WQ_SB_RDONLY))
				reread_sb(m, x->dev_major, x->dev_minor);
			free(now.point);
		}
	free(seen);
}

/*
 * An attribute change (rungs with statmount): attaches and detaches queued
 * before it first, then a reread of what it named.  A mount's attributes
 * matter only in a watched namespace: a hint from any other is dropped
 * before its path is looked at (an unwatched namespace's paths may lead
 * anywhere, a FUSE server of the caller's own included).  A superblock is
 * shared across namespaces: from an unwatched one, all the views'
 * superblocks are asked.
 */
static void on_attr_hint(struct watchq_mount *m, const struct watchq_mount_hint *h)
{
	struct view *v = view_by_ino(m, h->mnt_ns);
	__u32 major, minor;
	__u64 id = 0;
	int err = 0;

	if (m->rung == RUNG_FANOTIFY)
		fan_read_all(m);
	if (h->kind == WATCHQ_MOUNT_HINT_SB_DEV) {
		reread_sb(m, h->dev >> 20, h->dev & 0xfffff);
		goto out;
	}
	if (!v) {
		if (h->kind == WATCHQ_MOUNT_HINT_SB)
			reread_sbs(m);
		goto out;
	}
	err = hint_target(h, &id, &major, &minor);
	if (!err && h->kind == WATCHQ_MOUNT_HINT_SB)
		reread_sb(m, major, minor);
	else if (!err)
		reread_tree(m, id, h->kind == WATCHQ_MOUNT_HINT_ATTR_TREE, true);
	if (err && !reread_point(m, v, h)) {
		/* nothing left to say where: only the whole tree can */
		m->unresolved++;
		if (m->o.verbose)
			fprintf(stderr, "watchq mount: syscall %u by %u: \"%.*s\": %s: rereading the watched trees\n",
				h->syscall_nr, h->tgid, (int)sizeof(h->path), h->path,
				strerror(-err));
		rescan_all(m);
	}
out:
	end_gone(m);
}

/*
 * An attach, detach or move syscall starts: until it returns, fanotify's
 * events from its process are its doing, not the kernel's.  (By the time
 * this is read it may have returned, so what fanotify queued cannot be
 * split into before and after it: an automount its process triggered just
 * before, still unread, counts as the syscall's.)  An umount2(MNT_EXPIRE)
 * names the mounts it may expire, by mount point.
 */
static void on_enter(struct watchq_mount *m, const struct watchq_mount_hint *h)
{
	struct expiring *e;
	struct ent *x;
	size_t i;

	flight_start(m, h->tgid);
	if (!(h->flags & MNT_EXPIRE) || h->path[0] != '/' ||
	    !memchr(h->path, 0, sizeof(h->path)))
		return;
	for (struct view *v = view_by_ino(m, h->mnt_ns); v; v = NULL)
		tab_for_each(&v->t, i, x)
			if (!strcmp(x->point, h->path) &&
			    (e = realloc(m->expiring, (m->nexpiring + 1) * sizeof(*e)))) {
				m->expiring = e;
				e[m->nexpiring].id = x->id;
				e[m->nexpiring++].tgid = h->tgid;
			}
}

void watchq_mount_on_hint(struct watchq_mount *m, const void *data, size_t size)
{
	const struct watchq_mount_hint *h = data;

	if (size < sizeof(*h) || (h->type_subtype >> 24) != WATCHQ_MOUNT_HINT)
		return;
	if (m->o.verbose >= 2)
		fprintf(stderr, "watchq mount: syscall %u by %u: hint %u ret %d \"%.*s\"\n",
			h->syscall_nr, h->tgid, h->kind, h->ret, (int)sizeof(h->path), h->path);
	if (h->kind == WATCHQ_MOUNT_HINT_ENTER) {
		on_enter(m, h);
		return;
	}
	if (h->kind == WATCHQ_MOUNT_HINT_TOPOLOGY) {
		/* what it did first, while it still counts as in flight */
		if (m->rung == RUNG_FANOTIFY)
			fan_read_all(m);
		else if (h->ret >= 0 && m->views)
			rescan_all(m);
		flight_end(m, h->tgid);
		return;
	}
	if (!m->views)
		return;
	if (m->rung != RUNG_MOUNTINFO)
		on_attr_hint(m, h);
	else if (view_by_ino(m, h->mnt_ns) || h->kind == WATCHQ_MOUNT_HINT_SB ||
		 h->kind == WATCHQ_MOUNT_HINT_SB_DEV)
		rescan_all(m);	/* no statmount: nothing smaller to read */
}

void watchq_mount_resync(struct watchq_mount *m)
{
	/* entries whose exit hint may be among the lost */
	m->nflight = 0;
	m->nexpiring = 0;
	if (m->rung == RUNG_FANOTIFY)
		fan_read_all(m);
	if (m->views)
		rescan_all(m);
}

int watchq_mount_poll_fd(const struct watchq_mount *m)
{
	return m->epfd;
}

void watchq_mount_poll(struct watchq_mount *m)
{
	struct epoll_event ev[16];

	if (epoll_wait(m->epfd, ev, 16, 0) <= 0)
		return;
	if (m->rung == RUNG_FANOTIFY)
		fan_read_all(m);
	else
		rescan_all(m);	/* polling mountinfo consumes its event */
}

/* The mountinfo rung's watchq_mount_resolve(): the 32-bit id, found in
 * @pid's mountinfo or not its to watch. */
static int resolve_mountinfo(pid_t pid, int fd, __u64 *mnt_id, __u64 *ns_id)
{
	char path[64], *line = NULL;
	unsigned long long id;
	struct statx stx;
	size_t cap = 0;
	int err;
	FILE *f;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, WQ_STATX_MNT_ID, &stx))
		return -errno;
	if (!(stx.stx_mask & WQ_STATX_MNT_ID))
		return -EOPNOTSUPP;
	*mnt_id = stx.stx_mnt_id;
	err = ns_of_pid(pid, true, ns_id);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	err = -EPERM;
	while (err && getline(&line, &cap, f) > 0)
		if (sscanf(line, "%llu", &id) == 1 && id == *mnt_id)
			err = 0;
	free(line);
	fclose(f);
	return err;
}

int watchq_mount_resolve(struct watchq_mount *m, pid_t pid, int fd, __u64 *mnt_id,
			 __u64 *ns_id)
{
	struct wq_statmount sm;
	struct statx stx;
	int err;

	if (m && m->rung == RUNG_MOUNTINFO)
		return resolve_mountinfo(pid, fd, mnt_id, ns_id);
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
	if (v->fd >= 0) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, v->fd, NULL);
		close(v->fd);
	}
	tab_free(&v->t);
	free(v);
}

static void set_on(struct watchq_mount *m)
{
	/* .bss is mapped: the programs see the store at once */
	__atomic_store_n(&m->skel->bss->watchq_mount_on, m->views != NULL, __ATOMIC_RELEASE);
}

/*
 * What tells @v of changes: on the fanotify rung a group of its own
 * marking the namespace (events carry only mount ids, so one group per
 * namespace says which tree they concern); else its mountinfo, which
 * stays bound to the namespace it was opened in.  Opened through @pid,
 * the watcher, before the first read of the tree so nothing falls between.
 */
static int view_listen(struct watchq_mount *m, struct view *v, pid_t pid)
{
	bool fan = m->rung == RUNG_FANOTIFY;
	struct epoll_event ev = { .events = fan ? EPOLLIN : EPOLLPRI, .data.ptr = v };
	char path[64];
	__u64 now;
	int nsfd, err = 0;

	if (fan) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		v->fd = fanotify_init(WQ_FAN_REPORT_MNT | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (v->fd < 0 || nsfd < 0 ||
		    fanotify_mark(v->fd, FAN_MARK_ADD | WQ_FAN_MARK_MNTNS,
				  WQ_FAN_MNT_ATTACH | WQ_FAN_MNT_DETACH, nsfd, NULL))
			err = -errno;
		if (nsfd >= 0)
			close(nsfd);
	} else {
		snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
		v->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (v->fd < 0)
			err = -errno;
	}
	if (!err)
		err = ns_of_pid(pid, m->rung == RUNG_MOUNTINFO, &now);
	if (!err && now != v->ns_id)
		err = -EAGAIN;		/* it changed namespace meanwhile */
	if (!err)
		err = ns_of_pid(pid, true, &v->ns_ino);
	if (!err && epoll_ctl(m->epfd, EPOLL_CTL_ADD, v->fd, &ev))
		err = -errno;
	return err;
}

static int view_get(struct watchq_mount *m, pid_t pid, __u64 ns_id, struct view **out)
{
	struct view *v;
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
	v->fd = -1;
	err = view_listen(m, v, pid);
	if (!err)
		err = read_tree(m, v, &v->t);
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

/* listmount() and statmount() (6.8) take a namespace by id (6.11). */
static bool lists_namespaces(void)
{
	__u64 ns_id, id;

	return !ns_id_of_pid(getpid(), &ns_id) && sys_listmount(ns_id, WQ_LSMT_ROOT, 0, &id, 1) >= 0;
}

/* Fanotify reports mount attach/detach (6.15+), or EINVAL. */
static bool fanotify_has_mounts(void)
{
	int fd = fanotify_init(WQ_FAN_REPORT_MNT | FAN_CLOEXEC, O_RDONLY);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}
int watchq_mount_open(struct watchq_mount **out, const struct watchq_mount_opts *o)
{
	struct bpf_program *prog;
	struct watchq_mount *m;
	int err;

	*out = NULL;
	if (!o || !o->post || !o->gone)
		return -EINVAL;
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
	bpf_object__for_each_program(prog, m->skel->obj)
		bpf_program__set_autoload(prog, watchq_tracepoint_exists(
			bpf_program__section_name(prog) + strlen("tracepoint/")));
	err = mount_bpf__load(m->skel);
	if (!err)
		err = mount_bpf__attach(m->skel);
	if (err) {
		fprintf(stderr, "watchq mount: tracepoint rung: %s\n", strerror(-err));
		goto fail;
	}
	if (!lists_namespaces())
		m->rung = RUNG_MOUNTINFO;
	else if (!o->force_tracepoint && fanotify_has_mounts())
		m->rung = RUNG_FANOTIFY;
	else
		m->rung = RUNG_STATMOUNT;
	if (o->verbose)
		fprintf(stderr, "watchq mount: %s rung loaded\n", watchq_mount_rung(m));
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
	if (m->o.verbose)
		fprintf(stderr, "watchq mount: %llu whole-tree rereads, %llu mounts reread, "
			"%llu changes whose target was gone\n", (unsigned long long)m->rescans,
			(unsigned long long)m->rereads, (unsigned long long)m->unresolved);
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
	free(m->gone);
	free(m->flight);
	free(m->expiring);
	free(m->ev);
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
	static const char *const names[] = {
		[RUNG_FANOTIFY] = "fanotify+tracepoint",
		[RUNG_STATMOUNT] = "tracepoint+rescan",
		[RUNG_MOUNTINFO] = "tracepoint+mountinfo",
	};

	return names[m->rung];
}

void watchq_mount_describe(const struct watchq_mount *m, FILE *f)
{
	bool fan = m->rung == RUNG_FANOTIFY;
	char prog[64];

	fprintf(f, "mount: %s rung (", watchq_mount_rung(m));
	if (fan)
		fprintf(f, "fanotify FAN_MNT_ATTACH/DETACH per watched namespace; ");
	fprintf(f, "hints: tracepoint syscalls/sys_exit_{");
	for (size_t i = 0, first = 1; i < sizeof(hint_syscalls) / sizeof(hint_syscalls[0]); i++) {
		snprintf(prog, sizeof(prog), "syscalls/sys_exit_%s", hint_syscalls[i]);
		if (watchq_tracepoint_exists(prog)) {
			fprintf(f, "%s%s", first ? "" : ",", hint_syscalls[i]);
			first = 0;
		}
	}
	fprintf(f, "}%s)\n", fan ? "" : "; poll() on each watched namespace's mountinfo");
	if (fan)
		fprintf(f,
			"  per change: an attach, detach or move costs one statmount() of that\n"
			"    mount; an attribute change rereads the mount its syscall named (the\n"
			"    path resolved again from the caller's root and cwd), its subtree\n"
			"    (AT_RECURSIVE, MS_REC: listmount of the children) or its superblock's\n"
			"    mounts (remount, fsconfig reconfigure: the sb read from the fd in BPF)\n"
			"    if its caller exited first, the mounts whose mount point is its path\n"
			"  RESCANS (the whole tree) only when fanotify's queue overflowed or the\n"
			"    caller of an attribute change on a relative path exited first\n"
			"    (the daemon logs how many at exit, with -v)\n");
	else
		fprintf(f,
			"  RESCANS: without fanotify's mount events (Linux 6.15) no hook here says\n"
			"    what changed, so every hint rereads each watched namespace's whole\n"
			"    tree (%s) and compares it with the\n"
			"    last view: work grows with the mount table\n",
			m->rung == RUNG_MOUNTINFO ? "its mountinfo, without listmount/statmount\n"
						    "    of other namespaces (6.11)"
						  : "listmount + one statmount per mount");
	if (m->rung == RUNG_MOUNTINFO)
		fprintf(f,
			"  ids: the 32-bit ids of /proc/*/mountinfo (STATX_MNT_ID), which the\n"
			"    kernel reuses after an unmount; the 64-bit unique ids need 6.11\n");
	else
		fprintf(f,
			"  ids: 64-bit unique mount ids (STATX_MNT_ID_UNIQUE, statmount mnt_id),\n"
			"    not the 32-bit ids of /proc/*/mountinfo\n");
	fprintf(f,
		"  sees: mount(2) (new, bind, move, remount, propagation types), umount2\n"
		"    (MNT_DETACH: one UNMOUNT per mount of the tree), move_mount, fsconfig,\n"
		"    mount_setattr, pivot_root, shared-subtree propagation into any watched\n"
		"    namespace%s\n"
		"  EXPIRY: for umount2(MNT_EXPIRE) given the mount point; the kernel's own\n"
		"    expiry of automounts (NFS, CIFS, AFS timers) is a plain UNMOUNT\n"
		"  IS_SUBMOUNT: %s\n"
		"  attributes are read when the daemon handles the change: a change undone\n"
		"    before then is not seen, and %s\n"
		"  a rename of a directory holding a mount point %s\n",
		fan ? ", automounts" :
			      "; automounts, and unmounts by expiry, only\n"
			      "    when another change makes it reread the tree (no syscall hints them,\n"
			      "    and mountinfo's poll() does not fire for them)",
		fan ? "an attach by a process in no mount syscall (an automount;\n"
			      "    one its process triggered just before a mount syscall of its own\n"
			      "    may go unflagged)"
			    : "never set (a reread cannot say who made a mount)",
		fan ? "a mount gone before its attach is read is\n"
			      "    not reported (its parent can no longer be asked)"
			    : "a mount and its unmount between two\n    rereads are never seen",
		fan ? "is no move: not reported" : "shows as MOVE_FROM/TO");
}
