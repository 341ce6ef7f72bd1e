// SPDX-License-Identifier: GPL-2.0
/*
 * watchqd: loads the BPF sources, and hands each consumer that connects to
 * its socket its own mmap'able ring in the v5 layout, fed from the records
 * the BPF programs produce for the objects that consumer watches.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "daemon.h"
#include "block.h"
#include "keys.h"
#include "mount.h"
#include "sb.h"
#include "names.h"


static const char usage[] =
"Usage: watchqd [OPTION]...\n"
"Load watchq's BPF sources and serve notification queues to consumers.\n"
"\n"
"  -s, --sources LIST       sources to enable, comma-separated: keys, block,\n"
"                           mount, sb, all\n"
"                           (default: all)\n"
"  -f, --filter SPEC        only produce TYPE[:SUBTYPE,...] records of that type\n"
"                           (repeatable; applied in BPF; removals always pass)\n"
"  -S, --socket PATH        listen on PATH (default: $WATCHQ_SOCKET, else\n"
"                           " WATCHQ_SOCKET_DEFAULT ")\n"
"      --max-pages N        largest ring a consumer may ask for (default 16)\n"
"  -g, --group GROUP        group allowed to watch devices and superblocks\n"
"                           (default: root only)\n"
"      --max-queues N       queues per user (default 64)\n"
"      --max-watches N      watches per user (default 1024)\n"
"      --max-user-pages N   ring pages per user over all queues (default 1024)\n"
"      --force-tracepoint   use the tracepoint rung even where fentry works\n"
"      --probe              print each source's rung and its limits, then exit\n"
"  -v, --verbose            more messages (repeatable)\n"
"  -h, --help               this help\n"
"  -V, --version            the version\n";

static volatile sig_atomic_t quiet_libbpf = 1;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (quiet_libbpf && level == LIBBPF_INFO))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* The CLI's number parser (user/names.c), with the daemon's message. */
static int parse_uint(const char *s, const char *what, unsigned int *out)
{
	__u32 v;

	if (watchq_parse_u32(s, 1u << 24, &v)) {
		fprintf(stderr, "watchqd: invalid %s: '%s'\n", what, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_group(const char *s, gid_t *gid)
{
	struct group *g = getgrnam(s);
	unsigned int v;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	if (parse_uint(s, "group", &v))
		return -EINVAL;
	*gid = v;
	return 0;
}

static int parse_sources(struct wqd_opts *o, const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	o->enable_keys = o->enable_block = o->enable_mount = o->enable_sb = false;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "keys") || !strcmp(tok, "key")) {
			o->enable_keys = true;
		} else if (!strcmp(tok, "block") || !strcmp(tok, "devices")) {
			o->enable_block = true;
		} else if (!strcmp(tok, "mount") || !strcmp(tok, "mounts")) {
			o->enable_mount = true;
		} else if (!strcmp(tok, "sb") || !strcmp(tok, "superblocks")) {
			o->enable_sb = true;
		} else if (!strcmp(tok, "all")) {
			o->enable_keys = o->enable_block = true;
			o->enable_mount = o->enable_sb = true;
		} else {
			fprintf(stderr, "watchqd: unknown source '%s' (keys, block, mount, sb, all)\n",
				tok);
			err = -EINVAL;
		}
	}
	free(copy);
	return err;
}

/* --filter TYPE[:SUBTYPE,...]: the first filter naming a type narrows that
 * type to the subtypes listed; later ones add to it. */
static int parse_filter(struct wqd_opts *o, bool named[WATCHQ_TYPE___NR], const char *spec)
{
	union watchq_filter_spec fs = { 0 };
	const struct watchq_notification_type_filter *tf = &fs.f.filters[0];
	char why[128];
	unsigned int i;

	if (watchq_filter_spec_add(&fs, spec, why, sizeof(why))) {
		fprintf(stderr, "watchqd: invalid filter '%s': %s\n", spec, why);
		return -EINVAL;
	}
	if (tf->type == WATCHQ_TYPE_META || tf->type >= WATCHQ_TYPE___NR) {
		fprintf(stderr, "watchqd: invalid filter '%s': not a source's type\n", spec);
		return -EINVAL;
	}
	/* Producers have at most 32 subtypes; only the first word matters. */
	for (i = 1; i < 8; i++)
		if (tf->subtype_filter[i] && tf->subtype_filter[i] != ~0u) {
			fprintf(stderr, "watchqd: invalid filter '%s': subtype above 31\n", spec);
			return -EINVAL;
		}
	if (!named[tf->type])
		o->subtypes[tf->type] = 0;
	named[tf->type] = true;
	o->subtypes[tf->type] |= tf->subtype_filter[0];
	return 0;
}

static int parse_args(struct wqd_opts *o, bool *probe, int argc, char **argv)
{
	enum { OPT_MAX_PAGES = 256, OPT_MAX_QUEUES, OPT_MAX_WATCHES,
	       OPT_MAX_USER_PAGES, OPT_FORCE_TP, OPT_PROBE };
	static const struct option longopts[] = {
		{ "sources", required_argument, NULL, 's' },
		{ "filter", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 'S' },
		{ "max-pages", required_argument, NULL, OPT_MAX_PAGES },
		{ "group", required_argument, NULL, 'g' },
		{ "max-queues", required_argument, NULL, OPT_MAX_QUEUES },
		{ "max-watches", required_argument, NULL, OPT_MAX_WATCHES },
		{ "max-user-pages", required_argument, NULL, OPT_MAX_USER_PAGES },
		{ "force-tracepoint", no_argument, NULL, OPT_FORCE_TP },
		{ "probe", no_argument, NULL, OPT_PROBE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	bool named[WATCHQ_TYPE___NR] = { 0 };
	unsigned int i;
	int c, err = 0;

	o->socket_path = getenv(WATCHQ_SOCKET_ENV);
	if (!o->socket_path || !*o->socket_path)
		o->socket_path = WATCHQ_SOCKET_DEFAULT;
	o->max_pages = WATCHQ_RING_DEFAULT_MAX_PAGES;
	o->max_queues = 64;
	o->max_watches = 1024;
	o->max_user_pages = 1024;
	o->enable_keys = o->enable_block = o->enable_mount = o->enable_sb = true;
	for (i = 0; i < WATCHQ_TYPE___NR; i++)
		o->subtypes[i] = ~0u;

	while (!err && (c = getopt_long(argc, argv, "s:f:S:g:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->sources_given = true;
			err = parse_sources(o, optarg);
			break;
		case 'f':
			err = parse_filter(o, named, optarg);
			break;
		case 'S':
			o->socket_path = optarg;
			break;
		case 'g':
			err = parse_group(optarg, &o->group);
			o->group_set = true;
			break;
		case OPT_MAX_PAGES:
			err = parse_uint(optarg, "--max-pages", &o->max_pages);
			if (!err && watchq_ring_bytes(1, o->max_pages) < 0) {
				fprintf(stderr, "watchqd: --max-pages must be at most %u\n",
					WATCHQ_RING_LIMIT_PAGES);
				err = -EINVAL;
			}
			break;
		case OPT_MAX_QUEUES:
			err = parse_uint(optarg, "--max-queues", &o->max_queues);
			break;
		case OPT_MAX_WATCHES:
			err = parse_uint(optarg, "--max-watches", &o->max_watches);
			break;
		case OPT_MAX_USER_PAGES:
			err = parse_uint(optarg, "--max-user-pages", &o->max_user_pages);
			break;
		case OPT_FORCE_TP:
			o->force_tracepoint = true;
			break;
		case OPT_PROBE:
			*probe = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			printf("watchqd %s\n", WATCHQ_VERSION);
			exit(0);
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (!err && optind < argc) {
		fprintf(stderr, "watchqd: unexpected argument '%s'\n", argv[optind]);
		err = -EINVAL;
	}
	if (!err && !o->enable_keys && !o->enable_block && !o->enable_mount && !o->enable_sb) {
		fprintf(stderr, "watchqd: no source enabled\n");
		err = -EINVAL;
	}
	return err;
}

/* The record's length in slots if @size holds it whole, else 0. */
static __u32 record_len(struct wqd *d, const void *data, size_t size)
{
	const struct watchq_notification *n = data;
	__u32 len;

	if (size < sizeof(*n))
		return 0;
	len = n->info & WATCHQ_INFO_LENGTH;
	if (!len || len * WATCHQ_LENGTH_GRANULARITY > size)
		return 0;
	if (d->opts.verbose >= 2)
		fprintf(stderr, "watchqd: bpf: type %u subtype %u info %#x\n",
			n->type, n->subtype, n->info);
	return len;
}

/* Records from the key source: fan out by key, or end the watches of a key
 * the kernel destroyed. */
static int on_keys_record(void *ctx, void *data, size_t size)
{
	const struct watchq_notification *n = data;
	struct wqd *d = ctx;
	__u32 len = record_len(d, data, size);

	if (n->type == WATCHQ_TYPE_KEY_NOTIFY && len >= 2) {
		const struct watchq_key_notification *k = data;

		wqd_fan_out(d, WATCHQ_WATCH_KEY, k->key_id, n);
	} else if (n->type == WATCHQ_TYPE_META &&
		   n->subtype == WATCHQ_META_REMOVAL_NOTIFICATION && len >= 2) {
		const struct watchq_notification_removal *r = data;
		struct wqd_watch **b = wqd_bucket(d, WATCHQ_WATCH_KEY, r->id), *w, *next;

		/* Each watch of the destroyed key gets its removal and ends. */
		for (w = *b; w; w = next) {
			next = w->obj_next;
			if (w->kind == WATCHQ_WATCH_KEY && w->object == r->id) {
				wqd_deliver(d, w, n);
				wqd_drop_watch(d, w);
			}
		}
	}
	return 0;
}

/* Records from the block source: every devices watch gets each. */
static int on_block_record(void *ctx, void *data, size_t size)
{
	struct watchq_block_notification b;
	struct wqd *d = ctx;

	if (record_len(d, data, size) != 3 ||
	    ((struct watchq_notification *)data)->type != WATCHQ_TYPE_BLOCK_NOTIFY)
		return 0;
	/* the ring buffer's pages are read-only: accept() may edit a copy */
	memcpy(&b, data, sizeof(b));
	if (watchq_block_accept(d->block, &b))
		wqd_fan_out(d, WATCHQ_WATCH_DEVICES, 0, &b.watch);
	return 0;
}

/* The mount source's BPF side only hints; the records come from rereading
 * the watched trees (on_mount_change). */
static int on_mount_record(void *ctx, void *data, size_t size)
{
	struct wqd *d = ctx;

	if (record_len(d, data, size))
		watchq_mount_on_hint(d->mount, data, size);
	return 0;
}

/* A mount record: the watches on the mount it happened on get it as it is,
 * those on each ancestor with IN_SUBTREE. */
static void on_mount_change(void *ctx, const struct watchq_mount_notification *n,
			    const __u64 *chain, unsigned int len)
{
	struct watchq_mount_notification r = *n;
	struct wqd *d = ctx;

	for (unsigned int i = 0; i < len; i++) {
		if (i == 1)
			r.watch.info |= WATCHQ_NOTIFY_MOUNT_IN_SUBTREE;
		wqd_fan_out(d, WATCHQ_WATCH_MOUNT, chain[i], &r.watch);
	}
}

/* A watched mount was unmounted: its watches get their removal and end. */
static void on_mount_gone(void *ctx, __u64 mnt_id)
{
	struct wqd_watch **b, *w, *next;
	struct wqd *d = ctx;

	b = wqd_bucket(d, WATCHQ_WATCH_MOUNT, mnt_id);
	for (w = *b; w; w = next) {
		next = w->obj_next;
		if (w->kind == WATCHQ_WATCH_MOUNT && w->object == mnt_id) {
			wqd_post_removal(d, w);
			wqd_drop_watch(d, w);
		}
	}
}

/* Records from the superblock source, by sb_id (hints are handled there). */
static int on_sb_record(void *ctx, void *data, size_t size)
{
	const struct watchq_superblock_notification *n = data;
	struct wqd *d = ctx;

	if (record_len(d, data, size) >= 2 && watchq_sb_accept(d->sb, data, size))
		wqd_fan_out(d, WATCHQ_WATCH_SB, n->sb_id, &n->watch);
	return 0;
}

static void on_sb_change(void *ctx, const struct watchq_notification *n, __u64 sb_id)
{
	wqd_fan_out(ctx, WATCHQ_WATCH_SB, sb_id, n);
}

/* The BPF sources, in the order of d->dropped[]: what the event loop and
 * --probe need from each. */
#define SOURCE(x, kind) {						\
	.name = #x,							\
	.watch_kind = kind,						\
	.on_record = on_##x##_record,					\
	.loaded = x##_loaded,						\
	.ringbuf_fd = x##_ringbuf_fd,					\
	.dropped = x##_dropped,						\
	.rung = x##_rung,						\
	.describe = x##_describe,					\
}
#define SOURCE_OPS(x)							\
static bool x##_loaded(const struct wqd *d) { return d->x; }		\
static int x##_ringbuf_fd(const struct wqd *d)				\
{ return watchq_##x##_ringbuf_fd(d->x); }				\
static __u64 x##_dropped(const struct wqd *d)				\
{ return watchq_##x##_dropped(d->x); }					\
static const char *x##_rung(const struct wqd *d)			\
{ return watchq_##x##_rung(d->x); }					\
static void x##_describe(const struct wqd *d, FILE *f)			\
{ watchq_##x##_describe(d->x, f); }
SOURCE_OPS(keys)
SOURCE_OPS(block)
SOURCE_OPS(mount)
SOURCE_OPS(sb)

static const struct source {
	const char *name;
	__u32 watch_kind;	/* its losses concern queues with such a watch */
	ring_buffer_sample_fn on_record;
	bool (*loaded)(const struct wqd *d);
	int (*ringbuf_fd)(const struct wqd *d);
	__u64 (*dropped)(const struct wqd *d);
	const char *(*rung)(const struct wqd *d);
	void (*describe)(const struct wqd *d, FILE *f);
} sources[WQD_SOURCES] = {
	SOURCE(keys, WATCHQ_WATCH_KEY),
	SOURCE(block, WATCHQ_WATCH_DEVICES),
	SOURCE(mount, WATCHQ_WATCH_MOUNT),
	SOURCE(sb, WATCHQ_WATCH_SB),
};

/* Records a BPF source could not queue: every queue that might have wanted
 * one is told, so no loss goes unflagged. */
static void account_bpf_drops(struct wqd *d, const struct source *s, __u64 *seen)
{
	struct wqd_client *c;
	__u64 dropped = s->dropped(d), delta;

	if (dropped <= *seen)
		return;
	delta = dropped - *seen;
	*seen = dropped;
	fprintf(stderr, "watchqd: %s: BPF ring buffer full: %llu records lost\n",
		s->name, (unsigned long long)delta);
	for (c = d->clients; c; c = c->next) {
		struct wqd_watch *w;

		for (w = c->watches; w && w->kind != s->watch_kind; w = w->client_next)
			;
		if (w) {
			watchq_producer_mark_lost(&c->q->prod);
			c->q->stats.lost += delta;
		}
	}
	/* A lost mount hint leaves the mount source's view behind: after the
	 * loss flag, it posts what changed meanwhile. */
	if (s->watch_kind == WATCHQ_WATCH_MOUNT && d->mount)
		watchq_mount_resync(d->mount);
}

void wqd_drain(struct wqd *d)
{
	int err = ring_buffer__consume(d->rb);

	if (err < 0 && err != -EINTR)
		fprintf(stderr, "watchqd: ring buffer: %s\n", strerror(-err));
	for (int i = 0; i < WQD_SOURCES; i++)
		if (sources[i].loaded(d))
			account_bpf_drops(d, &sources[i], &d->dropped[i]);
	wqd_flush_wakes(d);
}

/* The BPF hints first: a mount syscall's entry hint precedes what fanotify
 * queues for it (user/mount.c tells automounts so), an ext4 error's
 * tracepoint its fanotify error event. */
void wqd_catch_up(struct wqd *d)
{
	wqd_drain(d);
	if (d->mount)
		watchq_mount_poll(d->mount);
	if (d->sb)
		watchq_sb_poll(d->sb);
}

static int setup_signals(struct wqd *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->signal_fd < 0 ? -errno : 0;
}

static int epoll_add(struct wqd *d, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int serve(struct wqd *d)
{
	struct epoll_event evs[64];
	int n, i, err;

	for (;;) {
		n = epoll_wait(d->epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &d->signal_fd) {
				struct signalfd_siginfo si;

				if (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
					wqd_log(d, 1, "signal %u: stopping\n", si.ssi_signo);
					return 0;
				}
			} else if (tag == &d->listen_fd) {
				err = wqd_accept(d);
				if (err && err != -EAGAIN)
					wqd_log(d, 1, "accept: %s\n", strerror(-err));
			} else if (tag == &d->rb) {
				wqd_drain(d);
			} else if (tag == &d->mount || tag == &d->sb) {
				wqd_catch_up(d);
				wqd_flush_wakes(d);
			} else {
				struct wqd_client *c = tag;

				/* A client closed in this batch is never
				 * reached: its fd left the epoll set first,
				 * and epoll reports no event for it after. */
				wqd_client_input(d, c);
			}
		}
	}
}

static bool bpf_available(void)
{
	return libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL) == 1;
}

/*
 * A source this kernel cannot carry (no syscall tracepoints, say): fatal
 * when --sources asked for it, else the daemon goes on without it and
 * --probe says why.
 */
static bool source_failed(struct wqd *d, int idx, int err)
{
	d->load_err[idx] = err;
	if (d->opts.sources_given) {
		fprintf(stderr, "watchqd: %s: cannot load: %s\n", sources[idx].name,
			strerror(-err));
		return true;
	}
	fprintf(stderr, "watchqd: %s: not available here: %s\n", sources[idx].name,
		strerror(-err));
	return false;
}

int main(int argc, char **argv)
{
	struct watchq_keys_opts ko = { 0 };
	struct watchq_block_opts bo = { 0 };
	struct wqd *d = calloc(1, sizeof(*d));
	bool probe = false;
	int err, rc = 1, i;

	if (!d)
		return 1;
	d->listen_fd = d->signal_fd = d->epfd = -1;
	if (parse_args(&d->opts, &probe, argc, argv))
		return 2;
	/* Blocked from the start: a stop request that comes while the BPF
	 * programs load waits in the signalfd and ends the daemon cleanly. */
	if (setup_signals(d)) {
		fprintf(stderr, "watchqd: cannot set up signals: %s\n", strerror(errno));
		return 1;
	}
	quiet_libbpf = d->opts.verbose < 2;
	libbpf_set_print(libbpf_print);

	if (geteuid() != 0) {
		fprintf(stderr, "watchqd: must run as root (try: sudo watchqd)\n");
		return 1;
	}
	if (!bpf_available()) {
		fprintf(stderr, "watchqd: BPF is unavailable: this kernel refuses to load "
			"a tracepoint program (CONFIG_BPF_SYSCALL, or a lockdown/LSM policy)\n");
		return 1;
	}
	/* Older kernels charge BPF maps to RLIMIT_MEMLOCK. */
	setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY });

	/* Check the socket before loading anything, so a second daemon fails
	 * fast and leaves the first alone. */
	if (!probe && wqd_listen(d))
		goto out;

	ko.force_tracepoint = d->opts.force_tracepoint;
	ko.subtypes = d->opts.subtypes[WATCHQ_TYPE_KEY_NOTIFY];
	ko.verbose = d->opts.verbose;
	if (d->opts.enable_keys) {
		err = watchq_keys_open(&d->keys, &ko);
		if (err && source_failed(d, 0, err))
			goto out;
	}
	bo.force_tracepoint = d->opts.force_tracepoint;
	bo.subtypes = d->opts.subtypes[WATCHQ_TYPE_BLOCK_NOTIFY];
	bo.verbose = d->opts.verbose;
	if (d->opts.enable_block) {
		err = watchq_block_open(&d->block, &bo);
		if (err && source_failed(d, 1, err))
			goto out;
	}
	if (d->opts.enable_mount) {
		struct watchq_mount_opts mo = {
			.force_tracepoint = d->opts.force_tracepoint,
			.subtypes = d->opts.subtypes[WATCHQ_TYPE_MOUNT_NOTIFY],
			.verbose = d->opts.verbose,
			.post = on_mount_change,
			.gone = on_mount_gone,
			.ctx = d,
		};

		err = watchq_mount_open(&d->mount, &mo);
		if (err && source_failed(d, 2, err))
			goto out;
	}
	if (d->opts.enable_sb) {
		struct watchq_sb_opts so = {
			.force_tracepoint = d->opts.force_tracepoint,
			.subtypes = d->opts.subtypes[WATCHQ_TYPE_SB_NOTIFY],
			.verbose = d->opts.verbose,
			.post = on_sb_change,
			.ctx = d,
		};

		err = watchq_sb_open(&d->sb, &so);
		if (err && source_failed(d, 3, err))
			goto out;
	}
	for (i = 0; i < WQD_SOURCES && !sources[i].loaded(d); i++)
		;
	if (i == WQD_SOURCES) {
		fprintf(stderr, "watchqd: no source could be loaded\n");
		goto out;
	}
	if (probe) {
		for (i = 0; i < WQD_SOURCES; i++)
			if (sources[i].loaded(d))
				sources[i].describe(d, stdout);
			else if (d->load_err[i])
				printf("%s: not available here: %s\n", sources[i].name,
				       strerror(-d->load_err[i]));
			else
				printf("%s: not enabled (--sources)\n", sources[i].name);
		rc = 0;
		goto out;
	}

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	/* One libbpf ring buffer polls every source's BPF ring buffer. */
	for (i = 0, err = 0; i < WQD_SOURCES && !err; i++) {
		const struct source *s = &sources[i];

		if (!s->loaded(d))
			continue;
		if (!d->rb)
			err = (d->rb = ring_buffer__new(s->ringbuf_fd(d), s->on_record,
							d, NULL)) ? 0 : -errno;
		else
			err = ring_buffer__add(d->rb, s->ringbuf_fd(d), s->on_record, d);
		fprintf(stderr, "watchqd: %s: %s rung\n", s->name, s->rung(d));
	}
	if (err || d->epfd < 0 ||
	    epoll_add(d, d->listen_fd, &d->listen_fd) ||
	    epoll_add(d, d->signal_fd, &d->signal_fd) ||
	    epoll_add(d, ring_buffer__epoll_fd(d->rb), &d->rb) ||
	    (d->mount && epoll_add(d, watchq_mount_poll_fd(d->mount), &d->mount)) ||
	    (d->sb && epoll_add(d, watchq_sb_poll_fd(d->sb), &d->sb))) {
		fprintf(stderr, "watchqd: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	fprintf(stderr, "watchqd: listening on %s\n", d->opts.socket_path);
	err = serve(d);
	if (err)
		fprintf(stderr, "watchqd: %s\n", strerror(-err));
	else
		rc = 0;
out:
	while (d->clients)
		wqd_client_close(d, d->clients);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->opts.socket_path);
	}
	ring_buffer__free(d->rb);
	if (d->keys)
		watchq_keys_close(d->keys);
	if (d->block)
		watchq_block_close(d->block);
	watchq_mount_close(d->mount);
	watchq_sb_close(d->sb);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	while (d->users) {
		struct wqd_user *u = d->users;

		d->users = u->next;
		free(u);
	}
	free(d);
	return rc;
}
