// SPDX-License-Identifier: GPL-2.0
/* Reading a fanotify group: see fan.h. */
#include <unistd.h>

#include "fan.h"

bool watchq_fan_drain(int fd, watchq_fan_info_fn fn, void *ctx)
{
	char buf[8192] __attribute__((aligned(8)));
	bool overflow = false;
	ssize_t len;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		const struct fanotify_event_metadata *md = (const void *)buf;

		for (; FAN_EVENT_OK(md, len); md = FAN_EVENT_NEXT(md, len)) {
			const char *p = (const char *)md + md->metadata_len;
			const char *end = (const char *)md + md->event_len;

			if (md->vers != FANOTIFY_METADATA_VERSION)
				continue;
			if (md->mask & WQ_FAN_Q_OVERFLOW)
				overflow = true;
			while (p + sizeof(struct fanotify_event_info_header) <= end) {
				const struct fanotify_event_info_header *h = (const void *)p;

				if (h->len < sizeof(*h) || p + h->len > end)
					break;
				fn(ctx, md, h);
				p += h->len;
			}
		}
	}
	return overflow;
}
