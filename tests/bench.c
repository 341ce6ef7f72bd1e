// SPDX-License-Identifier: GPL-2.0
/*
 * make bench (issue #3): watchqd and libwatchq against a bare BPF ring
 * buffer consumer of the same key records, side by side in one run; and
 * (issue #4) one mount change delivered by watchq against re-reading
 * mountinfo, as systemd and libmount do.  'bench keys' or 'bench mount'
 * runs one half (make bench BENCH=mount).
 *
 *   1. records/s: producers loop on KEYCTL_UPDATE of watched keys; the
 *      records go either through watchqd into a libwatchq ring, or straight
 *      from the keys source's BPF ring buffer to a libbpf consumer in this
 *      process (user/keys.c loaded here, no daemon).  CPU time of every
 *      party says which one limits.
 *   2. the added cost of a keyctl on an unwatched key: no BPF at all
 *      against watchqd running with another key watched, interleaved.
 *   3. event -> consumer latency at 10,000 events/s, paced, one producer,
 *      the consumer asleep in watchq_wait() (or ring_buffer__poll()).
 *   4. with 10,000 mounts in a private namespace, the CPU time of watchqd,
 *      its BPF programs and a libwatchq consumer per mount change, against
 *      one re-parse of /proc/self/mountinfo per change (libmount, and a
 *      bare fgets parser), interleaved change by change.
 *
 * Timing only: nothing here passes or fails on a number.  Exit 1 when it
 * cannot run (not root, no daemon binary, BPF refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/keyctl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmount/libmount.h>

#include "watchq.h"
#include "keys.h"

#define BENCH_PAGES	64		/* 256 KiB: the BPF ring buffer's size */
#define FLOOD_SECS	1.5
#define FLOOD_ROUNDS	3
#define COST_ROUNDS	5		/* daemon off/on pairs */
#define COST_BATCHES	40		/* timed batches per state */
#define COST_CALLS	5000		/* keyctls per batch (4x as many getppid) */
#define LAT_RATE	10000
#define LAT_EVENTS	20000		/* 2 s at 10,000/s */
#define LAT_WARMUP	500		/* first events not counted */

static const char *build_dir;

/* ---- clocks and small helpers -------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_clock(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return 0;
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double thread_cpu(void)
{
	return cpu_clock(CLOCK_THREAD_CPUTIME_ID);
}

static long thread_vcsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double pct(const double *sorted, int n, double p)
{
	int i = (int)(p / 100.0 * (n - 1) + 0.5);

	return sorted[i < n ? i : n - 1];
}

static __s32 add_user_key(const char *desc)
{
	long r = syscall(SYS_add_key, "user", desc, "x", 1, KEY_SPEC_SESSION_KEYRING);

	if (r < 0) {
		fprintf(stderr, "bench: add_key %s: %s\n", desc, strerror(errno));
		exit(1);
	}
	return (__s32)r;
}

static long update(__s32 key)
{
	return syscall(SYS_keyctl, KEYCTL_UPDATE, key, "y", 1);
}

/* ---- the daemon ------------------------------------------------------------ */

struct daemon {
	pid_t pid;
	char dir[64], sock[128];
	clockid_t cpu;
};

static void daemon_log(const struct daemon *d)
{
	char path[160], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", d->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  watchqd| %s", line);
	fclose(f);
}

static void daemon_stop(struct daemon *d)
{
	char path[160];

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
	}
	d->pid = 0;
	snprintf(path, sizeof(path), "%s/log", d->dir);
	unlink(path);
	unlink(d->sock);
	rmdir(d->dir);
}

/* A watchqd of our own with only @sources, on a private socket; waits
 * until a queue can be opened (the socket is bound before BPF loads). */
static struct watchq *daemon_start_sources(struct daemon *d, const char *sources)
{
	char bin[256], log[160];
	struct watchq *q;
	double deadline;

	snprintf(d->dir, sizeof(d->dir), "/tmp/watchq-bench.XXXXXX");
	if (!mkdtemp(d->dir)) {
		perror("bench: mkdtemp");
		exit(1);
	}
	snprintf(d->sock, sizeof(d->sock), "%s/watchq.sock", d->dir);
	snprintf(bin, sizeof(bin), "%s/watchqd", build_dir);
	snprintf(log, sizeof(log), "%s/log", d->dir);
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		perror("bench: fork");
		exit(1);
	}
	if (d->pid == 0) {
		char pages[16];
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0)
			dup2(fd, 2);
		snprintf(pages, sizeof(pages), "%d", BENCH_PAGES);
		execl(bin, bin, "--socket", d->sock, "--sources", sources,
		      "--max-pages", pages, (char *)NULL);
		_exit(127);
	}
	for (deadline = now() + 20; now() < deadline; usleep(10000)) {
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			fprintf(stderr, "bench: %s exited at start-up\n", bin);
			daemon_log(d);
			d->pid = 0;
			exit(1);
		}
		q = watchq_open(d->sock, BENCH_PAGES);
		if (q) {
			if (clock_getcpuclockid(d->pid, &d->cpu))
				d->cpu = -1;
			return q;
		}
	}
	fprintf(stderr, "bench: watchqd did not answer within 20 s\n");
	daemon_log(d);
	daemon_stop(d);
	exit(1);
}

static struct watchq *daemon_start(struct daemon *d)
{
	return daemon_start_sources(d, "keys");
}

static double daemon_cpu(const struct daemon *d)
{
	return d->cpu == -1 ? 0 : cpu_clock(d->cpu);
}

/* Voluntary context switches: how often the daemon went to sleep. */
static long daemon_vcsw(const struct daemon *d)
{
	char path[64], line[128];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", d->pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void watch_key(struct watchq *q, __s32 key, unsigned int id)
{
	int err = watchq_watch_key(q, key, id);

	if (err) {
		fprintf(stderr, "bench: watch key %d: %s\n", key, strerror(-err));
		exit(1);
	}
}

/* ---- the bare consumer ------------------------------------------------------ */

static struct watchq_keys *bare_open(const __s32 *keys, int n)
{
	struct watchq_keys_opts o = { 0 };
	struct watchq_keys *k;
	int err;

	err = watchq_keys_open(&k, &o);
	if (err) {
		fprintf(stderr, "bench: load the key source: %s\n", strerror(-err));
		exit(1);
	}
	/* The syscall hooks are attached while some process is a prover,
	 * as the daemon makes each connected client one. */
	err = watchq_keys_add_prover(k, getpid());
	if (err) {
		fprintf(stderr, "bench: attach the key source: %s\n", strerror(-err));
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		err = watchq_keys_watch(k, keys[i]);
		if (err) {
			fprintf(stderr, "bench: watch key %d: %s\n", keys[i], strerror(-err));
			exit(1);
		}
	}
	return k;
}

/* Programs of the key source loaded by anyone: others' daemons make the
 * "nothing attached" baseline less than nothing. */
static int foreign_key_progs(void)
{
	__u32 id = 0;
	int n = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strncmp(info.name, "watchq_keys_key", 15))
			n++;
		close(fd);
	}
	return n;
}

/* SCHED_FIFO for a task (0: the calling thread); says so once if refused. */
static void set_fifo(pid_t pid)
{
	struct sched_param sp = { .sched_priority = 50 };
	static bool warned;
	int err = pid ? (sched_setscheduler(pid, SCHED_FIFO, &sp) ? errno : 0)
		      : pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

	if (err && !warned) {
		warned = true;
		fprintf(stderr, "bench: SCHED_FIFO refused: %s\n", strerror(err));
	}
}

/* ---- 1. records/s ------------------------------------------------------------ */

enum mode { BARE, WATCHQ, MODES };
static const char *const mode_name[] = { "bare ringbuf", "watchqd+libwatchq" };

struct flood {
	enum mode mode;
	int nprod;
	__s32 keys[2];
	atomic_int go, stop, done;
	/* producers */
	unsigned long produced[2], failed[2];
	double prod_cpu[2];
	/* consumer */
	struct watchq *q;
	struct ring_buffer *rb;
	unsigned long received;
	double t_start, t_last, cons_cpu;
	long cons_vcsw;
	struct watchq_stats st;
	int lost_flag;
};

struct prod_arg {
	struct flood *f;
	int i;
};

static void *flood_producer(void *p)
{
	struct prod_arg *a = p;
	struct flood *f = a->f;
	unsigned long n = 0, bad = 0;
	double c0;

	while (!atomic_load(&f->go))
		;
	c0 = thread_cpu();
	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		if (update(f->keys[a->i]) == 0)
			n++;
		else
			bad++;
	}
	f->prod_cpu[a->i] = thread_cpu() - c0;
	f->produced[a->i] = n;
	f->failed[a->i] = bad;
	return NULL;
}

static int bare_record(void *ctx, void *data, size_t size)
{
	struct flood *f = ctx;

	(void)data;
	(void)size;
	f->received++;
	return 0;
}

static void *flood_consumer(void *p)
{
	struct flood *f = p;
	const struct watchq_notification *n;
	double c0 = thread_cpu();
	long v0 = thread_vcsw();
	unsigned long last = 0;
	int r;

	atomic_store(&f->go, 1);
	while (!atomic_load(&f->stop)) {
		if (f->mode == BARE) {
			r = ring_buffer__poll(f->rb, 100);
		} else {
			r = watchq_wait(f->q, 100);
			while (r >= 0 && watchq_peek(f->q, &n) > 0) {
				f->received++;
				watchq_consume(f->q, n);
			}
		}
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "bench: consumer: %s\n", strerror(-r));
			break;
		}
		if (f->received != last) {
			last = f->received;
			f->t_last = now();
		}
	}
	/* Everything produced is in the BPF ring buffer by now (records are
	 * written before keyctl returns): take the rest. */
	if (f->mode != WATCHQ) {
		ring_buffer__consume(f->rb);
	} else {
		watchq_sync(f->q);
		while (watchq_peek(f->q, &n) > 0) {
			f->received++;
			watchq_consume(f->q, n);
		}
		f->lost_flag = watchq_lost(f->q);
		f->st.sz = sizeof(f->st);
		watchq_stats(f->q, &f->st);
	}
	if (f->received != last)
		f->t_last = now();
	f->cons_cpu = thread_cpu() - c0;
	f->cons_vcsw = thread_vcsw() - v0;
	return NULL;
}

struct flood_result {
	double produced_s, delivered_s, lost;
	double prod_cpu_ns, cons_cpu_ns;	/* per record */
	double prod_util, cons_util, daemon_util;	/* CPUs busy */
	double wake_per_rec, cons_sleep_per_rec, daemon_sleep_per_rec;
};

static void flood_run(enum mode mode, int nprod, const __s32 keys[2],
		      struct flood_result *res)
{
	struct flood f = { .mode = mode, .nprod = nprod };
	struct prod_arg args[2];
	pthread_t prod[2], cons;
	struct watchq_keys *k = NULL;
	struct daemon d = { 0 };
	double dcpu0 = 0, win, produced = 0, pcpu = 0, lost;
	long dv0 = 0;
	int i;

	memcpy(f.keys, keys, sizeof(f.keys));
	if (mode != WATCHQ) {
		k = bare_open(keys, nprod);
		f.rb = ring_buffer__new(watchq_keys_ringbuf_fd(k), bare_record, &f, NULL);
		if (!f.rb) {
			perror("bench: ring_buffer__new");
			exit(1);
		}
	} else {
		f.q = daemon_start(&d);
		for (i = 0; i < nprod; i++)
			watch_key(f.q, keys[i], i + 1);
		dcpu0 = daemon_cpu(&d);
		dv0 = daemon_vcsw(&d);
	}
	pthread_create(&cons, NULL, flood_consumer, &f);
	for (i = 0; i < nprod; i++) {
		args[i] = (struct prod_arg){ &f, i };
		pthread_create(&prod[i], NULL, flood_producer, &args[i]);
	}
	while (!atomic_load(&f.go))
		;
	f.t_start = now();
	usleep((useconds_t)(FLOOD_SECS * 1e6));
	atomic_store(&f.stop, 1);
	win = now() - f.t_start;
	for (i = 0; i < nprod; i++) {
		pthread_join(prod[i], NULL);
		produced += f.produced[i];
		pcpu += f.prod_cpu[i];
		if (f.failed[i])
			fprintf(stderr, "bench: %lu updates failed\n", f.failed[i]);
	}
	pthread_join(cons, NULL);

	if (mode != WATCHQ) {
		lost = (double)watchq_keys_dropped(k);
		res->daemon_util = 0;
		res->daemon_sleep_per_rec = 0;
		res->wake_per_rec = f.received ? (double)f.cons_vcsw / f.received : 0;
		ring_buffer__free(f.rb);
		watchq_keys_close(k);
	} else {
		double dcpu = daemon_cpu(&d) - dcpu0;

		lost = (double)f.st.lost;
		res->daemon_util = dcpu / win;
		res->daemon_sleep_per_rec = f.received ?
			(double)(daemon_vcsw(&d) - dv0) / f.received : 0;
		res->wake_per_rec = f.st.posted ? (double)f.st.wakeups / f.st.posted : 0;
		f.cons_cpu += dcpu;	/* the daemon is part of this consumer */
		watchq_close(f.q);
		daemon_stop(&d);
	}
	res->produced_s = produced / win;
	res->delivered_s = f.received / (f.t_last - f.t_start);
	res->lost = lost;
	res->prod_cpu_ns = produced ? pcpu / produced * 1e9 : 0;
	res->cons_cpu_ns = f.received ? f.cons_cpu / f.received * 1e9 : 0;
	res->prod_util = pcpu / win;
	res->cons_util = (f.cons_cpu - (mode == WATCHQ ? res->daemon_util * win : 0)) / win;
	res->cons_sleep_per_rec = f.received ? (double)f.cons_vcsw / f.received : 0;
	if (f.received + lost < produced)
		fprintf(stderr, "bench: %s: %.0f produced, %lu received, %.0f lost\n",
			mode_name[mode], produced, f.received, lost);
}

/* ---- 2. the cost of an unwatched keyctl --------------------------------------- */

/* ns per call of a short batch: short, so that a burst of other load
 * spoils a few batches rather than every one. */
static double time_batch(__s32 key, bool use_getppid)
{
	int n = use_getppid ? COST_CALLS * 4 : COST_CALLS;
	double t0 = now();

	for (int i = 0; i < n; i++)
		use_getppid ? (void)syscall(SYS_getppid) : (void)update(key);
	return (now() - t0) / n * 1e9;
}

/* One state's typical cost (median batch) and its undisturbed cost (the
 * 10th percentile batch), for KEYCTL_UPDATE and for getppid. */
struct cost_state {
	double upd_med, upd_p10, pp_med, pp_p10;
};

static void cost_measure(__s32 key, struct cost_state *c)
{
	double u[COST_BATCHES], p[COST_BATCHES];

	/* SCHED_FIFO while timing (about 0.2 s, under the RT throttle):
	 * other tasks' bursts must not land in one state's batches only. */
	set_fifo(0);
	for (int i = 0; i < 2000; i++)	/* warm caches, payload slabs */
		update(key);
	for (int i = 0; i < COST_BATCHES; i++) {
		u[i] = time_batch(key, false);
		p[i] = time_batch(key, true);
	}
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &(struct sched_param){ 0 });
	qsort(u, COST_BATCHES, sizeof(double), cmp_double);
	qsort(p, COST_BATCHES, sizeof(double), cmp_double);
	c->upd_med = median(u, COST_BATCHES);
	c->pp_med = median(p, COST_BATCHES);
	c->upd_p10 = pct(u, COST_BATCHES, 10);
	c->pp_p10 = pct(p, COST_BATCHES, 10);
}

struct cost_result {
	struct cost_state none, on;	/* medians over the rounds */
	double ratio_p10, ratio_med, ratio_lo, ratio_hi, pp_ratio_p10;
};

static void cost_run(__s32 unwatched, __s32 other, struct cost_result *res)
{
	struct cost_state none[COST_ROUNDS], on[COST_ROUNDS];
	double rmed[COST_ROUNDS], v[COST_ROUNDS];

	for (int r = 0; r < COST_ROUNDS; r++) {
		/* alternate which state goes first, against drift */
		for (int s = 0; s < 2; s++) {
			if ((s ^ r) & 1) {
				struct daemon d = { 0 };
				struct watchq *q = daemon_start(&d);

				watch_key(q, other, 1);
				cost_measure(unwatched, &on[r]);
				watchq_close(q);
				daemon_stop(&d);
			} else {
				cost_measure(unwatched, &none[r]);
			}
		}
		rmed[r] = on[r].upd_med / none[r].upd_med;
	}
	qsort(rmed, COST_ROUNDS, sizeof(double), cmp_double);
	res->ratio_lo = rmed[0];
	res->ratio_hi = rmed[COST_ROUNDS - 1];
#define MEDIAN_OF(state, field) ({					\
	for (int r = 0; r < COST_ROUNDS; r++)				\
		v[r] = state[r].field;					\
	median(v, COST_ROUNDS); })
	res->none.upd_p10 = MEDIAN_OF(none, upd_p10);
	res->none.upd_med = MEDIAN_OF(none, upd_med);
	res->none.pp_p10 = MEDIAN_OF(none, pp_p10);
	res->on.upd_p10 = MEDIAN_OF(on, upd_p10);
	res->on.upd_med = MEDIAN_OF(on, upd_med);
	res->on.pp_p10 = MEDIAN_OF(on, pp_p10);
	res->on.pp_med = MEDIAN_OF(on, pp_med);
	res->none.pp_med = MEDIAN_OF(none, pp_med);
#undef MEDIAN_OF
	res->ratio_med = res->on.upd_med / res->none.upd_med;
	res->ratio_p10 = res->on.upd_p10 / res->none.upd_p10;
	res->pp_ratio_p10 = res->on.pp_p10 / res->none.pp_p10;
}

/* ---- 3. latency at 10,000 events/s -------------------------------------------- */

struct lat {
	enum mode mode;
	int evfd;		/* >= 0: the wake-up floor, an eventfd and no keys */
	bool rt;		/* every party SCHED_FIFO: the pipeline, not the scheduler */
	__s32 key;
	struct watchq *q;
	struct ring_buffer *rb;
	double *t0, *t1;
	atomic_int ready, sent;
	unsigned long received, unexpected;
	long cons_vcsw;
	struct watchq_stats st0, st1;
	double late;		/* events issued more than one period late */
};

static void *lat_producer(void *p)
{
	struct lat *l = p;
	struct timespec next;
	long period = 1000000000L / LAT_RATE;

	/* the default 50 us slack would be half the period */
	prctl(PR_SET_TIMERSLACK, 1UL);
	if (l->rt)
		set_fifo(0);
	while (!atomic_load(&l->ready))
		;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0; i < LAT_EVENTS; i++) {
		next.tv_nsec += period;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		l->t0[i] = now();
		if (l->t0[i] > next.tv_sec + next.tv_nsec * 1e-9 + period * 1e-9)
			l->late++;
		if (l->evfd >= 0) {
			if (write(l->evfd, &(__u64){ 1 }, 8) != 8)
				break;
		} else {
			update(l->key);
		}
		atomic_store(&l->sent, i + 1);
	}
	return NULL;
}

static void lat_got(struct lat *l, const struct watchq_key_notification *k)
{
	if (k->watch.type != WATCHQ_TYPE_KEY_NOTIFY ||
	    k->watch.subtype != WATCHQ_NOTIFY_KEY_UPDATED ||
	    (__s32)k->key_id != l->key || l->received >= LAT_EVENTS) {
		l->unexpected++;
		return;
	}
	/* one producer thread: records come in the order of its calls */
	l->t1[l->received++] = now();
}

static int lat_bare_record(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(struct watchq_key_notification))
		lat_got(ctx, data);
	return 0;
}

static void *lat_consumer(void *p)
{
	struct lat *l = p;
	const struct watchq_notification *n;
	long v0 = thread_vcsw();
	double deadline = 0;
	int r;

	if (l->rt)
		set_fifo(0);
	atomic_store(&l->ready, 1);
	while (l->received < LAT_EVENTS) {
		if (atomic_load(&l->sent) == LAT_EVENTS) {
			if (!deadline)
				deadline = now() + 1;
			else if (now() > deadline)
				break;
		}
		if (l->evfd >= 0) {
			struct pollfd pf = { .fd = l->evfd, .events = POLLIN };
			__u64 v = 0;

			r = poll(&pf, 1, 100);
			if (r > 0 && read(l->evfd, &v, 8) == 8)
				for (double t = now(); v-- && l->received < LAT_EVENTS;)
					l->t1[l->received++] = t;
			r = r < 0 ? -errno : 0;
		} else if (l->mode == BARE) {
			r = ring_buffer__poll(l->rb, 100);
		} else {
			r = watchq_wait(l->q, 100);
			while (r >= 0 && watchq_peek(l->q, &n) > 0) {
				lat_got(l, (const void *)n);
				watchq_consume(l->q, n);
			}
		}
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "bench: consumer: %s\n", strerror(-r));
			break;
		}
	}
	l->cons_vcsw = thread_vcsw() - v0;
	return NULL;
}

struct lat_result {
	double p50, p99, max, wake_per_rec, cons_sleep_per_rec;
	unsigned long received, late;
	bool matched;
};

/* @key 0: the floor, one thread waking another through an eventfd. */
static void lat_run(enum mode mode, bool rt, __s32 key, struct lat_result *res)
{
	struct lat l = { .mode = mode, .key = key, .rt = rt, .evfd = -1 };
	struct watchq_keys *k = NULL;
	struct daemon d = { 0 };
	pthread_t prod, cons;
	double *lat;
	int n = 0;

	l.t0 = calloc(LAT_EVENTS, sizeof(double));
	l.t1 = calloc(LAT_EVENTS, sizeof(double));
	lat = calloc(LAT_EVENTS, sizeof(double));
	if (!l.t0 || !l.t1 || !lat)
		exit(1);
	if (!key) {
		l.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	} else if (mode == BARE) {
		k = bare_open(&key, 1);
		l.rb = ring_buffer__new(watchq_keys_ringbuf_fd(k), lat_bare_record, &l, NULL);
		if (!l.rb)
			exit(1);
	} else {
		l.q = daemon_start(&d);
		if (rt)
			set_fifo(d.pid);
		watch_key(l.q, key, 1);
		l.st0.sz = sizeof(l.st0);
		watchq_stats(l.q, &l.st0);
	}
	pthread_create(&cons, NULL, lat_consumer, &l);
	pthread_create(&prod, NULL, lat_producer, &l);
	pthread_join(prod, NULL);
	pthread_join(cons, NULL);

	res->matched = l.received == LAT_EVENTS && !l.unexpected;
	if (!key) {
		res->wake_per_rec = res->cons_sleep_per_rec =
			(double)l.cons_vcsw / (l.received ? l.received : 1);
		close(l.evfd);
	} else if (mode == BARE) {
		res->matched = res->matched && !watchq_keys_dropped(k);
		res->wake_per_rec = res->cons_sleep_per_rec =
			(double)l.cons_vcsw / (l.received ? l.received : 1);
		ring_buffer__free(l.rb);
		watchq_keys_close(k);
	} else {
		l.st1.sz = sizeof(l.st1);
		watchq_stats(l.q, &l.st1);
		res->matched = res->matched && !watchq_lost(l.q);
		res->wake_per_rec = (double)(l.st1.wakeups - l.st0.wakeups) /
				    (double)(l.st1.posted - l.st0.posted);
		res->cons_sleep_per_rec = (double)l.cons_vcsw / (l.received ? l.received : 1);
		watchq_close(l.q);
		daemon_stop(&d);
	}
	for (unsigned long i = LAT_WARMUP; i < l.received; i++)
		lat[n++] = (l.t1[i] - l.t0[i]) * 1e6;
	qsort(lat, n, sizeof(double), cmp_double);
	res->p50 = n ? pct(lat, n, 50) : 0;
	res->p99 = n ? pct(lat, n, 99) : 0;
	res->max = n ? lat[n - 1] : 0;
	res->received = l.received;
	res->late = (unsigned long)l.late;
	if (!res->matched)
		fprintf(stderr, "bench: latency %s: %lu of %d records, %lu unexpected: "
			"timestamps may not match\n", mode_name[mode], l.received,
			LAT_EVENTS, l.unexpected);
	free(l.t0);
	free(l.t1);
	free(lat);
}

/* ---- the report ------------------------------------------------------------------ */

static void machine(void)
{
	char line[256], model[256] = "unknown";
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %255[^\n]", model) == 1)
			break;
	if (f)
		fclose(f);
	uname(&u);
	printf("machine: %s, %ld CPUs online, Linux %s, bench built with gcc %s, libbpf %s\n",
	       model, sysconf(_SC_NPROCESSORS_ONLN), u.release, __VERSION__,
	       libbpf_version_string());
}

static void loadavg(const char *when)
{
	char buf[64] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f && !fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	printf("load average %s: %s\n", when, buf);
}

static const char *verdict(bool ok)
{
	return ok ? "met" : "MISSED";
}

static void summarise_flood(struct flood_result r[FLOOD_ROUNDS], struct flood_result *m)
{
	double v[FLOOD_ROUNDS];
	double *fields[] = { &m->produced_s, &m->delivered_s, &m->lost, &m->prod_cpu_ns,
			     &m->cons_cpu_ns, &m->prod_util, &m->cons_util,
			     &m->daemon_util, &m->wake_per_rec, &m->cons_sleep_per_rec,
			     &m->daemon_sleep_per_rec };

	/* the median of each field over the rounds */
	for (size_t j = 0; j < sizeof(fields) / sizeof(fields[0]); j++) {
		size_t off = (char *)fields[j] - (char *)m;

		for (int i = 0; i < FLOOD_ROUNDS; i++)
			v[i] = *(double *)((char *)&r[i] + off);
		*fields[j] = median(v, FLOOD_ROUNDS);
	}
}

/* Issue #3: key records, watchqd against a bare BPF consumer. */
static int bench_keys(void)
{
	struct flood_result fr[2][MODES][FLOOD_ROUNDS], fm[2][MODES];
	struct cost_result cr;
	struct lat_result lr[2], lrt[2], lfloor[2];
	__s32 keys[2], unwatched, other, lkey;
	int foreign;

	/* our own session keyring: the keys go when we do */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0) {
		perror("bench: join a session keyring");
		return 1;
	}
	keys[0] = add_user_key("bench-flood-0");
	keys[1] = add_user_key("bench-flood-1");
	unwatched = add_user_key("bench-unwatched");
	other = add_user_key("bench-other");
	lkey = add_user_key("bench-latency");

	foreign = foreign_key_progs();
	if (foreign)
		printf("warning: %d key-source programs of other processes are loaded "
		       "(another watchqd?): \"nothing attached\" includes them\n", foreign);

	printf("[1/4] records/s: %d rounds x %.1f s per mode, 1 and 2 producers\n",
	       FLOOD_ROUNDS, FLOOD_SECS);
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < FLOOD_ROUNDS; i++)
			for (int s = 0; s < MODES; s++) {
				/* ABBA order, against drift */
				enum mode m = (enum mode)(i & 1 ? MODES - 1 - s : s);

				flood_run(m, p + 1, keys, &fr[p][m][i]);
			}
	for (int p = 0; p < 2; p++)
		for (int m = 0; m < MODES; m++)
			summarise_flood(fr[p][m], &fm[p][m]);

	printf("[2/4] unwatched keyctl: %d interleaved rounds, %d batches of %d calls per state\n",
	       COST_ROUNDS, COST_BATCHES, COST_CALLS);
	cost_run(unwatched, other, &cr);

	printf("[3/4] latency: %d events at %d/s, one producer; then again SCHED_FIFO\n",
	       LAT_EVENTS, LAT_RATE);
	lat_run(BARE, false, lkey, &lr[BARE]);
	lat_run(WATCHQ, false, lkey, &lr[WATCHQ]);
	lat_run(BARE, true, lkey, &lrt[BARE]);
	lat_run(WATCHQ, true, lkey, &lrt[WATCHQ]);
	lat_run(BARE, false, 0, &lfloor[0]);
	lat_run(BARE, true, 0, &lfloor[1]);

	printf("\n| metric | bare BPF ring buffer | watchqd + libwatchq | ratio | target | |\n"
	       "|---|---:|---:|---:|---|---|\n");
	for (int p = 0; p < 2; p++) {
		double ratio = fm[p][WATCHQ].delivered_s / fm[p][BARE].delivered_s;

		printf("| records/s delivered, %d producer%s | %.0f | %.0f | %.2f | >= 0.80 | %s |\n",
		       p + 1, p ? "s" : "", fm[p][BARE].delivered_s,
		       fm[p][WATCHQ].delivered_s, ratio, verdict(ratio >= 0.8));
	}
	printf("| keyctl UPDATE on an unwatched key, ns (median batch) | %.0f (nothing attached) "
	       "| %.0f | %.3f (rounds %.3f-%.3f) | <= 1.05 | %s |\n",
	       cr.none.upd_med, cr.on.upd_med, cr.ratio_med, cr.ratio_lo, cr.ratio_hi,
	       verdict(cr.ratio_med <= 1.05));
	printf("| same, 10th percentile batch, ns | %.0f (nothing attached) | %.0f | %.3f | "
	       "<= 1.05 | %s |\n", cr.none.upd_p10, cr.on.upd_p10, cr.ratio_p10,
	       verdict(cr.ratio_p10 <= 1.05));
	printf("| getppid, ns (10th pct batch; any syscall) | %.0f (nothing attached) | %.0f | "
	       "%.3f | - | |\n", cr.none.pp_p10, cr.on.pp_p10, cr.pp_ratio_p10);
	printf("| latency p50 @10k/s, us | %.1f | %.1f | %.2f | - | |\n",
	       lr[BARE].p50, lr[WATCHQ].p50, lr[WATCHQ].p50 / lr[BARE].p50);
	printf("| latency p99 @10k/s, us | %.1f | %.1f | %.2f | <= 50 | %s |\n",
	       lr[BARE].p99, lr[WATCHQ].p99, lr[WATCHQ].p99 / lr[BARE].p99,
	       verdict(lr[WATCHQ].p99 <= 50));
	printf("| latency max @10k/s, us | %.1f | %.1f | | - | |\n",
	       lr[BARE].max, lr[WATCHQ].max);
	printf("| latency p50/p99/max @10k/s, all SCHED_FIFO, us | %.1f / %.1f / %.0f | "
	       "%.1f / %.1f / %.0f | %.2f (p99) | <= 50 (p99) | %s |\n",
	       lrt[BARE].p50, lrt[BARE].p99, lrt[BARE].max, lrt[WATCHQ].p50,
	       lrt[WATCHQ].p99, lrt[WATCHQ].max, lrt[WATCHQ].p99 / lrt[BARE].p99,
	       verdict(lrt[WATCHQ].p99 <= 50));
	printf("| floor: one eventfd wake-up between threads, p50/p99/max, us | "
	       "%.1f / %.1f / %.0f | SCHED_FIFO: %.1f / %.1f / %.0f | | - | |\n",
	       lfloor[0].p50, lfloor[0].p99, lfloor[0].max,
	       lfloor[1].p50, lfloor[1].p99, lfloor[1].max);
	printf("| wake-ups/record @10k/s | %.3f | %.3f | | - | |\n",
	       lr[BARE].wake_per_rec, lr[WATCHQ].wake_per_rec);
	for (int p = 0; p < 2; p++)
		printf("| wake-ups/record at saturation, %d producer%s | %.4f | %.4f | | "
		       "<= 0.0156 (1/64) | %s |\n", p + 1, p ? "s" : "",
		       fm[p][BARE].wake_per_rec, fm[p][WATCHQ].wake_per_rec,
		       verdict(fm[p][WATCHQ].wake_per_rec <= 1.0 / 64));

	printf("\nWhat limits records/s (medians; CPU in CPUs busy over the window):\n"
	       "| producers | mode | keyctl/s | delivered/s | lost | producer CPU | "
	       "producer ns/keyctl | daemon CPU | consumer CPU | consumer-side ns/record | "
	       "daemon sleeps/record | consumer sleeps/record |\n"
	       "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int p = 0; p < 2; p++)
		for (int m = 0; m < MODES; m++) {
			const struct flood_result *r = &fm[p][m];

			printf("| %d | %s | %.0f | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f | "
			       "%.0f | %.4f | %.4f |\n", p + 1, mode_name[m], r->produced_s,
			       r->delivered_s, r->lost, r->prod_util, r->prod_cpu_ns,
			       r->daemon_util, r->cons_util, r->cons_cpu_ns,
			       r->daemon_sleep_per_rec, r->cons_sleep_per_rec);
		}
	printf("\nLatency runs: %lu/%lu records matched (bare/watchq), %lu/%lu events "
	       "issued over one period late; consumer sleeps/record %.3f/%.3f\n",
	       lr[BARE].received, lr[WATCHQ].received, lr[BARE].late, lr[WATCHQ].late,
	       lr[BARE].cons_sleep_per_rec, lr[WATCHQ].cons_sleep_per_rec);
	if (foreign != foreign_key_progs() || foreign)
		printf("warning: other key-source programs: %d at start, %d at end\n",
		       foreign, foreign_key_progs());
	return 0;
}

/* ---- 4. one mount change: watchq against re-reading mountinfo (issue #4) --- */

#define MNT_MOUNTS	10000		/* bind mounts added to the namespace */
#define MNT_CHANGES	200		/* timed changes */
#define MNT_WARMUP	6		/* untimed changes first */
#define MNT_TIMEOUT_MS	10000		/* for one change's record */

struct mnt_result {
	int err;			/* 0, or why the part could not run */
	int mounts;			/* entries in the namespace's mountinfo */
	int changes;
	unsigned long unexpected;	/* records other than the one per change */
	bool lost, bpf_counted;
	int bpf_progs;
	/* CPU per change, us: mean (total / changes) and median */
	double daemon, daemon_med, cons, cons_med, bpf, bpf_runs;
	double libmount, libmount_med, plain, plain_med, rd, rd_med;
	double wall;			/* seconds the timed loop took */
};

/* The daemon's BPF programs, by the fds it holds (its own, not another
 * watchqd's); *n of them.  run_time_ns counts only while stats are on. */
static int mnt_bpf_progs(pid_t pid, __u32 *ids, int max)
{
	char path[64], line[128];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && n < max) {
		int fd;
		FILE *f;
		__u32 id;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_CLOEXEC);
		f = fd >= 0 ? fdopen(fd, "r") : NULL;
		if (!f) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "prog_id: %u", &id) == 1) {
				bool dup = false;

				for (int i = 0; i < n; i++)
					dup = dup || ids[i] == id;
				if (!dup)
					ids[n++] = id;
				break;
			}
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* Run time (ns) and runs summed over @ids. */
static void mnt_bpf_time(const __u32 *ids, int n, double *ns, double *runs)
{
	*ns = *runs = 0;
	for (int i = 0; i < n; i++) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			*ns += info.run_time_ns;
			*runs += info.run_cnt;
		}
		close(fd);
	}
}

/* What systemd and libmount do on each change: the whole table again. */
static int reparse_libmount(void)
{
	struct libmnt_table *tb = mnt_new_table();
	int n;

	if (!tb)
		return -ENOMEM;
	n = mnt_table_parse_file(tb, "/proc/self/mountinfo");
	if (!n)
		n = mnt_table_get_nents(tb);
	mnt_unref_table(tb);
	return n;
}

/* The least a re-reader can do: split each line's fields, keep nothing
 * (no unescaping, no allocation), so a floor under any real parser. */
static int reparse_plain(void)
{
	char line[4096], root[1024], target[1024], opts[1024];
	char fstype[64], source[1024], sbopts[1024];
	unsigned int id, parent, maj, min;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (sscanf(line, "%u %u %u:%u %1023s %1023s %1023s", &id, &parent, &maj,
			   &min, root, target, opts) != 7 || !sep ||
		    sscanf(sep + 3, "%63s %1023s %1023s", fstype, source, sbopts) < 2) {
			n = -EBADMSG;
			break;
		}
		n++;
	}
	fclose(f);
	return n;
}

/* The kernel's part of any re-read: the text of mountinfo, no parsing. */
static int reread_only(void)
{
	static char buf[1 << 16];
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return r < 0 ? -EIO : n;
}

/* One change's record: NEW_MOUNT or UNMOUNT right below the watched base;
 * anything else is counted. */
static int mnt_wait_record(struct watchq *q, unsigned int subtype, unsigned long *unexpected)
{
	const struct watchq_notification *n;
	double deadline = now() + MNT_TIMEOUT_MS / 1000.0;

	for (;;) {
		int r = watchq_peek(q, &n);

		if (r < 0)
			return r;
		if (r > 0) {
			bool hit = n->type == WATCHQ_TYPE_MOUNT_NOTIFY && n->subtype == subtype;

			watchq_consume(q, n);
			if (hit)
				return 0;
			(*unexpected)++;
			continue;
		}
		if (now() > deadline)
			return -ETIMEDOUT;
		r = watchq_wait(q, MNT_TIMEOUT_MS);
		if (r < 0 && r != -EINTR)
			return r;
	}
}

static int mnt_count_lines(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int n = 0, c;

	if (!f)
		return -errno;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* The mount part's child: its own namespace (which dies with it and its
 * daemon), @base a tmpfs holding MNT_MOUNTS bind mounts of one small tmpfs
 * and the directory each change mounts on and unmounts. */
static int mnt_child(const char *base, struct mnt_result *res)
{
	double *dcpu = NULL, *ccpu = NULL, *lcpu = NULL, *pcpu = NULL, *rcpu = NULL;
	double d_prev = 0, bns0 = 0, bruns0 = 0, bns1, bruns1, t0 = 0;
	char src[128], dir[128], chg[128];
	struct daemon d = { 0 };
	int nids, statsfd = -1, err;
	struct watchq *q;
	__u32 ids[64];

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		err = -errno;
		fprintf(stderr, "bench: no private mount namespace: %s\n", strerror(-err));
		return err;
	}
	snprintf(src, sizeof(src), "%s/src", base);
	snprintf(chg, sizeof(chg), "%s/change", base);
	if (mount("wqbench", base, "tmpfs", 0, "size=16m,nr_inodes=20000") ||
	    mkdir(src, 0755) || mkdir(chg, 0755) ||
	    mount("wqbench-src", src, "tmpfs", 0, "size=64k")) {
		err = -errno;
		fprintf(stderr, "bench: tmpfs on %s: %s\n", base, strerror(-err));
		return err;
	}
	/* Binds of one tmpfs: the mount table grows, not the superblocks. */
	for (int i = 0; i < MNT_MOUNTS; i++) {
		snprintf(dir, sizeof(dir), "%s/%05d", base, i);
		if (mkdir(dir, 0755) || mount(src, dir, NULL, MS_BIND, NULL)) {
			err = -errno;
			fprintf(stderr, "bench: bind mount %d of %d: %s\n", i + 1, MNT_MOUNTS,
				strerror(-err));
			return err;
		}
	}
	res->mounts = mnt_count_lines();

	/* The daemon after the table is built: its start-up is not a change. */
	q = daemon_start_sources(&d, "mount");
	err = watchq_watch_mount(q, base, 1);
	if (err) {
		fprintf(stderr, "bench: watch mount %s: %s\n", base, strerror(-err));
		goto out;
	}
	/* BPF_ENABLE_STATS lasts as long as the fd: nothing to restore. */
	statsfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	nids = mnt_bpf_progs(d.pid, ids, 64);
	res->bpf_counted = statsfd >= 0 && nids >= 0;
	res->bpf_progs = nids > 0 ? nids : 0;

	dcpu = calloc(MNT_CHANGES, sizeof(double));
	ccpu = calloc(MNT_CHANGES, sizeof(double));
	lcpu = calloc(MNT_CHANGES, sizeof(double));
	pcpu = calloc(MNT_CHANGES, sizeof(double));
	rcpu = calloc(MNT_CHANGES, sizeof(double));
	if (!dcpu || !ccpu || !lcpu || !pcpu || !rcpu) {
		err = -ENOMEM;
		goto out;
	}
	/* Even changes mount a tmpfs on chg, odd ones unmount it: one record
	 * each, and the table keeps its size. */
	for (int i = -MNT_WARMUP; i < MNT_CHANGES && !err; i++) {
		bool up = !((i + MNT_WARMUP) & 1);
		double c0, c1, c2, c3, c4, dnow;
		int nl, np, nr;

		if (i == 0) {
			/* the stragglers of the warm-up (a second reread) first */
			usleep(100000);
			mnt_bpf_time(ids, res->bpf_progs, &bns0, &bruns0);
			t0 = now();
		}
		dnow = daemon_cpu(&d);
		if (i > 0)
			dcpu[i - 1] = dnow - d_prev;
		d_prev = dnow;
		if (up ? mount("wqbench-chg", chg, "tmpfs", 0, "size=64k") : umount2(chg, 0)) {
			err = -errno;
			fprintf(stderr, "bench: %s %s: %s\n", up ? "mount" : "umount", chg,
				strerror(-err));
			break;
		}
		/* Only what follows the syscall: the mount itself is the same
		 * work whoever is told about it. */
		c0 = thread_cpu();
		err = mnt_wait_record(q, up ? WATCHQ_NOTIFY_MOUNT_NEW_MOUNT :
					      WATCHQ_NOTIFY_MOUNT_UNMOUNT, &res->unexpected);
		c1 = thread_cpu();
		if (err) {
			fprintf(stderr, "bench: change %d's record: %s\n", i, strerror(-err));
			break;
		}
		/* both re-parses must see the change: the table as systemd
		 * would read it after this mount or umount */
		nl = reparse_libmount();
		c2 = thread_cpu();
		np = reparse_plain();
		c3 = thread_cpu();
		nr = reread_only();
		c4 = thread_cpu();
		if (nl != res->mounts + up || np != nl || nr != nl) {
			fprintf(stderr, "bench: re-read: %d, %d and %d mounts, not %d\n", nl,
				np, nr, res->mounts + up);
			err = -EBADMSG;
			break;
		}
		if (i >= 0) {
			ccpu[i] = c1 - c0;
			lcpu[i] = c2 - c1;
			pcpu[i] = c3 - c2;
			rcpu[i] = c4 - c3;
		}
	}
	if (err)
		goto out;
	res->wall = now() - t0;
	/* The last change's window ends when the daemon has had the same
	 * time to finish as after the others. */
	usleep(100000);
	dcpu[MNT_CHANGES - 1] = daemon_cpu(&d) - d_prev;
	mnt_bpf_time(ids, res->bpf_progs, &bns1, &bruns1);
	res->lost = watchq_lost(q);
	res->changes = MNT_CHANGES;

	res->bpf = (bns1 - bns0) / 1e3 / MNT_CHANGES;
	res->bpf_runs = (bruns1 - bruns0) / MNT_CHANGES;
#define MEAN_MEDIAN(v, mean, med) do {					\
	double s = 0;							\
	for (int i = 0; i < MNT_CHANGES; i++)				\
		s += (v)[i] * 1e6;					\
	mean = s / MNT_CHANGES;						\
	med = median(v, MNT_CHANGES) * 1e6;				\
} while (0)
	MEAN_MEDIAN(dcpu, res->daemon, res->daemon_med);
	MEAN_MEDIAN(ccpu, res->cons, res->cons_med);
	MEAN_MEDIAN(lcpu, res->libmount, res->libmount_med);
	MEAN_MEDIAN(pcpu, res->plain, res->plain_med);
	MEAN_MEDIAN(rcpu, res->rd, res->rd_med);
#undef MEAN_MEDIAN
out:
	if (statsfd >= 0)
		close(statsfd);
	free(dcpu);
	free(ccpu);
	free(lcpu);
	free(pcpu);
	free(rcpu);
	if (err)
		daemon_log(&d);
	watchq_close(q);
	daemon_stop(&d);
	return err;
}

/* The first line the daemon's --probe prints for the mount source: which
 * rung today's daemon runs, so the numbers say what they measured. */
static void mnt_rung(char *buf, size_t len)
{
	char cmd[300], line[512];
	FILE *p;

	snprintf(buf, len, "unknown");
	snprintf(cmd, sizeof(cmd), "%s/watchqd --probe 2>&1", build_dir);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "mount:", 6)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, len, "%s", line);
		}
	pclose(p);
}

static int bench_mount(void)
{
	struct mnt_result *r;
	char base[64] = "/tmp/watchq-mntbench.XXXXXX", rung[512];
	double watchq, ratio;
	int status;
	pid_t pid;

	mnt_rung(rung, sizeof(rung));
	printf("[4/4] one mount change with %d more mounts in a namespace: watchqd + "
	       "libwatchq against re-parsing /proc/self/mountinfo, %d changes, interleaved\n",
	       MNT_MOUNTS, MNT_CHANGES);
	/* the child's numbers come back through shared memory */
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED || !mkdtemp(base)) {
		perror("bench: mount part");
		return 1;
	}
	memset(r, 0, sizeof(*r));
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(mnt_child(base, r) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "bench: the mount part failed\n");
		rmdir(base);
		return 1;
	}
	/* The mounts went with the namespace; the directory is ours. */
	rmdir(base);

	watchq = r->daemon + r->cons + r->bpf;
	ratio = watchq / r->libmount;
	printf("\n%s\n%d mounts in the namespace (%d bind mounts added); a change is one "
	       "mount(2) of a tmpfs or its umount(2), alternating, each 1 record;\n"
	       "CPU per change in us (mean = total / %d; median of per-change values); "
	       "the mount syscall itself is not counted on either side\n",
	       rung, r->mounts, MNT_MOUNTS, r->changes);
	printf("| party | mean | median |\n|---|---:|---:|\n");
	printf("| watchqd (process CPU clock, all threads) | %.1f | %.1f |\n",
	       r->daemon, r->daemon_med);
	printf("| consumer thread (watchq_wait + peek/consume) | %.1f | %.1f |\n",
	       r->cons, r->cons_med);
	if (r->bpf_counted)
		printf("| the daemon's BPF programs (%d; %.2f runs/change) | %.2f | - |\n",
		       r->bpf_progs, r->bpf_runs, r->bpf);
	else
		printf("| the daemon's BPF programs | not counted (no BPF_ENABLE_STATS) | |\n");
	printf("| **watchq total** | **%.1f** | |\n", watchq);
	printf("| re-parse with libmount (mnt_table_parse_file) | %.1f | %.1f |\n",
	       r->libmount, r->libmount_med);
	printf("| re-parse, plain fgets + sscanf (a floor) | %.1f | %.1f |\n",
	       r->plain, r->plain_med);
	printf("| read(2) of mountinfo only, no parse (the kernel's part) | %.1f | %.1f |\n",
	       r->rd, r->rd_med);
	printf("| **ratio watchq / libmount re-parse** | **%.3f (1/%.1f)** | target <= 0.020 "
	       "(1/50): %s |\n", ratio, 1 / ratio, verdict(ratio <= 1.0 / 50));
	printf("| ratio watchq / plain re-parse | %.3f (1/%.1f) | |\n",
	       watchq / r->plain, r->plain / watchq);
	printf("\nTimed loop %.1f s; %lu unexpected records%s\n", r->wall, r->unexpected,
	       r->lost ? "; RECORDS LOST" : "");
	munmap(r, sizeof(*r));
	return 0;
}

static const struct part {
	const char *name;
	int (*run)(void);
} parts[] = {
	{ "keys", bench_keys },
	{ "mount", bench_mount },
};

int main(int argc, char **argv)
{
	double t0 = now();
	int err = 0;

	/* Arguments name the parts to run (all without any): one part alone
	 * is quicker to iterate on than the whole minute. */
	for (int i = 1; i < argc; i++) {
		size_t j;

		for (j = 0; j < sizeof(parts) / sizeof(parts[0]); j++)
			if (!strcmp(argv[i], parts[j].name))
				break;
		if (j == sizeof(parts) / sizeof(parts[0])) {
			fprintf(stderr, "usage: bench [PART...]; parts:");
			for (j = 0; j < sizeof(parts) / sizeof(parts[0]); j++)
				fprintf(stderr, " %s", parts[j].name);
			fprintf(stderr, "\n");
			return 1;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench: must run as root: it loads BPF and starts watchqd "
			"(try: sudo make bench)\n");
		return 1;
	}
	build_dir = getenv("WATCHQ_BUILD");
	if (!build_dir || !*build_dir)
		build_dir = "build";
	signal(SIGPIPE, SIG_IGN);
	libbpf_set_print(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	machine();
	loadavg("at start");
	for (size_t j = 0; j < sizeof(parts) / sizeof(parts[0]) && !err; j++) {
		bool run = argc == 1;

		for (int i = 1; i < argc; i++)
			run = run || !strcmp(argv[i], parts[j].name);
		if (run)
			err = parts[j].run();
	}
	loadavg("at end");
	printf("total %.0f s\n", now() - t0);
	return err;
}
