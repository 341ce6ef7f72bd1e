/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * Names and text for watchq records, shared by the CLI and the daemon:
 * lower-case names of types and subtypes, the filter spec and watch
 * argument parsers, and the one-line text and JSON renderings of a record.
 * Everything here is pure (no I/O), so the unit tests cover it exactly.
 */
#ifndef WATCHQ_NAMES_H
#define WATCHQ_NAMES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "watchq_abi.h"

/* What the CLI calls a set loss flag; it is not a record subtype. */
#define WATCHQ_NAME_LOSS	"loss"

/* The name of @type ("key"), or NULL when the ABI has none. */
const char *watchq_type_name(__u32 type);

/* The name of @subtype of @type ("linked"), or NULL when the ABI has none. */
const char *watchq_subtype_name(__u32 type, __u32 subtype);

/* The type called @name, or -ENOENT.  Names match case-insensitively. */
int watchq_type_by_name(const char *name);

/* The subtype of @type called @name, or -ENOENT. */
int watchq_subtype_by_name(__u32 type, const char *name);

/*
 * A filter under construction, with room for every entry the ABI allows.
 * Start it zeroed; .f is what goes to watchq_set_filter(), and
 * watchq_filter_spec_size() its size in bytes.
 */
union watchq_filter_spec {
	struct watchq_notification_filter f;
	char room[sizeof(struct watchq_notification_filter) +
		  WATCHQ_MAX_FILTERS * sizeof(struct watchq_notification_type_filter)];
};

static inline size_t watchq_filter_spec_size(const union watchq_filter_spec *s)
{
	return sizeof(s->f) + s->f.nr_filters * sizeof(s->f.filters[0]);
}

/*
 * Append the entry "TYPE[:SUBTYPE,...]" to @s: TYPE by name or number
 * (0 to 2^24-1), each SUBTYPE by name or number (0-255); no subtype list
 * passes every subtype.  The entry matches any info (info_mask 0).
 * -EINVAL with the reason in @err (when @errlen) and @s unchanged for: an
 * empty or malformed spec, an unknown name, a number out of range, a
 * subtype name for a type that has no names, or a 17th entry.
 */
int watchq_filter_spec_add(union watchq_filter_spec *s, const char *spec,
			   char *err, size_t errlen);

/* A decimal number without sign or spaces, at most @max: 0 or -EINVAL
 * (-ERANGE above @max). */
int watchq_parse_u32(const char *str, __u32 max, __u32 *out);

/* Seconds as "S" or "S.FFF" (at most milliseconds) into @ms: 0, -EINVAL,
 * or -ERANGE above INT_MAX milliseconds (24 days). */
int watchq_parse_timeout_ms(const char *str, int *ms);

/* "@s", "@u"...: the special key id (-1 to -8), or 0 for any other text. */
__s32 watchq_key_special(const char *name);

enum watchq_watch_what {
	WATCHQ_WATCH_WHAT_KEY = 1,
	WATCHQ_WATCH_WHAT_MOUNT,
	WATCHQ_WATCH_WHAT_SB,
	WATCHQ_WATCH_WHAT_DEVICES,
};

/* One WATCH argument of the CLI. */
struct watchq_watch_spec {
	enum watchq_watch_what what;
	__s32 key;		/* KEY: serial, or special id below 0 */
	unsigned int watch_id;	/* 0-255, 0 unless "=ID" was given */
	char path[PATH_MAX];	/* MOUNT, SB */
};

/*
 * Parse "key:ID", "mount:PATH", "sb:PATH" or "devices", each with an
 * optional "=WATCH_ID" (0-255) at the end.  ID is a serial (1 to 2^31-1)
 * or @t @p @s @u @us @g @a @r.  A PATH is taken up to a final "=DIGITS",
 * so a path that itself ends that way needs an explicit "=0" after it.
 * 0, or -EINVAL (-ENAMETOOLONG for a path) with the reason in @err.
 */
int watchq_watch_spec_parse(struct watchq_watch_spec *w, const char *arg,
			    char *err, size_t errlen);

/*
 * Render the record @n of @slots slots (as peek returned it, 1 to 63) as
 * one line without the newline, text or JSON (see watchq(1)).  @n must be
 * a private copy: fields are read more than once.  Returns the length
 * snprintf would, so a result >= @size means truncated.  A record shorter
 * than its type's layout is rendered like an unknown type, in hex.
 */
int watchq_format_record(char *buf, size_t size,
			 const struct watchq_notification *n,
			 unsigned int slots, bool json);

/* The line for a set loss flag: "loss", or {"type":"meta","subtype":"loss"}. */
int watchq_format_loss(char *buf, size_t size, bool json);

#endif /* WATCHQ_NAMES_H */
