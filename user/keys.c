// SPDX-License-Identifier: GPL-2.0
/*
 * The key source's user half: pick the attach rung, load bpf/keys.bpf.c,
 * keep its watch and prover maps current.  See keys.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "watchq_abi.h"
#include "bpfsrc.h"
#include "keys.h"
#include "keys.skel.h"

/* The tree walk can miss during a concurrent rebalance: try again. */
#define RESOLVE_TRIES	4

struct watchq_keys {
	struct keys_bpf *skel;
	bool fentry;		/* rung 1 loaded */
	bool lsm;		/* removals from LSM key_free (else fentry) */
	bool kmem_attached;	/* the slab hooks, only while watching */
	unsigned int provers;	/* syscall hooks attached while > 0 */
	int verbose;
};

/* "bpf" among the active LSMs: otherwise lsm/key_free attaches but never
 * runs, so removals come from fentry on security_key_free instead. */
static bool bpf_lsm_active(void)
{
	char buf[512] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "re");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (char *t = strtok(buf, ",\n"); t; t = strtok(NULL, ",\n"))
		if (!strcmp(t, "bpf"))
			return true;
	return false;
}

static void set_fentry_rung(struct keys_bpf *skel, bool on, bool lsm)
{
	struct bpf_program *fentry[] = {
		skel->progs.watchq_keys_fentry_link,
		skel->progs.watchq_keys_fexit_unlink,
		skel->progs.watchq_keys_fentry_revoke,
		skel->progs.watchq_keys_fentry_invalidate,
		skel->progs.watchq_keys_fexit_clear,
	};

	for (size_t i = 0; i < sizeof(fentry) / sizeof(fentry[0]); i++)
		bpf_program__set_autoload(fentry[i], on);
	bpf_program__set_autoload(skel->progs.watchq_keys_lsm_free, on && lsm);
	bpf_program__set_autoload(skel->progs.watchq_keys_security_free,
				  on && !lsm);
	/* the fentry rung sees every destruction without the slab hook */
	bpf_program__set_autoload(skel->progs.watchq_keys_slab_free, !on);
}

struct key_syms {
	__u64 alloc_lo, alloc_hi, gc_lo, gc_hi;
};

static int find_syms(struct key_syms *s)
{
	__u64 lo, hi;
	int err;

	err = watchq_kallsyms_range("key_alloc", false, &s->alloc_lo, &s->alloc_hi);
	if (err) {
		fprintf(stderr, "watchq keys: key_alloc not in /proc/kallsyms\n");
		return err;
	}
	/* key_gc_unused_keys() frees keys; it may be a clone or inlined
	 * into key_garbage_collector(): cover whichever exist. */
	s->gc_lo = s->gc_hi = 0;
	if (!watchq_kallsyms_range("key_gc_unused_keys", true, &lo, &hi)) {
		s->gc_lo = lo;
		s->gc_hi = hi;
	}
	if (!watchq_kallsyms_range("key_garbage_collector", false, &lo, &hi)) {
		if (!s->gc_lo || lo < s->gc_lo)
			s->gc_lo = lo;
		if (hi > s->gc_hi)
			s->gc_hi = hi;
	}
	return 0;
}

/*
 * The syscall tracepoints.  While any syscall tracepoint is attached, every
 * syscall of every task takes the kernel's slower tracing path, so they are
 * attached only while some consumer is connected (a consumer proves view
 * permission through keyctl, and every watch belongs to one).
 */
#define SYSCALL_PROGS 4

static struct bpf_program **syscall_prog(struct keys_bpf *skel, size_t i)
{
	struct bpf_program **progs[SYSCALL_PROGS] = {
		&skel->progs.watchq_keys_keyctl_enter,
		&skel->progs.watchq_keys_keyctl_exit,
		&skel->progs.watchq_keys_add_key_exit,
		&skel->progs.watchq_keys_request_key_exit,
	};

	return progs[i];
}

static struct bpf_link **syscall_link(struct keys_bpf *skel, size_t i)
{
	struct bpf_link **links[SYSCALL_PROGS] = {
		&skel->links.watchq_keys_keyctl_enter,
		&skel->links.watchq_keys_keyctl_exit,
		&skel->links.watchq_keys_add_key_exit,
		&skel->links.watchq_keys_request_key_exit,
	};

	return links[i];
}

static void syscalls_detach(struct watchq_keys *k)
{
	for (size_t i = 0; i < SYSCALL_PROGS; i++) {
		bpf_link__destroy(*syscall_link(k->skel, i));
		*syscall_link(k->skel, i) = NULL;
	}
}

static int syscalls_attach(struct watchq_keys *k)
{
	for (size_t i = 0; i < SYSCALL_PROGS; i++) {
		struct bpf_link *l = bpf_program__attach(*syscall_prog(k->skel, i));

		if (!l) {
			int err = -errno;

			fprintf(stderr, "watchq keys: attach %s: %s\n",
				bpf_program__name(*syscall_prog(k->skel, i)), strerror(errno));
			syscalls_detach(k);
			return err;
		}
		*syscall_link(k->skel, i) = l;
	}
	return 0;
}

static int load_rung(struct watchq_keys *k, const struct watchq_keys_opts *o,
		     const struct key_syms *syms, bool fentry)
{
	struct keys_bpf *skel;
	int err;

	skel = keys_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->watchq_subtypes = o->subtypes ? o->subtypes : ~0U;
	skel->rodata->watchq_key_alloc_lo = syms->alloc_lo;
	skel->rodata->watchq_key_alloc_hi = syms->alloc_hi;
	skel->rodata->watchq_key_gc_lo = syms->gc_lo;
	skel->rodata->watchq_key_gc_hi = syms->gc_hi;
	k->lsm = fentry && bpf_lsm_active();
	set_fentry_rung(skel, fentry, k->lsm);
	/* attached on demand, or never (the resolver is test-run) */
	for (size_t i = 0; i < SYSCALL_PROGS; i++)
		bpf_program__set_autoattach(*syscall_prog(skel, i), false);
	bpf_program__set_autoattach(skel->progs.watchq_keys_slab_alloc, false);
	bpf_program__set_autoattach(skel->progs.watchq_keys_slab_free, false);
	bpf_program__set_autoattach(skel->progs.watchq_keys_resolve, false);

	/* a refused fentry rung is expected: keep its verifier log quiet */
	if (fentry && !o->verbose) {
		libbpf_print_fn_t old = libbpf_set_print(watchq_quiet_print);

		err = keys_bpf__load(skel);
		libbpf_set_print(old);
	} else {
		err = keys_bpf__load(skel);
	}
	if (!err)
		err = keys_bpf__attach(skel);
	if (err) {
		if (!fentry || o->verbose)
			fprintf(stderr, "watchq keys: %s rung: %s\n",
				fentry ? "fentry" : "tracepoint", strerror(-err));
		keys_bpf__destroy(skel);
		return err;
	}
	k->skel = skel;
	k->fentry = fentry;
	return 0;
}

int watchq_keys_open(struct watchq_keys **out, const struct watchq_keys_opts *o)
{
	struct watchq_keys_opts none = {};
	struct key_syms syms;
	struct watchq_keys *k;
	int err;

	*out = NULL;
	if (!o)
		o = &none;
	err = watchq_mount_bpf_fs("keys");
	if (err)
		return err;
	err = find_syms(&syms);
	if (err)
		return err;
	/*
	 * The resolver climbs key_serial_tree from one of our own keys: the
	 * user keyring register exists once @u has been looked up, and the
	 * lookup does not touch this process's session.
	 */
	if (syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1) < 0) {
		err = -errno;
		fprintf(stderr, "watchq keys: no user keyring: %s\n", strerror(errno));
		return err;
	}

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->verbose = o->verbose;
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);

	err = -EPERM;
	if (!o->force_tracepoint)
		err = load_rung(k, o, &syms, true);
	if (err) {
		if (!syms.gc_lo) {
			fprintf(stderr, "watchq keys: tracepoint rung needs the key GC in /proc/kallsyms\n");
			free(k);
			return -ENOENT;
		}
		err = load_rung(k, o, &syms, false);
	}
	if (err) {
		free(k);
		return err;
	}
	if (o->verbose)
		fprintf(stderr, "watchq keys: %s rung loaded\n", watchq_keys_rung(k));
	*out = k;
	return 0;
}

static void kmem_detach(struct watchq_keys *k)
{
	bpf_link__destroy(k->skel->links.watchq_keys_slab_alloc);
	bpf_link__destroy(k->skel->links.watchq_keys_slab_free);
	k->skel->links.watchq_keys_slab_alloc = NULL;
	k->skel->links.watchq_keys_slab_free = NULL;
	k->kmem_attached = false;
}

/* The slab hooks fire for every allocation in the system: attach them only
 * while at least one key is watched. */
static int kmem_attach(struct watchq_keys *k)
{
	struct bpf_link *l;

	if (k->kmem_attached)
		return 0;
	l = bpf_program__attach(k->skel->progs.watchq_keys_slab_alloc);
	if (!l)
		goto err;
	k->skel->links.watchq_keys_slab_alloc = l;
	if (!k->fentry) {
		l = bpf_program__attach(k->skel->progs.watchq_keys_slab_free);
		if (!l)
			goto err;
		k->skel->links.watchq_keys_slab_free = l;
	}
	k->kmem_attached = true;
	return 0;
err:
	{
		int err = -errno;

		fprintf(stderr, "watchq keys: attach slab hooks: %s\n", strerror(errno));
		kmem_detach(k);
		return err;
	}
}

void watchq_keys_close(struct watchq_keys *k)
{
	if (!k)
		return;
	keys_bpf__destroy(k->skel);
	free(k);
}

int watchq_keys_ringbuf_fd(const struct watchq_keys *k)
{
	return bpf_map__fd(k->skel->maps.watchq_rb);
}

__u64 watchq_keys_dropped(const struct watchq_keys *k)
{
	return watchq_percpu_sum(k->skel->maps.watchq_dropped);
}

const char *watchq_keys_rung(const struct watchq_keys *k)
{
	return k->fentry ? "fentry" : "tracepoint";
}

void watchq_keys_describe(const struct watchq_keys *k, FILE *f)
{
	fprintf(f, "keys: %s rung%s\n", watchq_keys_rung(k),
		k->fentry ? (k->lsm ? " (removals: LSM key_free)" :
			     " (removals: fentry security_key_free)") :
			    " (syscall tracepoints + raw kmem_cache_alloc/free tracepoints)");
	fprintf(f,
		"  key syscalls (add_key, request_key, keyctl): every keys.md row, records\n"
		"    posted at syscall exit; within one task the order is exact\n"
		"  not exact: two tasks changing one key at once may come out in another order\n"
		"    than the kernel's; a call that posted and then failed (ENOMEM, link\n"
		"    failure after instantiation) posts nothing here\n"
		"  not seen: 32-bit (compat) key syscalls; INSTANTIATED on keys born in the\n"
		"    same call (nobody can watch them yet)\n"
		"  request_key racing another construction of the same key links into an\n"
		"    explicit destination only (not the default keyring)\n"
		"  @u/@us resolution: up to 128 users per user namespace register\n"
		"  a watch set while an add_key/request_key is in flight may miss that call\n");
	if (k->fentry)
		fprintf(f,
			"  kernel-originated changes: LINKED, UNLINKED, REVOKED, INVALIDATED and\n"
			"    CLEARED are seen; INSTANTIATED, UPDATED and SETATTR made by the\n"
			"    kernel itself (in-kernel request_key helpers, key type code) are not\n"
			"  removals: every destroyed key, at destruction\n");
	else
		fprintf(f,
			"  kernel-originated changes (in-kernel request_key, kernel revoke/\n"
			"    invalidate, key type removal): not seen, only their destruction\n"
			"  removals: keys freed by the key garbage collector (all of them),\n"
			"    found by its call site in /proc/kallsyms\n");
}

int watchq_keys_add_prover(struct watchq_keys *k, pid_t tgid)
{
	__u32 key = tgid;
	__u8 one = 1;
	int err;

	if (!k->provers) {
		err = syscalls_attach(k);
		if (err)
			return err;
	}
	if (bpf_map_update_elem(bpf_map__fd(k->skel->maps.provers), &key, &one, BPF_ANY)) {
		err = -errno;
		if (!k->provers)
			syscalls_detach(k);
		return err;
	}
	k->provers++;
	return 0;
}

void watchq_keys_del_prover(struct watchq_keys *k, pid_t tgid)
{
	__u32 key = tgid;

	bpf_map_delete_elem(bpf_map__fd(k->skel->maps.provers), &key);
	if (k->provers && !--k->provers)
		syscalls_detach(k);
}

/* Must match struct keys_proof in keys.bpf.c. */
struct keys_proof {
	__u32 tgid;
	__s32 serial;
};

int watchq_keys_check_view(struct watchq_keys *k, pid_t tgid, __s32 serial)
{
	struct keys_proof p = { .tgid = tgid, .serial = serial };
	int fd = bpf_map__fd(k->skel->maps.proofs);
	__s32 ret;

	if (bpf_map_lookup_and_delete_elem(fd, &p, &ret)) {
		/* LRU maps have no lookup_and_delete before 5.14 */
		if (errno == ENOENT || bpf_map_lookup_elem(fd, &p, &ret))
			return -EACCES;
		bpf_map_delete_elem(fd, &p);
	}
	return ret;
}

int watchq_keys_watch(struct watchq_keys *k, __s32 serial)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	__u64 args[1] = { (__u32)serial };
	int fd = bpf_program__fd(k->skel->progs.watchq_keys_resolve);
	int err, i;

	if (serial <= 0)
		return -EINVAL;
	opts.ctx_in = args;
	opts.ctx_size_in = sizeof(args);
	for (i = 0; i < RESOLVE_TRIES; i++) {
		err = bpf_prog_test_run_opts(fd, &opts);
		if (err)
			return -errno;
		if (!opts.retval)
			break;
	}
	if (opts.retval)
		return -ENOKEY;
	return kmem_attach(k);
}

int watchq_keys_unwatch(struct watchq_keys *k, __s32 serial)
{
	int wfd = bpf_map__fd(k->skel->maps.watched);
	int pfd = bpf_map__fd(k->skel->maps.watched_ptr);
	int ofd = bpf_map__fd(k->skel->maps.once);
	__u32 key = serial, next;
	__u64 ptr, once;

	/* The BPF side drops the entry itself when the key is destroyed. */
	if (!bpf_map_lookup_elem(wfd, &key, &ptr)) {
		bpf_map_delete_elem(wfd, &key);
		bpf_map_delete_elem(pfd, &ptr);
		once = (__u64)WATCHQ_NOTIFY_KEY_REVOKED << 32 | key;
		bpf_map_delete_elem(ofd, &once);
		once = (__u64)WATCHQ_NOTIFY_KEY_INVALIDATED << 32 | key;
		bpf_map_delete_elem(ofd, &once);
	}
	if (k->kmem_attached && bpf_map_get_next_key(wfd, NULL, &next) &&
	    errno == ENOENT)
		kmem_detach(k);
	return 0;
}
