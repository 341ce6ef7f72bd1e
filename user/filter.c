// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <errno.h>
#include <string.h>

#include "filter.h"

int watchq_filter_build(struct watchq_filter *out, const void *data, size_t len)
{
	const struct watchq_notification_type_filter *tf;
	struct watchq_notification_filter hdr;
	__u32 i, nr = 0;

	if (!data || len < sizeof(hdr))
		return -EINVAL;
	memcpy(&hdr, data, sizeof(hdr));
	if (hdr.nr_filters == 0 || hdr.nr_filters > WATCHQ_MAX_FILTERS ||
	    hdr.__reserved != 0 ||
	    len != sizeof(hdr) + hdr.nr_filters * sizeof(*tf))
		return -EINVAL;

	/* Validate everything before touching @out, so a bad filter leaves
	 * the queue's current one in place. */
	tf = (const void *)((const char *)data + sizeof(hdr));
	for (i = 0; i < hdr.nr_filters; i++) {
		struct watchq_notification_type_filter e;

		memcpy(&e, &tf[i], sizeof(e));
		if ((e.info_filter & ~e.info_mask) ||
		    (e.info_mask & WATCHQ_INFO_LENGTH))
			return -EINVAL;
	}
	for (i = 0; i < hdr.nr_filters; i++) {
		memcpy(&out->f[nr], &tf[i], sizeof(*tf));
		if (out->f[nr].type < WATCHQ_TYPE___NR)
			nr++;
	}
	out->nr = nr;
	return 0;
}

bool watchq_filter_match(const struct watchq_filter *f, __u32 type,
			 __u32 subtype, __u32 info)
{
	__u32 i;

	if (!f)
		return true;
	subtype &= 0xff;
	for (i = 0; i < f->nr; i++) {
		const struct watchq_notification_type_filter *e = &f->f[i];

		if (e->type == type &&
		    (e->subtype_filter[subtype >> 5] & (1u << (subtype & 31))) &&
		    (info & e->info_mask) == e->info_filter)
			return true;
	}
	return false;
}
