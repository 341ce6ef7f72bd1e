// SPDX-License-Identifier: GPL-2.0
/*
 * watchq: print the notifications of one queue, one line per record.
 * See man/watchq.1 for the options, the line formats and the exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include "watchq.h"
#include "names.h"
#include "proto.h"


#define EXIT_USAGE	2
#define EXIT_TIMEOUT	3

static const char usage_text[] =
"Usage: watchq [OPTION]... WATCH...\n"
"Print the notifications of a watchq queue, one line per record.\n"
"\n"
"WATCH is one of, each with an optional =WATCH_ID (0-255, default 0):\n"
"  key:ID        a key or keyring: a serial, or @t @p @s @u @us @g @a @r\n"
"  mount:PATH    the mount subtree at PATH\n"
"  sb:PATH       the superblock holding PATH\n"
"  devices       errors of every block device\n"
"\n"
"Options:\n"
"  -s, --socket=PATH   watchqd's socket (default $" WATCHQ_SOCKET_ENV ", else\n"
"                      " WATCHQ_SOCKET_DEFAULT ")\n"
"  -p, --pages=N       ring size in pages, a power of two (default 4)\n"
"  -f, --filter=SPEC   pass only TYPE[:SUBTYPE,...] (repeatable, at most 16)\n"
"  -j, --json          one JSON object per line\n"
"  -c, --count=N       exit 0 after N records (0: right after setting up)\n"
"  -t, --timeout=S     exit 3 if they have not come S seconds after set-up\n"
"  -h, --help          show this help\n"
"  -V, --version       show the version\n"
"\n"
"Exit status: 0 done (count reached, SIGINT or SIGTERM), 1 error,\n"
"2 bad arguments, 3 timeout.\n";

static const struct option long_opts[] = {
	{ "socket",	required_argument,	NULL, 's' },
	{ "pages",	required_argument,	NULL, 'p' },
	{ "filter",	required_argument,	NULL, 'f' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "count",	required_argument,	NULL, 'c' },
	{ "timeout",	required_argument,	NULL, 't' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	const char *socket;
	unsigned int pages;
	union watchq_filter_spec filter;
	bool json;
	bool has_count;
	__u32 count;
	int timeout_ms;		/* -1: none */
	struct watchq_watch_spec *watches;
	const char **watch_args;
	unsigned int nr_watches;
};

__attribute__((noreturn, format(printf, 1, 2)))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("watchq: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nUsage: watchq [OPTION]... WATCH...\n"
	      "Try 'watchq --help' for more information.\n", stderr);
	exit(EXIT_USAGE);
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	char err[256];
	__u32 v;
	int c, i;

	o->timeout_ms = -1;
	o->pages = WATCHQ_DEFAULT_PAGES;
	while ((c = getopt_long(argc, argv, "s:p:f:jc:t:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'p':
			if (watchq_parse_u32(optarg, 1u << 16, &v) || !v || (v & (v - 1)))
				usage_error("--pages: '%s' is not a power of two from 1 to 65536",
					    optarg);
			o->pages = v;
			break;
		case 'f':
			if (watchq_filter_spec_add(&o->filter, optarg, err, sizeof(err)))
				usage_error("--filter %s: %s", optarg, err);
			break;
		case 'j':
			o->json = true;
			break;
		case 'c':
			if (watchq_parse_u32(optarg, UINT32_MAX, &o->count))
				usage_error("--count: '%s' is not a number", optarg);
			o->has_count = true;
			break;
		case 't':
			if (watchq_parse_timeout_ms(optarg, &o->timeout_ms))
				usage_error("--timeout: '%s' is not a number of seconds (S or S.FFF)",
					    optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(fflush(stdout) ? 1 : 0);
		case 'V':
			printf("watchq %s\n", WATCHQ_VERSION);
			exit(fflush(stdout) ? 1 : 0);
		default:
			/* getopt said what was wrong. */
			fputs("Usage: watchq [OPTION]... WATCH...\n"
			      "Try 'watchq --help' for more information.\n", stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind == argc)
		usage_error("no WATCH given");
	o->nr_watches = (unsigned int)(argc - optind);
	o->watches = calloc(o->nr_watches, sizeof(*o->watches));
	o->watch_args = calloc(o->nr_watches, sizeof(*o->watch_args));
	if (!o->watches || !o->watch_args) {
		perror("watchq");
		exit(1);
	}
	for (i = 0; i < (int)o->nr_watches; i++) {
		o->watch_args[i] = argv[optind + i];
		if (watchq_watch_spec_parse(&o->watches[i], argv[optind + i],
					    err, sizeof(err)))
			usage_error("%s: %s", argv[optind + i], err);
	}
}

static int add_watch(struct watchq *q, const struct watchq_watch_spec *w)
{
	switch (w->what) {
	case WATCHQ_WATCH_WHAT_KEY:
		return watchq_watch_key(q, w->key, w->watch_id);
	case WATCHQ_WATCH_WHAT_MOUNT:
		return watchq_watch_mount(q, w->path, w->watch_id);
	case WATCHQ_WATCH_WHAT_SB:
		return watchq_watch_sb(q, w->path, w->watch_id);
	case WATCHQ_WATCH_WHAT_DEVICES:
		return watchq_watch_devices(q, w->watch_id);
	}
	return -EINVAL;
}

static const char *socket_name(const struct opts *o)
{
	const char *s = o->socket ? o->socket : getenv(WATCHQ_SOCKET_ENV);

	return s && *s ? s : WATCHQ_SOCKET_DEFAULT;
}

/* Every line is flushed: a reader sees each record as it happens. */
static void put_line(const char *line)
{
	if (puts(line) == EOF || fflush(stdout)) {
		fprintf(stderr, "watchq: standard output: %s\n", strerror(errno));
		exit(1);
	}
}

static void print_loss(const struct opts *o)
{
	char line[64];

	watchq_format_loss(line, sizeof(line), o->json);
	put_line(line);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Print records until --count, --timeout, a signal or an error. */
static int run(struct watchq *q, const struct opts *o, int sigfd)
{
	long long deadline = o->timeout_ms >= 0 ? now_ms() + o->timeout_ms : 0;
	/* Sized for the largest record in hex, with room to spare. */
	char line[2 * WATCHQ_MAX_RECORD_SLOTS * WATCHQ_LENGTH_GRANULARITY + 256];
	__u64 rec[WATCHQ_MAX_RECORD_SLOTS];
	const struct watchq_notification *n;
	__u32 seen = 0;
	int len, r;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = watchq_fd(q), .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};
		int left = -1;

		if (watchq_clear_lost(q))
			print_loss(o);
		while ((len = watchq_peek(q, &n)) > 0) {
			/* A private copy: the daemon shares these pages, and
			 * the slots are free for it once consumed. */
			memcpy(rec, n, (size_t)len * WATCHQ_LENGTH_GRANULARITY);
			watchq_consume(q, n);
			watchq_format_record(line, sizeof(line),
					     (const void *)rec, (unsigned int)len,
					     o->json);
			put_line(line);
			if (o->has_count && ++seen == o->count)
				return 0;
		}
		if (len < 0) {
			fprintf(stderr, "watchq: reading the ring: %s\n", strerror(-len));
			return 1;
		}
		/* Losses are flagged without a wake-up: look before sleeping. */
		if (watchq_clear_lost(q))
			print_loss(o);

		if (o->timeout_ms >= 0) {
			long long l = deadline - now_ms();

			if (l <= 0)
				return EXIT_TIMEOUT;
			left = (int)l;
		}
		r = watchq_wait(q, 0);
		if (r > 0)
			continue;
		if (r == -EPIPE) {
			fprintf(stderr, "watchq: watchqd closed the connection\n");
			return 1;
		}
		if (r < 0) {
			fprintf(stderr, "watchq: waiting: %s\n", strerror(-r));
			return 1;
		}
		r = poll(p, 2, left);
		if (r < 0 && errno != EINTR) {
			perror("watchq: poll");
			return 1;
		}
		if (r > 0 && p[1].revents)
			return 0;
		if (r == 0)
			return EXIT_TIMEOUT;
	}
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct watchq *q;
	sigset_t sigs;
	unsigned int i;
	int err, sigfd, rc;

	parse_args(&o, argc, argv);

	q = watchq_open(o.socket, o.pages);
	if (!q) {
		err = errno;
		fprintf(stderr, "watchq: %s: %s%s\n", socket_name(&o), strerror(err),
			err == ENOENT || err == ECONNREFUSED ?
			" (is watchqd running?)" : "");
		return 1;
	}
	if (o.filter.f.nr_filters) {
		err = watchq_set_filter(q, &o.filter.f);
		if (err) {
			fprintf(stderr, "watchq: --filter: %s\n", strerror(-err));
			goto fail;
		}
	}
	for (i = 0; i < o.nr_watches; i++) {
		err = add_watch(q, &o.watches[i]);
		if (err) {
			fprintf(stderr, "watchq: %s: %s\n", o.watch_args[i], strerror(-err));
			goto fail;
		}
	}

	/* From here SIGINT and SIGTERM end the output cleanly, through the
	 * same poll that waits for records; until here they simply kill. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) ||
	    (sigfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		perror("watchq: signalfd");
		goto fail;
	}
	fputs("# ready\n", stderr);
	fflush(stderr);

	rc = o.has_count && o.count == 0 ? 0 : run(q, &o, sigfd);
	close(sigfd);
	watchq_close(q);
	free(o.watches);
	free(o.watch_args);
	return rc;
fail:
	watchq_close(q);
	free(o.watches);
	free(o.watch_args);
	return 1;
}
