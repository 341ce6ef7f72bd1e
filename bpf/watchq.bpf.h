/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by every watchq BPF source (keys, mounts, superblocks, block): one
 * source per object, so each object gets its own ring buffer, drop counter
 * and global subtype filter from this header.
 */
#ifndef WATCHQ_BPF_H
#define WATCHQ_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "watchq_abi.h"

#ifndef WATCHQ_RINGBUF_BYTES
#define WATCHQ_RINGBUF_BYTES	(256 * 1024)
#endif

/* Records in slot format, watch id 0: the daemon fans them out. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, WATCHQ_RINGBUF_BYTES);
} watchq_rb SEC(".maps");

/* Records that found the ring buffer full; per CPU so counting is free. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} watchq_dropped SEC(".maps");

/*
 * Global filter, written by user space before load: bit n passes subtype n
 * of this source's type.  META records never go through it.
 */
const volatile __u32 watchq_subtypes = ~0U;

static __always_inline bool watchq_subtype_passes(__u32 subtype)
{
	return subtype < 32 && (watchq_subtypes & (1U << subtype));
}

/* The first word of a header: type in bits 0-23, subtype in bits 24-31. */
static __always_inline void watchq_set_header(struct watchq_notification *n,
					      __u32 type, __u32 subtype,
					      __u32 slots, __u32 flags)
{
	n->type = type;
	n->subtype = subtype;
	n->info = WATCHQ_INFO(slots, 0, flags);
}

/*
 * Copy one finished record (@size a whole number of slots) into the ring.
 * bpf_ringbuf_output() rather than reserve/submit so callers can build the
 * record on the stack with any size the verifier can bound.
 */
static __always_inline int watchq_emit(const void *rec, __u64 size)
{
	__u32 zero = 0;
	__u64 *dropped;
	long err;

	err = bpf_ringbuf_output(&watchq_rb, (void *)rec, size, 0);
	if (!err)
		return 0;
	dropped = bpf_map_lookup_elem(&watchq_dropped, &zero);
	if (dropped)
		(*dropped)++;
	return (int)err;
}

/* The kernel's dev_t (major << 20 | minor) in the encoding stat() gives
 * (glibc's makedev), which is what the ABI and the CLI mean by dev_t. */
static __always_inline __u64 watchq_user_dev(__u32 kdev)
{
	__u64 major = kdev >> 20, minor = kdev & 0xfffff;

	return ((major & 0xfffff000ULL) << 32) | ((major & 0xfff) << 8) |
	       ((minor & 0xffffff00ULL) << 12) | (minor & 0xff);
}

#endif /* WATCHQ_BPF_H */
