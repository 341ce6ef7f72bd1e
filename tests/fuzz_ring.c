// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the ring.  The first byte picks a mode:
 *  - consumer: the rest is the whole ring's memory, as a hostile producer or
 *    a scribbling consumer might leave it; the consumer must report
 *    corruption or return records that lie inside the ring, never read out
 *    of bounds (ASan) and never loop;
 *  - producer: the rest is a script of posts, tails the consumer writes
 *    (anything at all) and honest consumes; after each post the unread part
 *    of the ring must be untouched and a refused post must write nothing.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

static const size_t sizes[] = { 128 * 8, 256 * 8, 512 * 8 };

static void fuzz_consumer(const uint8_t *data, size_t len, size_t bytes)
{
	struct watchq_consumer c;
	const struct watchq_notification *n;
	__u64 *mem = malloc(bytes);	/* exact size: ASan sees any overrun */
	int i, r;

	/* The input, repeated to fill the ring, so short inputs reach every
	 * slot; then, unless asked to keep it raw, a tail anywhere in the ring
	 * and a head up to 256 slots ahead of it. */
	memset(mem, 0, bytes);
	for (size_t off = 0; len > 5 && off < bytes; off += len - 5)
		memcpy((char *)mem + off, data + 5,
		       len - 5 < bytes - off ? len - 5 : bytes - off);
	if (len >= 5 && !(data[0] & 1)) {
		struct watchq_buffer *b = (void *)mem;
		__u32 tail = data[1] | data[2] << 8 | (__u32)data[3] << 24;

		b->meta.tail = tail;
		b->meta.head = tail + data[4];
	}
	if (watchq_consumer_init(&c, mem, bytes) == 0) {
		for (i = 0; i < 4096; i++) {
			r = watchq_consumer_peek(&c, &n);
			if (r <= 0)
				break;
			assert(r <= WATCHQ_MAX_RECORD_SLOTS);
			assert((const __u64 *)n + r <= mem + bytes / 8);
			assert((const __u64 *)n >= mem + WATCHQ_META_SLOTS);
			assert(!(n->type == WATCHQ_TYPE_META &&
				 n->subtype == WATCHQ_META_SKIP_NOTIFICATION));
			/* Touch every slot the consumer was handed. */
			__u64 sum = 0;
			for (int k = 0; k < r; k++)
				sum += ((const __u64 *)n)[k];
			__asm__ volatile("" : : "r"(sum));
			watchq_consumer_consume(&c, r);
		}
		(void)watchq_consumer_idle(&c);
		(void)watchq_consumer_clear_lost(&c);
	}
	free(mem);
}

/* The slots [from, to) (free-running) of the ring are unchanged, but for the
 * metadata's head and tail. */
static void check_kept(const __u64 *mem, const __u64 *snap, __u32 mask,
		       __u32 from, __u32 to)
{
	for (__u32 i = from; i != to; i++)
		assert(mem[i & mask] == snap[i & mask] ||
		       (i & mask) < WATCHQ_META_SLOTS);
}

static void fuzz_producer(const uint8_t *data, size_t len, size_t bytes)
{
	struct watchq_producer p;
	struct watchq_consumer c;
	__u64 *mem = malloc(bytes), *snap = malloc(bytes);
	__u64 rec[WATCHQ_MAX_RECORD_SLOTS];
	size_t i = 0;

	memset(mem, 0xa5, bytes);
	memset(rec, 0x5a, sizeof(rec));
	assert(watchq_producer_init(&p, mem, bytes) == 0);
	assert(watchq_consumer_init(&c, mem, bytes) == 0);
	while (i < len) {
		uint8_t op = data[i++];
		__u32 tail, head, used, v = 0;
		int r;

		switch (op & 3) {
		case 0:		/* the consumer writes any tail at all */
			for (int k = 0; k < 4 && i < len; k++)
				v |= (__u32)data[i++] << (8 * k);
			if (op & 4)	/* or a plausible one near the head */
				v = p.head - (v % (p.size + 2));
			((struct watchq_buffer *)mem)->meta.tail = v;
			c.tail = v;
			break;
		case 1:		/* honest consumption */
			for (int k = 0; k < (op >> 2); k++) {
				const struct watchq_notification *n;

				r = watchq_consumer_peek(&c, &n);
				if (r <= 0)
					break;
				watchq_consumer_consume(&c, r);
			}
			break;
		default:	/* a post of 1 to 63 slots */
			memcpy(snap, mem, bytes);
			head = p.head;
			tail = ((struct watchq_buffer *)mem)->meta.tail;
			used = head - tail;
			r = watchq_producer_post(&p, (void *)rec,
						 WATCHQ_INFO(1 + (op >> 2) % 63, op, 0));
			if (r < 0) {
				/* Nothing but the loss flag may change. */
				snap[0] |= (__u64)WATCHQ_INFO_NOTIFICATIONS_LOST << 32;
				assert(!memcmp(mem, snap, bytes));
				assert(p.head == head);
			} else {
				assert(used < p.size);
				check_kept(mem, snap, p.mask, tail, head);
				assert(p.head - tail <= p.size);
				assert(((struct watchq_buffer *)mem)->meta.head == p.head);
			}
			break;
		}
	}
	free(snap);
	free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t bytes;

	if (len < 1)
		return 0;
	bytes = sizes[(data[0] >> 1) % 3];
	if (data[0] & 1)
		fuzz_producer(data + 1, len - 1, bytes);
	else
		fuzz_consumer(data + 1, len - 1, bytes);
	return 0;
}
