// SPDX-License-Identifier: GPL-2.0
/*
 * The block source: one record per failed I/O, { dev, sector }, subtype from
 * the kernel's blk_status_t.
 *
 * Request-based devices: the block_rq_error tracepoint (block_rq_complete
 * where it is missing), once per failed completion of a request.  Bio-based
 * devices (device-mapper, md), whose errors never complete a request: on
 * the tracepoint rung block_bio_complete, which the kernel also fires for
 * the remainder of a split bio of a request-based device, so those records
 * carry BLOCK_FROM_BIO and user space keeps only bio-based devices'; on the
 * fentry rung, bio_endio itself.
 *
 * blk_status_t values are macros, not an enum, so BTF has no names for
 * them.  The tracepoints give blk_status_to_errno(status), the kernel's own
 * mapping, and errnos never change: user space fills errno_subtype[] from
 * the errno of each status name.  bio_endio sees the raw status: user space
 * fills status_subtype[] from the kernel's blk_errors[] table (names).
 */
#include "watchq.bpf.h"
#include "block.h"

/* Nonzero while at least one devices watch exists (user space flips it). */
__u32 watchq_block_on;

/* errno -> subtype and blk_status_t -> subtype; 0 (unknown) means IO. */
__u8 watchq_block_errno_subtype[256];
__u8 watchq_block_status_subtype[256];

/* Filled by watchq_block_read_table: the kernel's blk_errors[]. */
struct watchq_block_sts watchq_block_table[WATCHQ_BLOCK_MAX_STS];

/* From /proc/kallsyms: blk_errors[] (fentry rung) and bio_chain_endio. */
const volatile __u64 watchq_blk_errors;
const volatile __u64 watchq_bio_chain_endio;

/* Parents of chained bios whose failing piece was already posted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} posted_parents SEC(".maps");

static __always_inline void emit_block(__u32 subtype, __u32 kdev, __u64 sector,
				       __u32 flags)
{
	struct watchq_block_notification n = {};

	if (!subtype)
		subtype = WATCHQ_NOTIFY_BLOCK_ERROR_IO;
	if (!watchq_subtype_passes(subtype))
		return;
	watchq_set_header(&n.watch, WATCHQ_TYPE_BLOCK_NOTIFY, subtype, 3, flags);
	n.dev = watchq_user_dev(kdev);
	n.sector = sector;
	watchq_emit(&n, sizeof(n));
}

static __always_inline __u32 errno_subtype(int error)
{
	__u32 e = error < 0 ? -error : error;

	return e < 256 ? watchq_block_errno_subtype[e] : 0;
}

/* ---- requests (both rungs) ---------------------------------------------- */

static __always_inline void rq_failed(struct trace_event_raw_block_rq_completion *ctx)
{
	int error;

	if (!watchq_block_on)
		return;
	error = BPF_CORE_READ(ctx, error);
	/* block_rq_complete also reports successes and passthrough ('N') */
	if (!error || BPF_CORE_READ(ctx, rwbs[0]) == 'N')
		return;
	emit_block(errno_subtype(error), BPF_CORE_READ(ctx, dev),
		   BPF_CORE_READ(ctx, sector), 0);
}

SEC("tracepoint/block/block_rq_error")
int watchq_block_rq_error(struct trace_event_raw_block_rq_completion *ctx)
{
	rq_failed(ctx);
	return 0;
}

/* Kernels without block_rq_error: every completion comes here. */
SEC("tracepoint/block/block_rq_complete")
int watchq_block_rq_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	rq_failed(ctx);
	return 0;
}

/* ---- tracepoint rung: bios --------------------------------------------- */

SEC("tracepoint/block/block_bio_complete")
int watchq_block_bio_complete(struct trace_event_raw_block_bio_complete *ctx)
{
	int error;

	if (!watchq_block_on)
		return 0;
	error = BPF_CORE_READ(ctx, error);
	if (!error)
		return 0;
	emit_block(errno_subtype(error), BPF_CORE_READ(ctx, dev),
		   BPF_CORE_READ(ctx, sector), WATCHQ_BLOCK_FROM_BIO);
	return 0;
}

/* ---- fentry rung: bio completion ---------------------------------------- */

SEC("fentry/bio_endio")
int BPF_PROG(watchq_block_bio_endio, struct bio *bio)
{
	__u64 key = (__u64)bio, parent;
	struct gendisk *disk;
	__u8 status, one = 1;

	if (!watchq_block_on)
		return 0;
	status = BPF_CORE_READ(bio, bi_status);
	if (!status)
		return 0;
	disk = BPF_CORE_READ(bio, bi_bdev, bd_disk);
	/* request-based: block_rq_error reported the request */
	if (!disk || BPF_CORE_READ(disk, queue, mq_ops))
		return 0;
	/* not the last completion of a chained (remaining-counted) bio */
	if (BPF_CORE_READ(bio, __bi_remaining.counter) > 1)
		return 0;
	/* a piece of this bio already told: one record per bio */
	if (!bpf_map_delete_elem(&posted_parents, &key))
		return 0;
	if ((__u64)BPF_CORE_READ(bio, bi_end_io) == watchq_bio_chain_endio) {
		parent = (__u64)BPF_CORE_READ(bio, bi_private);
		bpf_map_update_elem(&posted_parents, &parent, &one, BPF_ANY);
	}
	emit_block(watchq_block_status_subtype[status],
		   BPF_CORE_READ(disk, part0, bd_dev),
		   BPF_CORE_READ(bio, bi_iter.bi_sector), 0);
	return 0;
}

/*
 * Run once by user space (BPF_PROG_TEST_RUN) on the fentry rung: copy the
 * kernel's blk_errors[] { int errno; const char *name; }, indexed by
 * blk_status_t, so user space can map each status by its name.
 */
SEC("raw_tp")
int watchq_block_read_table(void *ctx)
{
	for (int i = 0; i < WATCHQ_BLOCK_MAX_STS; i++) {
		__u64 ent = watchq_blk_errors + i * 16, name = 0;
		struct watchq_block_sts *s = &watchq_block_table[i];

		if (bpf_probe_read_kernel(&s->err, sizeof(s->err), (void *)ent) ||
		    bpf_probe_read_kernel(&name, sizeof(name), (void *)(ent + 8)) ||
		    !name)
			continue;
		bpf_probe_read_kernel_str(s->name, sizeof(s->name), (void *)name);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
