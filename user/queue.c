// SPDX-License-Identifier: GPL-2.0
/* Consumer queues: the shared ring, its filter and its wake-ups. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"

int wqd_queue_new(struct wqd_queue **out, unsigned int pages, unsigned int max_pages)
{
	long bytes = watchq_ring_bytes(pages, max_pages);
	struct wqd_queue *q;
	int err;

	if (bytes < 0)
		return (int)bytes;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->memfd = q->eventfd = -1;
	q->mem = MAP_FAILED;
	q->bytes = (size_t)bytes;
	q->pages = pages;

	/* A memfd sealed against resizing: the consumer maps it too, and a
	 * consumer that could shrink it would make our writes fault. */
	q->memfd = memfd_create("watchq-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (q->memfd < 0 || ftruncate(q->memfd, bytes) ||
	    fcntl(q->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		goto err_errno;
	q->mem = mmap(NULL, q->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q->memfd, 0);
	if (q->mem == MAP_FAILED)
		goto err_errno;
	err = watchq_producer_init(&q->prod, q->mem, q->bytes);
	if (err)
		goto err;
	q->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->eventfd < 0)
		goto err_errno;
	*out = q;
	return 0;

err_errno:
	err = -errno;
err:
	wqd_queue_free(q);
	return err;
}

void wqd_queue_free(struct wqd_queue *q)
{
	if (!q)
		return;
	if (q->mem != MAP_FAILED)
		munmap(q->mem, q->bytes);
	if (q->memfd >= 0)
		close(q->memfd);
	if (q->eventfd >= 0)
		close(q->eventfd);
	free(q);
}

struct wqd_watch **wqd_bucket(struct wqd *d, __u32 kind, __u64 object)
{
	__u64 h = (object ^ ((__u64)kind << 56)) * 0x9e3779b97f4a7c15ull;

	return &d->buckets[h >> 54 & (WQD_WATCH_BUCKETS - 1)];
}

static void queue_wake(struct wqd *d, struct wqd_queue *q)
{
	if (q->wake)
		return;
	q->wake = true;
	q->wake_next = d->wakes;
	d->wakes = q;
}

/* Post @n to @w's queue with @w's watch id, through the queue's filter. */
void wqd_deliver(struct wqd *d, struct wqd_watch *w, const struct watchq_notification *n)
{
	struct wqd_queue *q = w->client->q;
	__u32 info = (n->info & ~WATCHQ_INFO_ID) |
		     (__u32)w->watch_id << WATCHQ_INFO_ID__SHIFT;
	int r;

	if (q->has_filter &&
	    !watchq_filter_match(&q->filter, n->type, n->subtype, info)) {
		q->stats.filtered++;
		return;
	}
	r = watchq_producer_post(&q->prod, n, info);
	switch (r) {
	case WATCHQ_POSTED_WAKE:
		queue_wake(d, q);
		/* fall through */
	case WATCHQ_POSTED:
		q->stats.posted++;
		break;
	case -EBADMSG:
		q->stats.corrupt++;
		/* fall through */
	default:
		/* The loss flag is now set in the ring.  No wake-up: a ring
		 * too full to take the record is not empty, so its consumer
		 * was woken when it last was. */
		q->stats.lost++;
		break;
	}
}

/* Every watch on @object of @kind gets @n. */
void wqd_fan_out(struct wqd *d, __u32 kind, __u64 object,
		 const struct watchq_notification *n)
{
	struct wqd_watch *w;

	for (w = *wqd_bucket(d, kind, object); w; w = w->obj_next)
		if (w->kind == kind && w->object == object)
			wqd_deliver(d, w, n);
}

/* The record a watch's queue gets when the watch ends: META/REMOVAL with the
 * 64-bit id of the watched object. */
void wqd_post_removal(struct wqd *d, struct wqd_watch *w)
{
	struct watchq_notification_removal r = {
		.watch = {
			.type = WATCHQ_TYPE_META,
			.subtype = WATCHQ_META_REMOVAL_NOTIFICATION,
			.info = WATCHQ_INFO(2, 0, 0),
		},
		.id = w->object,
	};

	wqd_deliver(d, w, &r.watch);
}

void wqd_flush_wakes(struct wqd *d)
{
	struct wqd_queue *q;

	while ((q = d->wakes)) {
		d->wakes = q->wake_next;
		q->wake = false;
		/* EAGAIN means the counter is already huge: still a wake-up. */
		if (write(q->eventfd, &(uint64_t){ 1 }, sizeof(uint64_t)) == sizeof(uint64_t))
			q->stats.wakeups++;
	}
}
