// SPDX-License-Identifier: GPL-2.0
/*
 * The ring's producer and consumer rules, on a 1-page ring (512 slots), with
 * slot contents computed by hand.
 */
#include <stdlib.h>

#include "test.h"
#include "ring.h"

#define PAGE	4096
#define SLOTS	512

struct tring {
	struct watchq_producer p;
	struct watchq_consumer c;
	union {
		struct watchq_buffer *buf;
		__u64 *raw;
	};
};

static bool tring_init(struct tring *t)
{
	t->raw = aligned_alloc(PAGE, PAGE);
	if (!t->raw)
		return false;
	memset(t->raw, 0xee, PAGE);	/* stale memory: init must not care */
	return !watchq_producer_init(&t->p, t->raw, PAGE) &&
	       !watchq_consumer_init(&t->c, t->raw, PAGE);
}

/* Put the ring mid-life: both sides agree on head and tail. */
static void tring_at(struct tring *t, __u32 head, __u32 tail)
{
	t->p.head = head;
	t->buf->meta.head = head;
	t->buf->meta.tail = tail;
	t->c.tail = tail;
}

/* A record of @len slots: header, then body slots holding tag:index. */
static struct watchq_notification *rec(__u32 type, __u32 subtype, __u32 len,
				       __u32 tag)
{
	static __u64 r[WATCHQ_MAX_RECORD_SLOTS];
	struct watchq_notification *n = (void *)r;
	__u32 i;

	n->type = type;
	n->subtype = subtype;
	n->info = 0xdeadbeef;	/* post() takes info from its argument */
	for (i = 1; i < len; i++)
		r[i] = ((__u64)tag << 32) | i;
	return n;
}

static int post(struct tring *t, __u32 len, __u32 tag)
{
	return watchq_producer_post(&t->p, rec(WATCHQ_TYPE_KEY_NOTIFY, 2, len, tag),
				    WATCHQ_INFO(len, 7, 0));
}

static __u64 header(__u32 type, __u32 subtype, __u32 info)
{
	return ((__u64)info << 32) | ((__u64)subtype << 24) | type;
}

/* The record post(len, tag) leaves at slot @at. */
static bool expect_record(struct tring *t, __u32 at, __u32 len, __u32 tag)
{
	bool ok = ASSERT_EQ(t->raw[at], header(1, 2, WATCHQ_INFO(len, 7, 0)),
			    "record header");
	__u32 i;

	for (i = 1; i < len && ok; i++)
		ok = ASSERT_EQ(t->raw[at + i], ((__u64)tag << 32) | i, "record body");
	return ok;
}

static bool expect_meta(struct tring *t, __u32 head, __u32 tail, bool lost)
{
	bool ok = true;

	ok &= ASSERT_EQ(t->raw[0], header(0, 0, 3 | (lost ? WATCHQ_INFO_FLAG_0 : 0)),
			"metadata header");
	ok &= ASSERT_EQ(t->buf->meta.head, head, "head");
	ok &= ASSERT_EQ(t->buf->meta.tail, tail, "tail");
	ok &= ASSERT_EQ(t->buf->meta.mask, SLOTS - 1, "mask");
	return ok;
}

WATCHQ_TEST(ring_sizes)
{
	bool ok = true;
	unsigned int pages;

	for (pages = 1; pages <= 16; pages <<= 1)
		ok &= ASSERT_EQ(watchq_ring_bytes(pages, WATCHQ_RING_DEFAULT_MAX_PAGES),
				pages * PAGE, "power of two up to 16");
	ok &= ASSERT_EQ(watchq_ring_bytes(0, 16), -EINVAL, "0 pages");
	ok &= ASSERT_EQ(watchq_ring_bytes(3, 16), -EINVAL, "3 pages");
	ok &= ASSERT_EQ(watchq_ring_bytes(12, 16), -EINVAL, "12 pages");
	ok &= ASSERT_EQ(watchq_ring_bytes(32, 16), -EINVAL, "32 pages by default");
	ok &= ASSERT_EQ(watchq_ring_bytes(32, 64), 32 * PAGE, "32 pages when raised");
	ok &= ASSERT_EQ(watchq_ring_bytes(1, WATCHQ_RING_LIMIT_PAGES * 2), -EINVAL,
			"limit beyond the counters");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_init_rejects_bad_sizes)
{
	static __u64 mem[1024];
	struct watchq_producer p;
	struct watchq_consumer c;
	bool ok = true;

	ok &= ASSERT_EQ(watchq_producer_init(&p, mem, 0), -EINVAL, "0 bytes");
	ok &= ASSERT_EQ(watchq_producer_init(&p, mem, 3 * PAGE / 4), -EINVAL, "not pow2");
	ok &= ASSERT_EQ(watchq_producer_init(&p, mem, 64 * 8), -EINVAL,
			"no room for a largest record");
	ok &= ASSERT_EQ(watchq_producer_init(&p, mem, PAGE + 4), -EINVAL, "not slots");
	ok &= ASSERT_EQ(watchq_consumer_init(&c, mem, 12), -EINVAL, "consumer too");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_first_record_after_metadata)
{
	struct tring t;
	bool ok = true;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	ok &= expect_meta(&t, 3, 3, false);
	ok &= ASSERT_EQ(post(&t, 2, 1), WATCHQ_POSTED_WAKE, "empty -> non-empty wakes");
	ok &= expect_record(&t, 3, 2, 1);
	ok &= expect_meta(&t, 5, 3, false);
	ok &= ASSERT_EQ(post(&t, 4, 2), WATCHQ_POSTED, "non-empty: no wake");
	ok &= expect_record(&t, 5, 4, 2);
	ok &= expect_meta(&t, 9, 3, false);
	ok &= ASSERT_EQ(t.raw[9], 0xeeeeeeeeeeeeeeeeull, "nothing past the head");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_exact_fill_then_overrun)
{
	struct tring t;
	bool ok = true;
	__u64 snap[SLOTS];
	int i;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	/* 8 x 63 + 5 = 509 slots: from slot 3 exactly to the end. */
	for (i = 0; i < 8; i++)
		ok &= ASSERT_EQ(post(&t, 63, i), i ? WATCHQ_POSTED : WATCHQ_POSTED_WAKE, "post");
	ok &= ASSERT_EQ(post(&t, 5, 8), WATCHQ_POSTED, "last fits exactly");
	ok &= expect_record(&t, 3 + 7 * 63, 63, 7);
	ok &= expect_record(&t, 507, 5, 8);
	ok &= expect_meta(&t, 512, 3, false);

	memcpy(snap, t.raw, PAGE);
	ok &= ASSERT_EQ(post(&t, 1, 9), -ENOBUFS, "full: overrun");
	ok &= expect_meta(&t, 512, 3, true);
	snap[0] |= (__u64)WATCHQ_INFO_NOTIFICATIONS_LOST << 32;
	ok &= ASSERT_MEM_EQ(t.raw, snap, PAGE, "overrun writes nothing but the flag");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_wrap_with_skip)
{
	const struct watchq_notification *n;
	struct tring t;
	bool ok = true;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	tring_at(&t, 500, 500);		/* drained, 12 slots before the end */
	t.raw[0] = 0xfffe0000abcdef12ull;	/* the consumer scribbled on slot 0 */
	ok &= ASSERT_EQ(post(&t, 20, 1), WATCHQ_POSTED_WAKE, "post across the end");
	ok &= ASSERT_EQ(t.raw[500], header(0, 0, 12), "skip record of the gap");
	ok &= expect_meta(&t, 535, 500, false);
	ok &= expect_record(&t, 3, 20, 1);

	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 20, "consumer skips to it");
	ok &= ASSERT_EQ((__u64 *)n - t.raw, 3, "record at slot 3");
	watchq_consumer_consume(&t.c, 20);
	ok &= ASSERT_EQ(t.buf->meta.tail, 535, "tail stored unmasked");
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 0, "then empty");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_wrap_that_would_overrun_writes_nothing)
{
	struct tring t;
	__u64 snap[SLOTS];
	bool ok = true;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	/* Head 12 slots before the end, tail at slot 10 of the next lap:
	 * the 12-slot skip would fit, the metadata and 20 slots would not. */
	tring_at(&t, 1012, 522);
	memcpy(snap, t.raw, PAGE);
	ok &= ASSERT_EQ(post(&t, 20, 1), -ENOBUFS, "overrun");
	snap[0] |= (__u64)WATCHQ_INFO_NOTIFICATIONS_LOST << 32;
	ok &= ASSERT_MEM_EQ(t.raw, snap, PAGE, "neither skip nor record written");
	ok &= ASSERT_EQ(t.p.head, 1012, "head unchanged");

	/* With room for exactly skip + metadata + record it goes through. */
	tring_at(&t, 1012, 1012 - 512 + 12 + 3 + 20);
	ok &= ASSERT_EQ(post(&t, 20, 2), WATCHQ_POSTED, "fits exactly");
	ok &= ASSERT_EQ(t.raw[500], header(0, 0, 12), "skip");
	ok &= expect_record(&t, 3, 20, 2);
	ok &= ASSERT_EQ(t.buf->meta.head, 1012 + 35, "head");
	ok &= ASSERT_EQ(post(&t, 1, 3), -ENOBUFS, "and then it is full");
	ok &= ASSERT_EQ(t.buf->meta.head - t.buf->meta.tail, SLOTS, "to the last slot");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_head_at_slot0_rewrites_metadata)
{
	const struct watchq_notification *n;
	struct tring t;
	bool ok = true;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	tring_at(&t, 512, 512);		/* drained exactly at the end of a lap */
	t.raw[0] = header(0x123, 9, 0x3f | WATCHQ_INFO_NOTIFICATIONS_LOST);
	ok &= ASSERT_EQ(post(&t, 2, 1), WATCHQ_POSTED_WAKE, "post at slot 0");
	ok &= expect_meta(&t, 517, 512, true);	/* the loss flag survives */
	ok &= expect_record(&t, 3, 2, 1);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 2, "consumer skips metadata");
	ok &= ASSERT_EQ((__u64 *)n - t.raw, 3, "record at slot 3");
	watchq_consumer_consume(&t.c, 2);
	ok &= ASSERT_EQ(t.buf->meta.tail, 517, "tail stored unmasked");
	ok &= ASSERT_TRUE(watchq_consumer_clear_lost(&t.c), "flag was set");
	ok &= ASSERT_FALSE(watchq_consumer_lost(&t.c), "and is clear");
	ok &= ASSERT_EQ(t.raw[0], header(0, 0, 3), "metadata header");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_corrupt_tail_sets_loss_writes_nothing)
{
	static const struct { __u32 head, tail; const char *what; } cases[] = {
		{ 600, 513, "tail inside the metadata (slot 1)" },
		{ 600, 514, "tail inside the metadata (slot 2)" },
		{ 600, 600 - 700, "head - tail > size" },
		{ 600, 601, "tail past head" },
	};
	struct tring t;
	__u64 snap[SLOTS];
	bool ok = true;
	unsigned int i;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tring_at(&t, cases[i].head, cases[i].tail);
		t.raw[0] = header(0, 0, 3);
		memcpy(snap, t.raw, PAGE);
		ok &= ASSERT_EQ(post(&t, 2, i), -EBADMSG, cases[i].what);
		snap[0] |= (__u64)WATCHQ_INFO_NOTIFICATIONS_LOST << 32;
		ok &= ASSERT_MEM_EQ(t.raw, snap, PAGE, cases[i].what);
		ok &= ASSERT_EQ(t.p.head, cases[i].head, "head unchanged");
	}
	/* head - tail == size is a full ring, not a corrupt one: still lost. */
	tring_at(&t, 600, 600 - 512);
	memcpy(snap, t.raw, PAGE);
	ok &= ASSERT_EQ(post(&t, 1, 8), -ENOBUFS, "head - tail == size");
	ok &= ASSERT_MEM_EQ(t.raw, snap, PAGE, "full: nothing written");
	ok &= ASSERT_TRUE(watchq_consumer_lost(&t.c), "full: loss flagged");
	/* Tail at slot 0 is legal: the consumer is about to skip the metadata. */
	tring_at(&t, 1024 + 10, 1024);
	ok &= ASSERT_EQ(post(&t, 2, 9), WATCHQ_POSTED, "tail at slot 0 is fine");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_records_of_1_and_63_slots)
{
	const struct watchq_notification *n;
	struct tring t;
	bool ok = true;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	ok &= ASSERT_EQ(post(&t, 1, 1), WATCHQ_POSTED_WAKE, "1 slot");
	ok &= ASSERT_EQ(post(&t, 63, 2), WATCHQ_POSTED, "63 slots");
	ok &= ASSERT_EQ(watchq_producer_post(&t.p, rec(1, 0, 1, 0), 0), -EINVAL,
			"length 0 refused");
	ok &= ASSERT_EQ(watchq_producer_post(&t.p, rec(1, 0, 1, 0), 64), -EINVAL,
			"64 is length 0");
	ok &= expect_record(&t, 3, 1, 1);
	ok &= expect_record(&t, 4, 63, 2);
	ok &= expect_meta(&t, 67, 3, false);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 1, "1-slot record");
	ok &= ASSERT_EQ(n->type, 1, "type");
	ok &= ASSERT_EQ(n->subtype, 2, "subtype");
	ok &= ASSERT_EQ(n->info, WATCHQ_INFO(1, 7, 0), "info");
	watchq_consumer_consume(&t.c, 1);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 63, "63-slot record");
	watchq_consumer_consume(&t.c, 63);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 0, "empty");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_consumer_many_in_order)
{
	const struct watchq_notification *n;
	struct tring t;
	bool ok = true;
	__u32 i, got = 0, len;
	int r;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 0, "empty at start");
	ok &= ASSERT_TRUE(watchq_consumer_idle(&t.c), "idle at start");
	/* Several laps, the consumer reading each batch of five. */
	for (i = 0; i < 500; i++) {
		len = 1 + (i * 7) % 63;
		r = post(&t, len, i);
		if (!ASSERT_TRUE(r >= 0, "post"))
			return TEST_FAIL;
		ok &= ASSERT_EQ(r, i % 5 ? WATCHQ_POSTED : WATCHQ_POSTED_WAKE,
				"wake only on empty -> non-empty");
		if (i % 5 != 4)
			continue;
		ok &= ASSERT_FALSE(watchq_consumer_idle(&t.c), "not idle");
		while ((r = watchq_consumer_peek(&t.c, &n)) > 0) {
			__u32 want = 1 + (got * 7) % 63;

			ok &= ASSERT_EQ(r, want, "length");
			if (r > 1)
				ok &= ASSERT_EQ(((const __u64 *)n)[1],
						((__u64)got << 32) | 1, "order");
			watchq_consumer_consume(&t.c, r);
			got++;
		}
		ok &= ASSERT_EQ(r, 0, "no corruption");
		ok &= ASSERT_TRUE(watchq_consumer_idle(&t.c), "idle after draining");
		if (!ok)
			return TEST_FAIL;
	}
	ok &= ASSERT_EQ(got, 500, "all delivered");
	ok &= ASSERT_TRUE(t.buf->meta.tail > 10 * SLOTS, "tail free-running");
	ok &= ASSERT_FALSE(watchq_consumer_lost(&t.c), "nothing lost");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_consumer_reports_corruption)
{
	const struct watchq_notification *n;
	struct tring t;
	bool ok = true;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	post(&t, 2, 1);
	post(&t, 4, 2);

	t.buf->slots[3].info = WATCHQ_INFO(0, 7, 0);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), -EBADMSG, "zero length");
	t.buf->slots[3].info = WATCHQ_INFO(7, 7, 0);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), -EBADMSG, "length past head");
	t.buf->slots[3].info = WATCHQ_INFO(6, 7, 0);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), 6, "up to the head is fine");
	ok &= ASSERT_EQ(t.c.tail, 3, "corruption consumed nothing");

	tring_at(&t, 512 + 3, 510);	/* a record at slot 510 claiming 5 slots */
	t.buf->slots[510].info = WATCHQ_INFO(5, 0, 0);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), -EBADMSG, "past the end");

	tring_at(&t, 3 + SLOTS + 1, 3);
	ok &= ASSERT_EQ(watchq_consumer_peek(&t.c, &n), -EBADMSG, "head > a ring ahead");

	t.buf->meta.tail = 1025;
	ok &= ASSERT_EQ(watchq_consumer_init(&t.c, t.raw, PAGE), -EBADMSG,
			"init: tail inside the metadata");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(ring_loss_flag_read_and_clear)
{
	struct tring t;
	bool ok = true;

	if (!ASSERT_TRUE(tring_init(&t), "init"))
		return TEST_FAIL;
	ok &= ASSERT_FALSE(watchq_consumer_lost(&t.c), "clear at start");
	watchq_producer_mark_lost(&t.p);
	ok &= ASSERT_TRUE(watchq_consumer_lost(&t.c), "set");
	ok &= ASSERT_EQ(t.raw[0], header(0, 0, 3 | WATCHQ_INFO_FLAG_0), "in the header");
	ok &= ASSERT_TRUE(watchq_consumer_clear_lost(&t.c), "clear returns it");
	ok &= ASSERT_FALSE(watchq_consumer_clear_lost(&t.c), "then clear");
	ok &= ASSERT_EQ(t.raw[0], header(0, 0, 3), "header intact");
	return ok ? TEST_PASS : TEST_FAIL;
}
