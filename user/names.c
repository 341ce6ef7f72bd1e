// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/sysmacros.h>

#include "names.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define TYPE_MAX	0xffffffu	/* type is a 24-bit field */
#define SUBTYPE_MAX	255u

/* Indexed by subtype value; a NULL is a hole (block starts at 1). */
static const char *const meta_names[] = {
	[WATCHQ_META_SKIP_NOTIFICATION]		= "skip",
	[WATCHQ_META_REMOVAL_NOTIFICATION]	= "removal",
};

static const char *const key_names[] = {
	[WATCHQ_NOTIFY_KEY_INSTANTIATED]	= "instantiated",
	[WATCHQ_NOTIFY_KEY_UPDATED]		= "updated",
	[WATCHQ_NOTIFY_KEY_LINKED]		= "linked",
	[WATCHQ_NOTIFY_KEY_UNLINKED]		= "unlinked",
	[WATCHQ_NOTIFY_KEY_CLEARED]		= "cleared",
	[WATCHQ_NOTIFY_KEY_REVOKED]		= "revoked",
	[WATCHQ_NOTIFY_KEY_INVALIDATED]		= "invalidated",
	[WATCHQ_NOTIFY_KEY_SETATTR]		= "setattr",
};

static const char *const block_names[] = {
	[WATCHQ_NOTIFY_BLOCK_ERROR_TIMEOUT]		= "timeout",
	[WATCHQ_NOTIFY_BLOCK_ERROR_NO_SPACE]		= "no_space",
	[WATCHQ_NOTIFY_BLOCK_ERROR_RECOVERABLE_TRANSPORT] = "recoverable_transport",
	[WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_TARGET]	= "critical_target",
	[WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_NEXUS]	= "critical_nexus",
	[WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_MEDIUM]	= "critical_medium",
	[WATCHQ_NOTIFY_BLOCK_ERROR_PROTECTION]		= "protection",
	[WATCHQ_NOTIFY_BLOCK_ERROR_KERNEL_RESOURCE]	= "kernel_resource",
	[WATCHQ_NOTIFY_BLOCK_ERROR_DEVICE_RESOURCE]	= "device_resource",
	[WATCHQ_NOTIFY_BLOCK_ERROR_IO]			= "io",
};

static const char *const usb_names[] = {
	[WATCHQ_NOTIFY_USB_DEVICE_ADD]		= "device_add",
	[WATCHQ_NOTIFY_USB_DEVICE_REMOVE]	= "device_remove",
	[WATCHQ_NOTIFY_USB_DEVICE_RESET]	= "device_reset",
	[WATCHQ_NOTIFY_USB_DEVICE_ERROR]	= "device_error",
};

static const char *const mount_names[] = {
	[WATCHQ_NOTIFY_MOUNT_NEW_MOUNT]		= "new_mount",
	[WATCHQ_NOTIFY_MOUNT_UNMOUNT]		= "unmount",
	[WATCHQ_NOTIFY_MOUNT_EXPIRY]		= "expiry",
	[WATCHQ_NOTIFY_MOUNT_READONLY]		= "readonly",
	[WATCHQ_NOTIFY_MOUNT_SETATTR]		= "setattr",
	[WATCHQ_NOTIFY_MOUNT_MOVE_FROM]		= "move_from",
	[WATCHQ_NOTIFY_MOUNT_MOVE_TO]		= "move_to",
};

static const char *const sb_names[] = {
	[WATCHQ_NOTIFY_SUPERBLOCK_READONLY]	= "readonly",
	[WATCHQ_NOTIFY_SUPERBLOCK_ERROR]	= "error",
	[WATCHQ_NOTIFY_SUPERBLOCK_EDQUOT]	= "edquot",
	[WATCHQ_NOTIFY_SUPERBLOCK_NETWORK]	= "network",
};

static const struct type_names {
	const char *name;
	const char *const *sub;
	unsigned int nr_sub;
} types[WATCHQ_TYPE___NR] = {
#define T(t, n, s) [t] = { n, s, ARRAY_SIZE(s) }
	T(WATCHQ_TYPE_META,		"meta",		meta_names),
	T(WATCHQ_TYPE_KEY_NOTIFY,	"key",		key_names),
	T(WATCHQ_TYPE_BLOCK_NOTIFY,	"block",	block_names),
	T(WATCHQ_TYPE_USB_NOTIFY,	"usb",		usb_names),
	T(WATCHQ_TYPE_MOUNT_NOTIFY,	"mount",	mount_names),
	T(WATCHQ_TYPE_SB_NOTIFY,	"sb",		sb_names),
#undef T
};

const char *watchq_type_name(__u32 type)
{
	return type < ARRAY_SIZE(types) ? types[type].name : NULL;
}

const char *watchq_subtype_name(__u32 type, __u32 subtype)
{
	if (type >= ARRAY_SIZE(types) || subtype >= types[type].nr_sub)
		return NULL;
	return types[type].sub[subtype];
}

int watchq_type_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++)
		if (!strcasecmp(name, types[i].name))
			return (int)i;
	return -ENOENT;
}

int watchq_subtype_by_name(__u32 type, const char *name)
{
	unsigned int i;

	if (type >= ARRAY_SIZE(types))
		return -ENOENT;
	for (i = 0; i < types[type].nr_sub; i++)
		if (types[type].sub[i] && !strcasecmp(name, types[type].sub[i]))
			return (int)i;
	return -ENOENT;
}

int watchq_parse_u32(const char *str, __u32 max, __u32 *out)
{
	unsigned long long v = 0;
	const char *p;

	if (!*str)
		return -EINVAL;
	/* By hand, because strtoul takes signs, spaces and "0x" silently. */
	for (p = str; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(*p - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (__u32)v;
	return 0;
}

int watchq_parse_timeout_ms(const char *str, int *ms)
{
	const char *dot = strchr(str, '.');
	char whole[16];
	__u32 s, frac = 0;
	size_t n = dot ? (size_t)(dot - str) : strlen(str);
	int err, i;

	if (!n || n >= sizeof(whole))
		return n ? -ERANGE : -EINVAL;
	memcpy(whole, str, n);
	whole[n] = '\0';
	err = watchq_parse_u32(whole, INT_MAX / 1000, &s);
	if (err)
		return err;
	if (dot) {
		/* One to three digits of fraction, scaled to milliseconds. */
		size_t fl = strlen(dot + 1);

		if (!fl || fl > 3)
			return -EINVAL;
		err = watchq_parse_u32(dot + 1, 999, &frac);
		if (err)
			return err;
		for (i = (int)fl; i < 3; i++)
			frac *= 10;
	}
	if ((unsigned long long)s * 1000 + frac > INT_MAX)
		return -ERANGE;
	*ms = (int)(s * 1000 + frac);
	return 0;
}

/* printf into @err if there is one; always -EINVAL-style helpers return. */
static int fail(int errnum, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return errnum;
}

static bool is_number(const char *s)
{
	return *s >= '0' && *s <= '9';
}

/* Subtype @tok of @type: a name or a number 0-255. */
static int parse_subtype(__u32 type, const char *tname, const char *tok,
			 char *err, size_t errlen)
{
	__u32 v;
	int r;

	if (!*tok)
		return fail(-EINVAL, err, errlen, "empty subtype in the list");
	if (is_number(tok)) {
		if (watchq_parse_u32(tok, SUBTYPE_MAX, &v))
			return fail(-EINVAL, err, errlen,
				    "subtype '%s' is not a number from 0 to 255", tok);
		return (int)v;
	}
	if (type == WATCHQ_TYPE_META && !strcasecmp(tok, WATCHQ_NAME_LOSS))
		return fail(-EINVAL, err, errlen,
			    "'loss' is not a record subtype: losses are always shown");
	r = watchq_subtype_by_name(type, tok);
	if (r >= 0)
		return r;
	if (!tname)
		return fail(-EINVAL, err, errlen,
			    "type %u has no subtype names: give '%s' as a number",
			    type, tok);
	return fail(-EINVAL, err, errlen, "unknown subtype '%s' of type %s",
		    tok, tname);
}

int watchq_filter_spec_add(union watchq_filter_spec *s, const char *spec,
			   char *err, size_t errlen)
{
	struct watchq_notification_type_filter e;
	char buf[256], *colon, *tok, *save;
	const char *tname;
	__u32 type, nr = s->f.nr_filters;
	int r;

	if (nr >= WATCHQ_MAX_FILTERS)
		return fail(-EINVAL, err, errlen, "at most %d filters",
			    WATCHQ_MAX_FILTERS);
	if (strlen(spec) >= sizeof(buf))
		return fail(-EINVAL, err, errlen, "filter spec too long");
	strcpy(buf, spec);
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (!buf[0])
		return fail(-EINVAL, err, errlen, "missing type in filter '%s'", spec);
	if (is_number(buf)) {
		if (watchq_parse_u32(buf, TYPE_MAX, &type))
			return fail(-EINVAL, err, errlen,
				    "type '%s' is not a number from 0 to %u",
				    buf, TYPE_MAX);
	} else {
		r = watchq_type_by_name(buf);
		if (r < 0)
			return fail(-EINVAL, err, errlen,
				    "unknown type '%s' (meta, key, block, usb, mount, sb or a number)",
				    buf);
		type = (__u32)r;
	}
	tname = watchq_type_name(type);

	memset(&e, 0, sizeof(e));
	e.type = type;
	if (!colon) {
		memset(e.subtype_filter, 0xff, sizeof(e.subtype_filter));
	} else {
		const char *list = colon + 1;
		size_t len = strlen(list);

		/* strtok_r would quietly merge ",," and drop a trailing ",". */
		if (!len || list[0] == ',' || list[len - 1] == ',' ||
		    strstr(list, ",,"))
			return fail(-EINVAL, err, errlen,
				    "empty subtype in filter '%s'", spec);
		for (tok = strtok_r(colon + 1, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			r = parse_subtype(type, tname, tok, err, errlen);
			if (r < 0)
				return r;
			e.subtype_filter[r / 32] |= 1u << (r % 32);
		}
	}
	s->f.filters[nr] = e;
	s->f.nr_filters = nr + 1;
	return 0;
}

static const struct {
	const char *name;
	__s32 id;
} key_specials[] = {
	{ "@t", -1 }, { "@p", -2 }, { "@s", -3 }, { "@u", -4 },
	{ "@us", -5 }, { "@g", -6 }, { "@a", -7 }, { "@r", -8 },
};

__s32 watchq_key_special(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(key_specials); i++)
		if (!strcmp(name, key_specials[i].name))
			return key_specials[i].id;
	return 0;
}

int watchq_watch_spec_parse(struct watchq_watch_spec *w, const char *arg,
			    char *err, size_t errlen)
{
	const char *colon = strchr(arg, ':'), *rest, *eq;
	size_t kind_len = colon ? (size_t)(colon - arg) : strlen(arg);
	size_t rest_len;
	__u32 v;

	memset(w, 0, sizeof(*w));
	/* The watch id is a final "=DIGITS"; anything else stays part of the
	 * target, so paths containing '=' still work. */
	eq = strrchr(arg, '=');
	if (eq && (!colon || eq > colon) && is_number(eq + 1) &&
	    strspn(eq + 1, "0123456789") == strlen(eq + 1)) {
		if (watchq_parse_u32(eq + 1, 255, &v))
			return fail(-EINVAL, err, errlen,
				    "watch id '%s' is not a number from 0 to 255",
				    eq + 1);
		w->watch_id = v;
		if (!colon)
			kind_len = (size_t)(eq - arg);
	} else {
		eq = NULL;
	}
	rest = colon ? colon + 1 : arg + kind_len;
	rest_len = (eq ? (size_t)(eq - arg) : strlen(arg)) - (size_t)(rest - arg);

	if (kind_len == 7 && !strncmp(arg, "devices", 7)) {
		if (colon)
			return fail(-EINVAL, err, errlen,
				    "'devices' takes no argument");
		w->what = WATCHQ_WATCH_WHAT_DEVICES;
		return 0;
	}
	if (!colon)
		return fail(-EINVAL, err, errlen,
			    "expected key:ID, mount:PATH, sb:PATH or devices");
	if (kind_len == 3 && !strncmp(arg, "key", 3)) {
		char id[16];

		w->what = WATCHQ_WATCH_WHAT_KEY;
		if (!rest_len || rest_len >= sizeof(id))
			goto bad_key;
		memcpy(id, rest, rest_len);
		id[rest_len] = '\0';
		w->key = watchq_key_special(id);
		if (w->key)
			return 0;
		if (watchq_parse_u32(id, INT32_MAX, &v) || !v)
			goto bad_key;
		w->key = (__s32)v;
		return 0;
	}
	if ((kind_len == 5 && !strncmp(arg, "mount", 5)) ||
	    (kind_len == 2 && !strncmp(arg, "sb", 2))) {
		w->what = kind_len == 5 ? WATCHQ_WATCH_WHAT_MOUNT :
					  WATCHQ_WATCH_WHAT_SB;
		if (!rest_len)
			return fail(-EINVAL, err, errlen, "empty path");
		if (rest_len >= sizeof(w->path))
			return fail(-ENAMETOOLONG, err, errlen, "path too long");
		memcpy(w->path, rest, rest_len);
		w->path[rest_len] = '\0';
		return 0;
	}
	return fail(-EINVAL, err, errlen,
		    "unknown watch '%.*s' (key, mount, sb or devices)",
		    (int)kind_len, arg);

bad_key:
	return fail(-EINVAL, err, errlen,
		    "key id '%.*s' is not a serial (1 to 2147483647) nor one of @t @p @s @u @us @g @a @r",
		    (int)rest_len, rest);
}

/* An snprintf that appends, remembering the length a large buffer needs. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	size_t room = o->len < o->size ? o->size - o->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static int done(struct out *o)
{
	if (o->size && o->len >= o->size)
		o->buf[o->size - 1] = '\0';
	return o->len > INT_MAX ? INT_MAX : (int)o->len;
}

/* "type":"key" or "type":42, the name when there is one. */
static void put_json_name(struct out *o, const char *key, const char *name,
			  __u32 v)
{
	if (name)
		put(o, "\"%s\":\"%s\"", key, name);
	else
		put(o, "\"%s\":%u", key, v);
}

static void put_dev(struct out *o, bool json, const char *key, __u64 dev)
{
	/* Both dev fields carry the user-space (st_dev) encoding. */
	if (json)
		put(o, ",\"%s\":\"%u:%u\"", key, major(dev), minor(dev));
	else
		put(o, " %u:%u", major(dev), minor(dev));
}

/* Names of info's type-specific flags 0-7; unnamed ones are "flagN". */
static void put_flags(struct out *o, bool json, __u32 info,
		      const char *const names[8])
{
	const char *sep = "";
	unsigned int i;

	if (json)
		put(o, ",\"flags\":[");
	else if (info & 0x00ff0000)
		put(o, " flags=");
	for (i = 0; i < 8; i++) {
		if (!(info & (WATCHQ_INFO_FLAG_0 << i)))
			continue;
		if (names[i])
			put(o, json ? "%s\"%s\"" : "%s%s", sep, names[i]);
		else
			put(o, json ? "%s\"flag%u\"" : "%sflag%u", sep, i);
		sep = ",";
	}
	if (json)
		put(o, "]");
}

static const char *const mount_flag_names[8] = {
	"in_subtree", "now_ro", "submount",
};

static const char *const sb_flag_names[8] = {
	"now_ro",
};

/* Bytes outside the printable, unambiguous set are escaped. */
static void put_name(struct out *o, bool json, const __u8 *s, unsigned int len)
{
	unsigned int i;

	if (json)
		put(o, ",\"name\":\"");
	else if (!len)
		put(o, " -");
	else
		put(o, " ");
	for (i = 0; i < len; i++) {
		__u8 c = s[i];

		if (json && (c < 0x20 || c >= 0x7f || c == '"' || c == '\\'))
			put(o, "\\u%04x", c);
		else if (!json && (c <= 0x20 || c >= 0x7f || c == '\\' || c == '='))
			put(o, "\\x%02x", c);
		else
			put(o, "%c", c);
	}
	if (json)
		put(o, "\"");
}

/* The record in hex, for types and shapes this code does not know. */
static int format_raw(struct out *o, const struct watchq_notification *n,
		      unsigned int slots, bool json)
{
	const __u8 *b = (const __u8 *)(n + 1);
	const char *tn = watchq_type_name(n->type);
	const char *sn = watchq_subtype_name(n->type, n->subtype);
	__u32 wid = (n->info & WATCHQ_INFO_ID) >> WATCHQ_INFO_ID__SHIFT;
	unsigned int i;

	if (json) {
		put(o, "{");
		put_json_name(o, "type", tn, n->type);
		put(o, ",");
		put_json_name(o, "subtype", sn, n->subtype);
		put(o, ",\"watch_id\":%u,\"info\":%u,\"data\":\"", wid, n->info);
	} else {
		if (tn)
			put(o, "raw type=%s", tn);
		else
			put(o, "raw type=%u", n->type);
		if (sn)
			put(o, " subtype=%s", sn);
		else
			put(o, " subtype=%u", n->subtype);
		put(o, " info=0x%08x data=", n->info);
	}
	for (i = 0; i < (slots - 1) * WATCHQ_LENGTH_GRANULARITY; i++)
		put(o, "%02x", b[i]);
	if (json)
		put(o, "\"}");
	else
		put(o, " id=%u", wid);
	return done(o);
}

int watchq_format_record(char *buf, size_t size,
			 const struct watchq_notification *n,
			 unsigned int slots, bool json)
{
	struct out o = { buf, size, 0 };
	__u32 type = n->type, subtype = n->subtype, info = n->info;
	__u32 wid = (info & WATCHQ_INFO_ID) >> WATCHQ_INFO_ID__SHIFT;
	const char *tn = watchq_type_name(type);
	const char *sn = watchq_subtype_name(type, subtype);
	size_t bytes;
	char snum[4];

	if (size)
		buf[0] = '\0';
	if (!slots || slots > WATCHQ_MAX_RECORD_SLOTS)
		slots = 1;
	bytes = (size_t)slots * WATCHQ_LENGTH_GRANULARITY;
	if (!tn)
		return format_raw(&o, n, slots, json);
	if (!sn) {
		/* A known layout with a new subtype still reads fine. */
		snprintf(snum, sizeof(snum), "%u", subtype);
		sn = snum;
	}

	if (json) {
		put(&o, "{\"type\":\"%s\",", tn);
		put_json_name(&o, "subtype", sn == snum ? NULL : sn, subtype);
		put(&o, ",\"watch_id\":%u", wid);
	}

	switch (type) {
	case WATCHQ_TYPE_META: {
		const struct watchq_notification_removal *r = (const void *)n;

		if (subtype != WATCHQ_META_REMOVAL_NOTIFICATION) {
			o.len = 0;
			return format_raw(&o, n, slots, json);
		}
		if (json) {
			if (bytes >= sizeof(*r))
				put(&o, ",\"id\":%llu", (unsigned long long)r->id);
		} else if (bytes >= sizeof(*r)) {
			put(&o, "meta %llu %s", (unsigned long long)r->id, sn);
		} else {
			put(&o, "meta - %s", sn);
		}
		break;
	}
	case WATCHQ_TYPE_KEY_NOTIFY: {
		const struct watchq_key_notification *k = (const void *)n;

		if (bytes < sizeof(*k))
			goto raw;
		/* aux is a serial or 0, or minus an errno for instantiated
		 * (reject/negate), so signed reads right for every subtype. */
		if (json)
			put(&o, ",\"key\":%u,\"aux\":%d", k->key_id, (__s32)k->aux);
		else
			put(&o, "key %u %s aux=%d", k->key_id, sn, (__s32)k->aux);
		break;
	}
	case WATCHQ_TYPE_BLOCK_NOTIFY: {
		const struct watchq_block_notification *b = (const void *)n;

		if (bytes < sizeof(*b))
			goto raw;
		if (!json)
			put(&o, "block");
		put_dev(&o, json, "dev", b->dev);
		if (json)
			put(&o, ",\"sector\":%llu", (unsigned long long)b->sector);
		else
			put(&o, " %s sector=%llu", sn, (unsigned long long)b->sector);
		break;
	}
	case WATCHQ_TYPE_USB_NOTIFY: {
		const struct watchq_usb_notification *u = (const void *)n;
		size_t head = offsetof(struct watchq_usb_notification, name), room;
		unsigned int len;

		if (bytes < head)
			goto raw;
		/* Never past the record, whatever name_len claims. */
		room = bytes - head;
		len = u->name_len;
		if (len > WATCHQ_USB_NAME_MAX)
			len = WATCHQ_USB_NAME_MAX;
		if (len > room)
			len = (unsigned int)room;
		if (!json)
			put(&o, "usb");
		put_name(&o, json, u->name, len);
		if (json)
			put(&o, ",\"error\":%d", (__s32)u->error);
		else
			put(&o, " %s error=%d", sn, (__s32)u->error);
		break;
	}
	case WATCHQ_TYPE_MOUNT_NOTIFY: {
		const struct watchq_mount_notification *m = (const void *)n;

		if (bytes < sizeof(*m))
			goto raw;
		/* Which ids: the kernel starts its 64-bit unique ones at 2^31
		 * so that they never collide with mountinfo's 32-bit ones. */
		if (json)
			put(&o, ",\"triggered_on\":%llu,\"auxiliary_mount\":%llu,\"mount_ids\":\"%s\"",
			    (unsigned long long)m->triggered_on,
			    (unsigned long long)m->auxiliary_mount,
			    m->triggered_on >= 1ULL << 31 ? "unique" : "mountinfo");
		else
			put(&o, "mount %llu %s aux=%llu",
			    (unsigned long long)m->triggered_on, sn,
			    (unsigned long long)m->auxiliary_mount);
		put_flags(&o, json, info, mount_flag_names);
		break;
	}
	case WATCHQ_TYPE_SB_NOTIFY: {
		const struct watchq_superblock_error_notification *e = (const void *)n;
		bool is_err = subtype == WATCHQ_NOTIFY_SUPERBLOCK_ERROR;

		if (bytes < (is_err ? sizeof(*e) : sizeof(e->s)))
			goto raw;
		if (!json)
			put(&o, "sb");
		put_dev(&o, json, "sb", e->s.sb_id);
		if (!json)
			put(&o, " %s", sn);
		if (is_err)
			put(&o, json ? ",\"error\":%u,\"cookie\":%u" :
				       " error=%u cookie=%u",
			    e->error_number, e->error_cookie);
		put_flags(&o, json, info, sb_flag_names);
		break;
	}
	}

	if (json)
		put(&o, "}");
	else
		put(&o, " id=%u", wid);
	return done(&o);

raw:
	o.len = 0;
	return format_raw(&o, n, slots, json);
}

int watchq_format_loss(char *buf, size_t size, bool json)
{
	return snprintf(buf, size, json ? "{\"type\":\"meta\",\"subtype\":\"%s\"}" :
			"%s", WATCHQ_NAME_LOSS);
}
