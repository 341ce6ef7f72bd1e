/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The watchq ring, both halves.  The producer (the daemon) and the consumer
 * (a client process) share the ring's pages and nothing else; each keeps its
 * own counter privately and only publishes it, so neither trusts what the
 * other can scribble into the shared metadata.
 */
#ifndef WATCHQ_RING_H
#define WATCHQ_RING_H

#include <stdbool.h>
#include <stddef.h>
#include "watchq_abi.h"

/* The v5 limits: 1 to 16 pages, a power of two. */
#define WATCHQ_RING_DEFAULT_MAX_PAGES	16
/* Above this the free-running u32 counters could not tell full from empty. */
#define WATCHQ_RING_LIMIT_PAGES		(1u << 16)

/* Bytes of a ring of @pages pages, or -EINVAL unless @pages is a power of
 * two in [1, @max_pages] (@max_pages itself at most WATCHQ_RING_LIMIT_PAGES). */
long watchq_ring_bytes(unsigned int pages, unsigned int max_pages);

struct watchq_producer {
	struct watchq_buffer *buf;
	__u32 size;		/* slots */
	__u32 mask;
	__u32 head;		/* the truth; meta.head is only ever written */
};

/* Results of watchq_producer_post() besides -errno. */
#define WATCHQ_POSTED		0	/* written; the consumer was not idle */
#define WATCHQ_POSTED_WAKE	1	/* written into an empty ring: wake it */

/*
 * Take ownership of @bytes of zeroed or stale memory at @mem as a new ring:
 * write the metadata with head = tail = WATCHQ_META_SLOTS.  -EINVAL unless
 * @bytes is a power of two number of slots larger than the metadata plus one
 * largest record and no more than WATCHQ_RING_LIMIT_PAGES pages.
 */
int watchq_producer_init(struct watchq_producer *p, void *mem, size_t bytes);

/*
 * Append one record.  The header's type and subtype come from @n, the info
 * word is @info (its length field gives the record's slots, 1 to 63), the
 * body from the slots after @n.  Never blocks and never writes outside
 * [head, tail + size).  Returns WATCHQ_POSTED, WATCHQ_POSTED_WAKE, -EINVAL
 * for a bad length, or with the loss flag set in the ring: -ENOBUFS when the
 * record does not fit (including head - tail == size, a ring filled to the
 * last slot), -EBADMSG when the consumer corrupted the tail (head - tail
 * above the size, or a tail inside the metadata).
 */
int watchq_producer_post(struct watchq_producer *p,
			 const struct watchq_notification *n, __u32 info);

/* Set the loss flag (for records dropped before they reached the ring). */
void watchq_producer_mark_lost(struct watchq_producer *p);

struct watchq_consumer {
	struct watchq_buffer *buf;
	__u32 size;		/* slots, from the mapping, never from meta.mask */
	__u32 mask;
	__u32 tail;		/* the truth; meta.tail is only ever written */
};

/*
 * Attach to a ring of @bytes mapped at @mem.  -EINVAL for a bad size,
 * -EBADMSG when the published tail is not a record boundary it could be.
 */
int watchq_consumer_init(struct watchq_consumer *c, void *mem, size_t bytes);

/*
 * The next record, skipping padding: returns its length in slots and points
 * *@rec at it (valid until consumed), 0 when the ring is empty, or -EBADMSG
 * when the ring is corrupt (zero length, a record past the head or the end
 * of the ring, head more than a ring ahead); nothing is read out of bounds.
 */
int watchq_consumer_peek(struct watchq_consumer *c,
			 const struct watchq_notification **rec);

/* Release the record of @slots slots that peek returned. */
void watchq_consumer_consume(struct watchq_consumer *c, unsigned int slots);

/*
 * True when nothing is left to read, with a full barrier first, so that a
 * consumer that then sleeps on the wake fd cannot miss a record the producer
 * published before seeing the tail (the producer does the mirror image).
 */
bool watchq_consumer_idle(struct watchq_consumer *c);

/* Read, or read and clear, the loss flag. */
bool watchq_consumer_lost(const struct watchq_consumer *c);
bool watchq_consumer_clear_lost(struct watchq_consumer *c);

#endif /* WATCHQ_RING_H */
