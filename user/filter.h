/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* A queue's filter set, validated once and matched per record. */
#ifndef WATCHQ_FILTER_H
#define WATCHQ_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include "watchq_abi.h"

struct watchq_filter {
	__u32 nr;	/* usable entries; 0 drops everything */
	struct watchq_notification_type_filter f[WATCHQ_MAX_FILTERS];
};

/*
 * Validate the ABI filter of @len bytes at @data (a struct
 * watchq_notification_filter and its entries, nothing more) into @out.
 * -EINVAL for: a size that does not match nr_filters, nr_filters 0 or above
 * WATCHQ_MAX_FILTERS, __reserved not 0, an info_filter with bits outside its
 * info_mask, an info_mask covering the length.  Entries naming unknown types
 * are dropped, as v5 did.
 */
int watchq_filter_build(struct watchq_filter *out, const void *data, size_t len);

/*
 * Whether a record passes: some entry has its type, its subtype's bit among
 * all 256, and (info & info_mask) == info_filter.  @info must already carry
 * the watch id.  A NULL filter passes everything.
 */
bool watchq_filter_match(const struct watchq_filter *f, __u32 type,
			 __u32 subtype, __u32 info);

#endif /* WATCHQ_FILTER_H */
