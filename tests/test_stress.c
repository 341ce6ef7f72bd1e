// SPDX-License-Identifier: GPL-2.0
/*
 * One producer thread, one consumer thread, 10 million records of 1 to 63
 * slots each through rings of 1, 2 and 16 pages.  Every record carries its
 * sequence number and a checksum.  The run alternates paced phases (the
 * producer waits for room: nothing may be lost) with flooding phases (the
 * producer never waits: records are lost).  At every phase boundary the
 * consumer has drained the ring and checks: delivered + lost == produced, the
 * loss flag is set exactly when the phase lost something.  Within a phase,
 * every gap in the sequence must find the loss flag already set.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "test.h"
#include "ring.h"

#define RECORDS		10000000u
#define PHASES		40u
#define PER_PHASE	(RECORDS / PHASES)

struct stress {
	struct watchq_producer p;
	struct watchq_consumer c;
	void *mem;
	size_t bytes;
	/* Phase handshake: the producer publishes how many it has produced
	 * when a phase ends; the consumer acknowledges once drained. */
	__u32 phase_done;		/* phases the producer finished */
	__u32 phase_acked;		/* phases the consumer checked */
	__u64 produced, lost;		/* producer's counts, read at a boundary */
	__u64 phase_lost[PHASES];
	const char *error;		/* first failure, from either thread */
};

static __u64 mix(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* Mostly short records, sometimes up to the largest. */
static __u32 len_of(__u64 seq)
{
	__u64 h = mix(seq);

	return (h & 7) ? 1 + (h >> 8) % 8 : 1 + (h >> 8) % 63;
}

static __u64 checksum(const __u64 *s, __u32 n)
{
	__u64 c = 0x9e3779b97f4a7c15ull;
	__u32 i;

	for (i = 0; i < n; i++)
		c = mix(c ^ s[i]);
	return c;
}

/* Header: 24 bits of the sequence in subtype and type-info.  Slot 1: the
 * whole sequence.  Middle slots: derived from it.  Last slot (3+ slots): a
 * checksum of all the others. */
static void build(__u64 *r, __u64 seq, __u32 len, __u32 *info)
{
	struct watchq_notification *n = (void *)r;
	__u32 i;

	n->type = WATCHQ_TYPE_KEY_NOTIFY;
	n->subtype = seq & 0xff;
	*info = len | (__u32)((seq >> 8) & 0xffff) << 16;
	n->info = *info;
	for (i = 1; i < len; i++)
		r[i] = i == 1 ? seq : mix(seq + i);
	if (len >= 3)
		r[len - 1] = checksum(r, len - 1);
}

static void fail(struct stress *s, const char *why)
{
	const char *none = NULL;

	__atomic_compare_exchange_n(&s->error, &none, why, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static bool failed(struct stress *s)
{
	return __atomic_load_n(&s->error, __ATOMIC_ACQUIRE) != NULL;
}

static void *producer(void *arg)
{
	struct stress *s = arg;
	__u64 r[WATCHQ_MAX_RECORD_SLOTS], seq = 0;
	__u32 phase, info, i;

	for (phase = 0; phase < PHASES && !failed(s); phase++) {
		bool paced = !(phase & 1);
		__u64 lost = 0;

		for (i = 0; i < PER_PHASE; i++, seq++) {
			__u32 len = len_of(seq);
			int rc;

			build(r, seq, len, &info);
			/* Room for a wrap's skip, the metadata and a record. */
			while (paced && s->p.size - (s->p.head -
				__atomic_load_n(&s->p.buf->meta.tail, __ATOMIC_ACQUIRE)) <
				2 * WATCHQ_MAX_RECORD_SLOTS + WATCHQ_META_SLOTS) {
				if (failed(s))
					return NULL;
				sched_yield();
			}
			rc = watchq_producer_post(&s->p, (void *)r, info);
			if (rc == -ENOBUFS)
				lost++;
			else if (rc < 0)
				fail(s, "producer saw a corrupt ring");
			else if (paced && lost)
				fail(s, "a paced phase lost a record");
		}
		s->phase_lost[phase] = lost;
		s->produced = seq;
		s->lost += lost;
		__atomic_store_n(&s->phase_done, phase + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&s->phase_acked, __ATOMIC_ACQUIRE) <= phase) {
			if (failed(s))
				return NULL;
			sched_yield();
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *s = arg;
	const struct watchq_notification *n;
	__u64 expect = 0, delivered = 0, gaps = 0;
	__u32 phase = 0;

	while (phase < PHASES && !failed(s)) {
		int len = watchq_consumer_peek(&s->c, &n);

		if (len < 0) {
			fail(s, "consumer saw a corrupt ring");
			break;
		}
		if (len == 0) {
			/* Drained: is the producer waiting at a boundary? */
			if (__atomic_load_n(&s->phase_done, __ATOMIC_ACQUIRE) > phase &&
			    watchq_consumer_idle(&s->c)) {
				/* Records lost at the end of the phase show
				 * as a gap only now. */
				if (expect < s->produced) {
					if (!watchq_consumer_lost(&s->c))
						fail(s, "a trailing gap without the loss flag");
					gaps += s->produced - expect;
					expect = s->produced;
				}
				if (delivered + s->lost != s->produced ||
				    expect != s->produced || gaps != s->lost)
					fail(s, "delivered + lost != produced");
				if (watchq_consumer_clear_lost(&s->c) != !!s->phase_lost[phase])
					fail(s, "loss flag does not match the phase's losses");
				__atomic_store_n(&s->phase_acked, ++phase, __ATOMIC_RELEASE);
			} else {
				sched_yield();
			}
			continue;
		}

		const __u64 *r = (const void *)n;
		__u32 low = n->subtype | (n->info >> 16) << 8;
		__u64 seq = expect + ((low - expect) & 0xffffff);
		__u64 want[WATCHQ_MAX_RECORD_SLOTS];
		__u32 info;

		if (len >= 2 && r[1] != seq)
			seq = r[1];	/* a gap of 2^24 or more: checked below */
		if (seq < expect) {
			fail(s, "record out of order");
			break;
		}
		if (seq > expect) {
			if (!watchq_consumer_lost(&s->c)) {
				fail(s, "a gap without the loss flag");
				break;
			}
			gaps += seq - expect;
		}
		build(want, seq, len_of(seq), &info);
		if ((__u32)len != len_of(seq) || n->info != info ||
		    memcmp(r, want, len * 8)) {
			fail(s, "record damaged");
			break;
		}
		watchq_consumer_consume(&s->c, len);
		delivered++;
		expect = seq + 1;
	}
	return NULL;
}

static int run(unsigned int pages)
{
	struct stress *s = calloc(1, sizeof(*s));
	pthread_t tp, tc;
	__u64 lost_total = 0;
	unsigned int i;
	int rc = TEST_FAIL;

	if (!s)
		return TEST_FAIL;
	s->bytes = watchq_ring_bytes(pages, WATCHQ_RING_DEFAULT_MAX_PAGES);
	s->mem = aligned_alloc(4096, s->bytes);
	if (!ASSERT_TRUE(s->mem, "alloc") ||
	    !ASSERT_OK(watchq_producer_init(&s->p, s->mem, s->bytes), "producer") ||
	    !ASSERT_OK(watchq_consumer_init(&s->c, s->mem, s->bytes), "consumer"))
		goto out;
	if (pthread_create(&tp, NULL, producer, s) ||
	    pthread_create(&tc, NULL, consumer, s))
		goto out;
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	for (i = 0; i < PHASES; i++)
		lost_total += s->phase_lost[i];
	printf("    %u pages: %llu produced, %llu delivered, %llu lost\n", pages,
	       (unsigned long long)s->produced,
	       (unsigned long long)(s->produced - lost_total),
	       (unsigned long long)lost_total);
	if (ASSERT_TRUE(!s->error, s->error ? s->error : "") &&
	    ASSERT_EQ(s->produced, RECORDS, "produced") &&
	    ASSERT_TRUE(lost_total > 0, "flooding phases lost something") &&
	    ASSERT_TRUE(lost_total < RECORDS, "and delivered something"))
		rc = TEST_PASS;
out:
	free(s->mem);
	free(s);
	return rc;
}

WATCHQ_TEST_TIMEOUT(stress_1_page, 300)
{
	return run(1);
}

WATCHQ_TEST_TIMEOUT(stress_2_pages, 300)
{
	return run(2);
}

WATCHQ_TEST_TIMEOUT(stress_16_pages, 300)
{
	return run(16);
}
