// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"

#define SLOT	WATCHQ_LENGTH_GRANULARITY

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

static bool is_pow2(unsigned long x)
{
	return x && !(x & (x - 1));
}

long watchq_ring_bytes(unsigned int pages, unsigned int max_pages)
{
	if (max_pages > WATCHQ_RING_LIMIT_PAGES || !is_pow2(pages) ||
	    pages > max_pages)
		return -EINVAL;
	return (long)(pages * page_size());
}

/* Rings hold the metadata plus at least one largest record. */
static int ring_slots(size_t bytes, __u32 *size)
{
	size_t slots = bytes / SLOT;

	if (bytes % SLOT || !is_pow2(slots) ||
	    slots < WATCHQ_META_SLOTS + WATCHQ_MAX_RECORD_SLOTS ||
	    bytes > (size_t)WATCHQ_RING_LIMIT_PAGES * page_size())
		return -EINVAL;
	*size = (__u32)slots;
	return 0;
}

static __u32 meta_header_word(void)
{
	struct watchq_notification h = {
		.type = WATCHQ_TYPE_META,
		.subtype = WATCHQ_META_SKIP_NOTIFICATION,
	};
	__u32 w;

	memcpy(&w, &h, sizeof(w));
	return w;
}

static void write_header(struct watchq_notification *slot, __u32 word, __u32 info)
{
	memcpy(slot, &word, sizeof(word));
	slot->info = info;
}

int watchq_producer_init(struct watchq_producer *p, void *mem, size_t bytes)
{
	struct watchq_buffer *buf = mem;
	int err;

	err = ring_slots(bytes, &p->size);
	if (err)
		return err;
	p->buf = buf;
	p->mask = p->size - 1;
	p->head = WATCHQ_META_SLOTS;
	memset(buf, 0, WATCHQ_META_SLOTS * SLOT);
	write_header(&buf->meta.watch, meta_header_word(), WATCHQ_META_SLOTS);
	buf->meta.mask = p->mask;
	buf->meta.tail = p->head;
	/* Release: a consumer that maps the ring and sees head sees the rest. */
	__atomic_store_n(&buf->meta.head, p->head, __ATOMIC_RELEASE);
	return 0;
}

void watchq_producer_mark_lost(struct watchq_producer *p)
{
	__atomic_fetch_or(&p->buf->meta.watch.info,
			  WATCHQ_INFO_NOTIFICATIONS_LOST, __ATOMIC_RELAXED);
}

int watchq_producer_post(struct watchq_producer *p,
			 const struct watchq_notification *n, __u32 info)
{
	struct watchq_buffer *buf = p->buf;
	__u32 len = info & WATCHQ_INFO_LENGTH;
	__u32 head = p->head, tail, used, h, t, gap, need;
	__u32 word;

	if (!len)
		return -EINVAL;

	/* Acquire: pairs with the consumer's release of tail, so its reads of
	 * the slots we are about to reuse are finished. */
	tail = __atomic_load_n(&buf->meta.tail, __ATOMIC_ACQUIRE);
	used = head - tail;
	t = tail & p->mask;
	/* used == size is a ring filled to the last slot, which is legal and
	 * leaves no room; beyond that, or a tail inside the metadata, the
	 * consumer wrote a tail it cannot have reached. */
	if (used > p->size || (t && t < WATCHQ_META_SLOTS)) {
		watchq_producer_mark_lost(p);
		return -EBADMSG;
	}

	/* Everything this post writes, counted in slots from the head: the
	 * padding to the end of the ring, the metadata at slot 0, the record. */
	h = head & p->mask;
	gap = 0;
	need = len;
	if (h + len > p->size) {
		gap = p->size - h;
		need += gap + WATCHQ_META_SLOTS;
	} else if (h == 0) {
		need += WATCHQ_META_SLOTS;
	}
	if (need > p->size - used) {
		watchq_producer_mark_lost(p);
		return -ENOBUFS;
	}

	word = meta_header_word();
	if (gap) {
		/* gap < len <= 63, so it fits the length field. */
		write_header(&buf->slots[h], word, gap);
		head += gap;
		h = 0;
	}
	if (h == 0) {
		/* The metadata header doubles as the skip record at slot 0; it
		 * is rewritten each lap in case the consumer scribbled on it,
		 * keeping only the loss flag the consumer has not cleared. */
		memcpy(&buf->meta.watch, &word, sizeof(word));
		__atomic_fetch_and(&buf->meta.watch.info,
				   WATCHQ_INFO_NOTIFICATIONS_LOST, __ATOMIC_RELAXED);
		__atomic_fetch_or(&buf->meta.watch.info, WATCHQ_META_SLOTS,
				  __ATOMIC_RELAXED);
		buf->meta.mask = p->mask;
		head += WATCHQ_META_SLOTS;
		h = WATCHQ_META_SLOTS;
	}
	memcpy(&word, n, sizeof(word));
	write_header(&buf->slots[h], word, info);
	memcpy(&buf->slots[h + 1], n + 1, (len - 1) * SLOT);
	head += len;

	/* Release: the record is visible before the head that covers it. */
	p->head = head;
	__atomic_store_n(&buf->meta.head, head, __ATOMIC_RELEASE);

	/* Wake only if the consumer had drained the ring before this post.
	 * The full barrier pairs with the one in watchq_consumer_idle(): either
	 * we see its final tail, or it sees our head and does not sleep. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	tail = __atomic_load_n(&buf->meta.tail, __ATOMIC_RELAXED);
	return tail == p->head - need ? WATCHQ_POSTED_WAKE : WATCHQ_POSTED;
}

int watchq_consumer_init(struct watchq_consumer *c, void *mem, size_t bytes)
{
	int err;
	__u32 t;

	err = ring_slots(bytes, &c->size);
	if (err)
		return err;
	c->buf = mem;
	c->mask = c->size - 1;
	c->tail = __atomic_load_n(&c->buf->meta.tail, __ATOMIC_RELAXED);
	t = c->tail & c->mask;
	if (t && t < WATCHQ_META_SLOTS)
		return -EBADMSG;
	return 0;
}

int watchq_consumer_peek(struct watchq_consumer *c,
			 const struct watchq_notification **rec)
{
	for (;;) {
		/* Acquire: pairs with the producer's release of head, so the
		 * records below it are complete. */
		__u32 head = __atomic_load_n(&c->buf->meta.head, __ATOMIC_ACQUIRE);
		__u32 used = head - c->tail, t = c->tail & c->mask, len;
		const struct watchq_notification *n;

		if (!used)
			return 0;
		if (used > c->size)
			return -EBADMSG;
		n = &c->buf->slots[t];
		/* Slot 0 always holds the metadata, whatever its header says. */
		len = t ? __atomic_load_n(&n->info, __ATOMIC_RELAXED) & WATCHQ_INFO_LENGTH
			: WATCHQ_META_SLOTS;
		if (!len || len > used || t + len > c->size)
			return -EBADMSG;
		if (t && (n->type != WATCHQ_TYPE_META ||
			  n->subtype != WATCHQ_META_SKIP_NOTIFICATION)) {
			*rec = n;
			return (int)len;
		}
		watchq_consumer_consume(c, len);
	}
}

void watchq_consumer_consume(struct watchq_consumer *c, unsigned int slots)
{
	c->tail += slots;
	/* Release: our reads of the record finish before the producer may
	 * reuse its slots. */
	__atomic_store_n(&c->buf->meta.tail, c->tail, __ATOMIC_RELEASE);
}

bool watchq_consumer_idle(struct watchq_consumer *c)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&c->buf->meta.head, __ATOMIC_ACQUIRE) == c->tail;
}

bool watchq_consumer_lost(const struct watchq_consumer *c)
{
	return __atomic_load_n(&c->buf->meta.watch.info, __ATOMIC_RELAXED) &
	       WATCHQ_INFO_NOTIFICATIONS_LOST;
}

bool watchq_consumer_clear_lost(struct watchq_consumer *c)
{
	return __atomic_fetch_and(&c->buf->meta.watch.info,
				  ~(__u32)WATCHQ_INFO_NOTIFICATIONS_LOST,
				  __ATOMIC_RELAXED) & WATCHQ_INFO_NOTIFICATIONS_LOST;
}
