// SPDX-License-Identifier: GPL-2.0
/*
 * The block source's user half: pick the attach rung, load bpf/block.bpf.c,
 * give it the kernel's status numbering by name, and switch it on while a
 * devices watch exists.  See block.h and bpf/block.bpf.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "watchq_abi.h"
#include "../bpf/block.h"
#include "bpfsrc.h"
#include "block.h"
#include "block.skel.h"

struct watchq_block {
	struct block_bpf *skel;
	bool fentry;		/* rung 1 loaded */
	bool rq_error;		/* block_rq_error exists (else block_rq_complete) */
};

/*
 * Each subtype by its blk_status_t's names in the kernel's blk_errors[] and
 * its errno there (blk_status_to_errno(), which the tracepoints report).
 * BLK_STS_NEXUS became BLK_STS_RESV_CONFLICT in 6.5, with the same errno.
 * Any other status (NOTSUPP, AGAIN, OFFLINE, zone errors...) is IO.
 */
static const struct {
	__u8 subtype;
	int err;
	const char *name, *name2;
} statuses[] = {
	{ WATCHQ_NOTIFY_BLOCK_ERROR_TIMEOUT, ETIMEDOUT, "timeout", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_NO_SPACE, ENOSPC, "critical space allocation", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_RECOVERABLE_TRANSPORT, ENOLINK, "recoverable transport", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_TARGET, EREMOTEIO, "critical target", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_NEXUS, EBADE, "critical nexus",
	  "reservation conflict" },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_MEDIUM, ENODATA, "critical medium", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_PROTECTION, EILSEQ, "protection", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_KERNEL_RESOURCE, ENOMEM, "kernel resource", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_DEVICE_RESOURCE, EBUSY, "device resource", NULL },
	{ WATCHQ_NOTIFY_BLOCK_ERROR_IO, EIO, "I/O", NULL },
};
#define NR_STATUSES (sizeof(statuses) / sizeof(statuses[0]))

/* The raw-status table, from blk_errors[] as the kernel has it. */
static int read_status_table(struct watchq_block *b)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct block_bpf__bss *bss = b->skel->bss;
	int err, found = 0;

	err = bpf_prog_test_run_opts(bpf_program__fd(b->skel->progs.watchq_block_read_table),
				     &opts);
	if (err)
		return err;
	for (unsigned int i = 0; i < WATCHQ_BLOCK_MAX_STS; i++) {
		const struct watchq_block_sts *s = &bss->watchq_block_table[i];

		for (unsigned int j = 0; j < NR_STATUSES; j++)
			if (!strcmp(s->name, statuses[j].name) ||
			    (statuses[j].name2 && !strcmp(s->name, statuses[j].name2))) {
				bss->watchq_block_status_subtype[i] = statuses[j].subtype;
				found++;
			}
	}
	/* Every kernel since 4.13 names all of them: anything less is not
	 * blk_errors[] as we know it. */
	return found == (int)NR_STATUSES ? 0 : -ENOENT;
}

static int load_rung(struct watchq_block *b, const struct watchq_block_opts *o,
		     bool fentry)
{
	struct block_bpf *skel;
	int err;

	skel = block_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->watchq_subtypes = o->subtypes ? o->subtypes : ~0U;
	if (fentry) {
		skel->rodata->watchq_blk_errors = watchq_kallsyms_addr("blk_errors");
		skel->rodata->watchq_bio_chain_endio = watchq_kallsyms_addr("bio_chain_endio");
		if (!skel->rodata->watchq_blk_errors || !skel->rodata->watchq_bio_chain_endio) {
			if (o->verbose)
				fprintf(stderr, "watchq block: fentry rung: blk_errors or "
					"bio_chain_endio not in /proc/kallsyms\n");
			block_bpf__destroy(skel);
			return -ENOENT;
		}
	}
	bpf_program__set_autoload(skel->progs.watchq_block_bio_endio, fentry);
	bpf_program__set_autoload(skel->progs.watchq_block_read_table, fentry);
	bpf_program__set_autoattach(skel->progs.watchq_block_read_table, false);
	bpf_program__set_autoload(skel->progs.watchq_block_bio_complete, !fentry);
	bpf_program__set_autoload(skel->progs.watchq_block_rq_error, b->rq_error);
	bpf_program__set_autoload(skel->progs.watchq_block_rq_complete, !b->rq_error);
	for (unsigned int j = 0; j < NR_STATUSES; j++)
		skel->bss->watchq_block_errno_subtype[statuses[j].err] = statuses[j].subtype;

	/* a refused fentry rung is expected: keep its verifier log quiet */
	if (fentry && !o->verbose) {
		libbpf_print_fn_t old = libbpf_set_print(watchq_quiet_print);

		err = block_bpf__load(skel);
		libbpf_set_print(old);
	} else {
		err = block_bpf__load(skel);
	}
	b->skel = skel;
	if (!err && fentry)
		err = read_status_table(b);
	if (!err)
		err = block_bpf__attach(skel);
	if (err) {
		if (!fentry || o->verbose)
			fprintf(stderr, "watchq block: %s rung: %s\n",
				fentry ? "fentry" : "tracepoint", strerror(-err));
		block_bpf__destroy(skel);
		b->skel = NULL;
		return err;
	}
	b->fentry = fentry;
	return 0;
}

int watchq_block_open(struct watchq_block **out, const struct watchq_block_opts *o)
{
	struct watchq_block_opts none = {};
	struct watchq_block *b;
	int err;

	*out = NULL;
	if (!o)
		o = &none;
	err = watchq_mount_bpf_fs("block");
	if (err)
		return err;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->rq_error = watchq_tracepoint_exists("block/block_rq_error");
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);

	err = -EPERM;
	if (!o->force_tracepoint)
		err = load_rung(b, o, true);
	if (err)
		err = load_rung(b, o, false);
	if (err) {
		free(b);
		return err;
	}
	if (o->verbose)
		fprintf(stderr, "watchq block: %s rung loaded\n", watchq_block_rung(b));
	*out = b;
	return 0;
}

void watchq_block_close(struct watchq_block *b)
{
	if (!b)
		return;
	block_bpf__destroy(b->skel);
	free(b);
}

int watchq_block_ringbuf_fd(const struct watchq_block *b)
{
	return bpf_map__fd(b->skel->maps.watchq_rb);
}

__u64 watchq_block_dropped(const struct watchq_block *b)
{
	return watchq_percpu_sum(b->skel->maps.watchq_dropped);
}

const char *watchq_block_rung(const struct watchq_block *b)
{
	return b->fentry ? "fentry" : "tracepoint";
}

void watchq_block_enable(struct watchq_block *b, bool on)
{
	/* .bss is mapped: the programs see the store at once */
	__atomic_store_n(&b->skel->bss->watchq_block_on, on, __ATOMIC_RELEASE);
}

void watchq_block_describe(const struct watchq_block *b, FILE *f)
{
	const char *rq = b->rq_error ? "block_rq_error" : "block_rq_complete";

	fprintf(f, "block: %s rung (requests: tracepoint %s; bios: %s)\n",
		watchq_block_rung(b), rq,
		b->fentry ? "fentry bio_endio" : "tracepoint block_bio_complete");
	fprintf(f,
		"  request-based devices (sd, nvme, virtio, loop, null_blk, request-based dm):\n"
		"    one record per failed request (each failed completion of a partly\n"
		"    completed request), dev = the whole disk, sector = the first sector\n"
		"    of what failed, counted from the disk's start\n"
		"  bio-based devices (device-mapper, md): one record per failed bio submitted\n"
		"    to the device, dev = the whole (dm/md) disk\n"
		"  device-mapper: a bio crossing a target boundary is split and ended once,\n"
		"    with the start of the last piece dm mapped: the failing sector only if\n"
		"    the bio ends in the failing target (both rungs)\n"
		"  subtype from the kernel's status by name; statuses the ABI does not name\n"
		"    (NOTSUPP, AGAIN, OFFLINE, zone errors, ...) are IO\n");
	if (!b->rq_error)
		fprintf(f, "  block_rq_complete runs for every completion (no block_rq_error\n"
			"    on this kernel); quiet and passthrough requests are skipped\n");
	else
		fprintf(f, "  not seen: requests the kernel completes quietly (RQF_QUIET, e.g.\n"
			"    SCSI probing) and passthrough (SG_IO, NVMe admin) commands\n");
	if (b->fentry)
		fprintf(f, "  bios: status from blk_errors[] in /proc/kallsyms; a bio split and\n"
			"    chained by its driver (md) reports once, at its first failing piece\n");
	else
		fprintf(f, "  bios: subtype from the errno the tracepoint reports; a bio split by\n"
			"    a bio-based driver (md) may give one record per piece; dm error/\n"
			"    flakey targets are seen (the bio fails at the dm device)\n");
}

/* "/sys/dev/block/M:m": the disk's directory of a disk or partition. */
static bool disk_dir(__u64 dev, char *out, size_t len)
{
	char path[64], real[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition",
		 major(dev), minor(dev));
	if (!access(path, F_OK))
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/..",
			 major(dev), minor(dev));
	else
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u",
			 major(dev), minor(dev));
	if (!realpath(path, real))
		return false;
	snprintf(out, len, "%s", real);
	return true;
}

bool watchq_block_accept(struct watchq_block *b, struct watchq_block_notification *n)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];
	unsigned int maj, min;
	FILE *f;

	(void)b;
	if (!(n->watch.info & WATCHQ_BLOCK_FROM_BIO))
		return true;
	n->watch.info &= ~WATCHQ_BLOCK_FROM_BIO;
	/* A device gone already keeps its record: a duplicate beats a loss. */
	if (!disk_dir(n->dev, dir, sizeof(dir)))
		return true;
	/* request-based (blk-mq) disks have mq/: their request reported it */
	snprintf(path, sizeof(path), "%s/mq", dir);
	if (!access(path, F_OK))
		return false;
	snprintf(path, sizeof(path), "%s/dev", dir);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%u:%u", &maj, &min) == 2)
			n->dev = makedev(maj, min);
		fclose(f);
	}
	return true;
}
