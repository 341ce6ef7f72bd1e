// SPDX-License-Identifier: GPL-2.0
/*
 * The consumers' socket: every request validated, every reply 0 or -errno.
 * Who the peer is comes only from the kernel (SO_PEERCRED, SO_PEERGROUPS),
 * never from anything the peer sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "block.h"
#include "keys.h"
#include "mount.h"
#include "sb.h"

#define MAX_FDS 4

static int make_dirs(const char *path)
{
	char *copy = strdup(path), *dir;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (strcmp(dir, "/") && strcmp(dir, ".") && access(dir, F_OK)) {
		err = make_dirs(dir);
		if (!err && mkdir(dir, 0755) && errno != EEXIST)
			err = -errno;
	}
	free(copy);
	return err;
}

int wqd_listen(struct wqd *d)
{
	const char *path = d->opts.socket_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "watchqd: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;

	/* A socket file someone answers on belongs to a running daemon; one
	 * nobody answers on is left over from a crash and can go. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		fprintf(stderr, "watchqd: %s is in use by a running daemon\n", path);
		close(fd);
		return -EADDRINUSE;
	}
	if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);

	err = make_dirs(path);
	if (err) {
		fprintf(stderr, "watchqd: cannot create the directory of %s: %s\n",
			path, strerror(-err));
		return err;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    /* Any local user may connect; what each may watch is checked
	     * per request. */
	    chmod(path, 0666) || listen(fd, 64)) {
		err = -errno;
		fprintf(stderr, "watchqd: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return err;
	}
	d->listen_fd = fd;
	return 0;
}

static struct wqd_user *user_get(struct wqd *d, uid_t uid)
{
	struct wqd_user *u;

	for (u = d->users; u; u = u->next)
		if (u->uid == uid)
			break;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return NULL;
		u->uid = uid;
		u->next = d->users;
		d->users = u;
	}
	u->refs++;
	return u;
}

static void user_put(struct wqd *d, struct wqd_user *u)
{
	struct wqd_user **p;

	if (--u->refs)
		return;
	for (p = &d->users; *p != u; p = &(*p)->next)
		;
	*p = u->next;
	free(u);
}

/* Root, or a member of the group --group names (primary or supplementary). */
static bool peer_privileged(struct wqd *d, int fd, uid_t uid, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);
	unsigned int i;

	if (uid == 0)
		return true;
	if (!d->opts.group_set)
		return false;
	if (gid == d->opts.group)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == d->opts.group)
			return true;
	return false;
}

/* Another connection of the same process: it still proves through BPF. */
static bool other_client_of(struct wqd *d, const struct wqd_client *c)
{
	const struct wqd_client *o;

	for (o = d->clients; o; o = o->next)
		if (o != c && o->pid == c->pid)
			return true;
	return false;
}

int wqd_accept(struct wqd *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct wqd_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		free(c);
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->privileged = peer_privileged(d, fd, cred.uid, cred.gid);
	c->user = user_get(d, cred.uid);
	ev.data.ptr = c;
	if (!c->user || epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		if (c->user)
			user_put(d, c->user);
		free(c);
		close(fd);
		return -ENOMEM;
	}
	/* Its keyctl(KEYCTL_DESCRIBE) calls are now how it proves what it may
	 * view. */
	if (d->keys && !other_client_of(d, c)) {
		int err = watchq_keys_add_prover(d->keys, c->pid);

		if (err)
			fprintf(stderr, "watchqd: keys: cannot follow pid %d's keyctl calls: %s\n",
				c->pid, strerror(-err));
		c->prover = !err;
	}
	c->next = d->clients;
	d->clients = c;
	wqd_log(d, 1, "client pid %d uid %u connected%s\n", c->pid, c->uid,
		c->privileged ? " (privileged)" : "");
	return 0;
}

static void unlink_watch(struct wqd *d, struct wqd_watch *w)
{
	struct wqd_watch **p;

	for (p = wqd_bucket(d, w->kind, w->object); *p != w; p = &(*p)->obj_next)
		;
	*p = w->obj_next;
	for (p = &w->client->watches; *p != w; p = &(*p)->client_next)
		;
	*p = w->client_next;
}

static bool object_watched(struct wqd *d, __u32 kind, __u64 object)
{
	struct wqd_watch *w;

	for (w = *wqd_bucket(d, kind, object); w; w = w->obj_next)
		if (w->kind == kind && w->object == object)
			return true;
	return false;
}

/*
 * Tell the source a watch begins: the key source's BPF map holds each
 * watched key once, the block programs run while any devices watch
 * exists, mount and superblock sources keep per-watch state.
 */
static int source_watch(struct wqd *d, struct wqd_client *c, __u32 kind,
			__u64 object, __u64 ns_id, int fd)
{
	switch (kind) {
	case WATCHQ_WATCH_KEY:
		return object_watched(d, kind, object) ? 0 :
		       watchq_keys_watch(d->keys, (__s32)object);
	case WATCHQ_WATCH_DEVICES:
		if (!d->device_watches++)
			watchq_block_enable(d->block, true);
		return 0;
	case WATCHQ_WATCH_MOUNT:
		return watchq_mount_watch(d->mount, c->pid, ns_id, object);
	case WATCHQ_WATCH_SB:
		return watchq_sb_watch(d->sb, c->pid, fd, object);
	}
	return -EINVAL;
}

/* The mirror image, once @w is no longer in the tables. */
static void source_unwatch(struct wqd *d, const struct wqd_watch *w)
{
	switch (w->kind) {
	case WATCHQ_WATCH_KEY:
		if (d->keys && !object_watched(d, w->kind, w->object))
			watchq_keys_unwatch(d->keys, (__s32)w->object);
		break;
	case WATCHQ_WATCH_DEVICES:
		if (!--d->device_watches)
			watchq_block_enable(d->block, false);
		break;
	case WATCHQ_WATCH_MOUNT:
		if (d->mount)
			watchq_mount_unwatch(d->mount, w->object);
		break;
	case WATCHQ_WATCH_SB:
		if (d->sb)
			watchq_sb_unwatch(d->sb, w->object);
		break;
	}
}

/* Forget a watch (no record); stop its source when nobody else watches. */
void wqd_drop_watch(struct wqd *d, struct wqd_watch *w)
{
	unlink_watch(d, w);
	w->client->user->watches--;
	source_unwatch(d, w);
	free(w);
}


void wqd_client_close(struct wqd *d, struct wqd_client *c)
{
	struct wqd_client **p;

	wqd_log(d, 1, "client pid %d uid %u gone\n", c->pid, c->uid);
	/* Closing a queue drops its watches without records, as mainline. */
	while (c->watches)
		wqd_drop_watch(d, c->watches);
	/* Another connection of this process takes over its proving. */
	if (c->prover) {
		struct wqd_client *o;

		for (o = d->clients; o && (o == c || o->pid != c->pid); o = o->next)
			;
		if (o)
			o->prover = true;
		else
			watchq_keys_del_prover(d->keys, c->pid);
	}
	if (c->q) {
		struct wqd_queue **w;

		/* A wake-up may be pending for it within this batch. */
		for (w = &d->wakes; *w; w = &(*w)->wake_next)
			if (*w == c->q) {
				*w = c->q->wake_next;
				break;
			}
		c->user->queues--;
		c->user->pages -= c->q->pages;
		wqd_queue_free(c->q);
	}
	user_put(d, c->user);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	for (p = &d->clients; *p != c; p = &(*p)->next)
		;
	*p = c->next;
	free(c);
}

static int send_reply(struct wqd_client *c, const struct watchq_msg *req, int err,
		      const void *body, size_t blen, const int *fds, int nfds)
{
	char buf[sizeof(struct watchq_msg) + 64];
	union {
		char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct watchq_msg *m = (void *)buf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(*m) + blen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(buf, 0, sizeof(buf));
	m->len = (__u32)iov.iov_len;
	m->version = WATCHQ_PROTO_VERSION;
	m->op = req->op;
	m->seq = req->seq;
	m->err = err;
	memcpy(buf + sizeof(*m), body, blen);
	if (nfds) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	/* Never block on a consumer: one that does not read its replies
	 * loses its connection. */
	if (sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)iov.iov_len)
		return -errno ? -errno : -EIO;
	return 0;
}

static int op_open(struct wqd *d, struct wqd_client *c, const void *body,
		   size_t blen, struct watchq_msg_opened *out)
{
	struct watchq_msg_open o;
	struct wqd_user *u = c->user;
	int err;

	if (blen != sizeof(o))
		return -EINVAL;
	memcpy(&o, body, sizeof(o));
	if (o.flags)
		return -EINVAL;
	if (c->q)
		return -EBUSY;
	if (u->queues >= d->opts.max_queues ||
	    u->pages + o.pages > d->opts.max_user_pages)
		return -EDQUOT;
	err = wqd_queue_new(&c->q, o.pages, d->opts.max_pages);
	if (err)
		return err;
	u->queues++;
	u->pages += o.pages;
	out->pages = o.pages;
	out->bytes = (__u32)c->q->bytes;
	wqd_log(d, 1, "client pid %d: queue of %u pages\n", c->pid, o.pages);
	return 0;
}

static int op_set_filter(struct wqd_client *c, const void *body, size_t blen)
{
	int err;

	if (!blen) {
		c->q->has_filter = false;
		return 0;
	}
	err = watchq_filter_build(&c->q->filter, body, blen);
	if (err)
		return err;
	c->q->has_filter = true;
	return 0;
}

static struct wqd_watch *find_watch(struct wqd_client *c, __u32 kind, __u64 object)
{
	struct wqd_watch *w;

	for (w = c->watches; w; w = w->client_next)
		if (w->kind == kind && w->object == object)
			return w;
	return NULL;
}

/* What a watch request names, checked against who is asking. */
static int watch_object(struct wqd *d, struct wqd_client *c,
			const struct watchq_msg_watch *m, int nfds, int fd, bool add,
			__u64 *object, __u64 *ns_id)
{
	int err;

	/* Paths come as exactly one O_PATH fd; nothing else carries one. */
	if (nfds != (m->kind == WATCHQ_WATCH_MOUNT || m->kind == WATCHQ_WATCH_SB))
		return -EINVAL;
	switch (m->kind) {
	case WATCHQ_WATCH_KEY:
		if (m->id <= 0 || m->id > INT32_MAX)
			return -EINVAL;
		if (!d->keys)
			return -EOPNOTSUPP;
		/* Removing needs no proof: it only touches this queue. */
		if (add) {
			err = watchq_keys_check_view(d->keys, c->pid, (__s32)m->id);
			if (err)
				return err;
		}
		*object = (__u64)m->id;
		return 0;
	case WATCHQ_WATCH_DEVICES:
		if (m->id)
			return -EINVAL;
		if (!c->privileged)
			return -EPERM;
		if (!d->block)
			return -EOPNOTSUPP;
		*object = 0;
		return 0;
	case WATCHQ_WATCH_MOUNT:
		if (m->id)
			return -EINVAL;
		if (!d->mount)
			return -EOPNOTSUPP;
		/* The unique id of the fd's mount, if in the peer's namespace. */
		return watchq_mount_resolve(d->mount, c->pid, fd, object, ns_id);
	case WATCHQ_WATCH_SB:
		if (m->id)
			return -EINVAL;
		if (!c->privileged)
			return -EPERM;
		if (!d->sb)
			return -EOPNOTSUPP;
		return watchq_sb_resolve(fd, object);
	default:
		return -EINVAL;
	}
}

static int op_watch(struct wqd *d, struct wqd_client *c, const void *body,
		    size_t blen, int nfds, int fd, bool add)
{
	struct watchq_msg_watch m;
	struct wqd_watch *w;
	__u64 object, ns_id = 0;
	int err;

	if (blen != sizeof(m))
		return -EINVAL;
	memcpy(&m, body, sizeof(m));
	if (m.watch_id > 255)
		return -EINVAL;
	err = watch_object(d, c, &m, nfds, fd, add, &object, &ns_id);
	if (err)
		return err;

	w = find_watch(c, m.kind, object);
	if (!add) {
		if (!w)
			return -EBADSLT;
		/* Removal record first, so it carries the watch's id. */
		wqd_post_removal(d, w);
		wqd_drop_watch(d, w);
		return 0;
	}
	if (w)
		return -EBUSY;
	if (c->user->watches >= d->opts.max_watches)
		return -EDQUOT;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	err = source_watch(d, c, m.kind, object, ns_id, fd);
	if (err) {
		free(w);
		return err;
	}
	w->kind = m.kind;
	w->object = object;
	w->watch_id = (__u8)m.watch_id;
	w->client = c;
	w->obj_next = *wqd_bucket(d, m.kind, object);
	*wqd_bucket(d, m.kind, object) = w;
	w->client_next = c->watches;
	c->watches = w;
	c->user->watches++;
	wqd_log(d, 1, "client pid %d: watch kind %u object %llu id %u\n", c->pid,
		m.kind, (unsigned long long)object, m.watch_id);
	return 0;
}

/* Read one request; answer it.  A broken connection ends the client. */
void wqd_client_input(struct wqd *d, struct wqd_client *c)
{
	char buf[WATCHQ_MSG_MAX];
	union {
		char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b) };
	struct watchq_msg req = { 0 };
	struct watchq_msg_opened opened = { 0 };
	struct cmsghdr *cm;
	int fds[MAX_FDS], nfds = 0, err, i;
	ssize_t n;

	n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		wqd_client_close(d, c);
		return;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int)); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (nfds < MAX_FDS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}

	if ((size_t)n >= sizeof(req))
		memcpy(&req, buf, sizeof(req));
	if ((size_t)n < sizeof(req) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    req.len != (__u32)n || req.err)
		err = -EINVAL;
	else if (req.version != WATCHQ_PROTO_VERSION)
		err = -EPROTO;
	else if (req.op != WATCHQ_OP_OPEN && req.op != WATCHQ_OP_STATS &&
		 req.op != WATCHQ_OP_SET_FILTER && req.op != WATCHQ_OP_WATCH &&
		 req.op != WATCHQ_OP_UNWATCH && req.op != WATCHQ_OP_SYNC)
		err = -EOPNOTSUPP;
	else if (req.op != WATCHQ_OP_OPEN && !c->q)
		err = -EBADFD;
	/* Only mount and superblock watches carry an fd. */
	else if (nfds > (req.op == WATCHQ_OP_WATCH || req.op == WATCHQ_OP_UNWATCH))
		err = -EINVAL;
	else
		err = 0;

	if (!err) {
		const void *body = buf + sizeof(req);
		size_t blen = (size_t)n - sizeof(req);
		int fd = nfds ? fds[0] : -1;

		/* Closed before the reply: a client that unmounts the path it
		 * just watched must not find it busy with our copy. */
		nfds = 0;

		switch (req.op) {
		case WATCHQ_OP_OPEN:
			err = op_open(d, c, body, blen, &opened);
			if (!err) {
				int out[2] = { c->q->memfd, c->q->eventfd };

				err = send_reply(c, &req, 0, &opened, sizeof(opened), out, 2);
				goto sent;
			}
			break;
		case WATCHQ_OP_SET_FILTER:
			err = op_set_filter(c, body, blen);
			break;
		case WATCHQ_OP_UNWATCH:
			/* what the kernel produced before the request still
			 * reaches the watch */
			wqd_catch_up(d);
			/* fall through */
		case WATCHQ_OP_WATCH:
			err = op_watch(d, c, body, blen, fd >= 0, fd,
				       req.op == WATCHQ_OP_WATCH);
			break;
		case WATCHQ_OP_SYNC:
			err = blen ? -EINVAL : 0;
			if (!err)
				wqd_catch_up(d);
			break;
		case WATCHQ_OP_STATS:
			if (blen) {
				err = -EINVAL;
				break;
			}
			err = send_reply(c, &req, 0, &c->q->stats, sizeof(c->q->stats), NULL, 0);
			goto sent;
		}
		if (fd >= 0)
			close(fd);
	}
	if (err)
		wqd_log(d, 1, "client pid %d: op %u: %s\n", c->pid, req.op, strerror(-err));
	err = send_reply(c, &req, err, NULL, 0, NULL, 0);
sent:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (err)
		wqd_client_close(d, c);
	wqd_flush_wakes(d);	/* an unwatch may have posted a removal */
}
