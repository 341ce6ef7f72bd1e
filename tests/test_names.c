// SPDX-License-Identifier: GPL-2.0
/* Names, the filter spec and watch parsers, and the record line formats. */
#include <sys/sysmacros.h>

#include "test.h"
#include "names.h"

#define STR_EQ(actual, expected, what) ({				\
	const char *__a = (actual), *__e = (expected);			\
	bool __ok = (__a && __e) ? !strcmp(__a, __e) : __a == __e;	\
	if (!__ok)							\
		TEST_LOG("%s: expected \"%s\", got \"%s\"", what,	\
			 __e ? __e : "(null)", __a ? __a : "(null)");	\
	__ok; })

WATCHQ_TEST(names_types)
{
	static const char *const want[] = {
		"meta", "key", "block", "usb", "mount", "sb",
	};
	bool ok = true;
	unsigned int i;

	for (i = 0; i < 6; i++) {
		ok &= STR_EQ(watchq_type_name(i), want[i], "type name");
		ok &= ASSERT_EQ(watchq_type_by_name(want[i]), i, want[i]);
	}
	ok &= STR_EQ(watchq_type_name(6), NULL, "type 6");
	ok &= STR_EQ(watchq_type_name(0xffffff), NULL, "type 2^24-1");
	ok &= ASSERT_EQ(watchq_type_by_name("KEY"), 1, "case-insensitive");
	ok &= ASSERT_EQ(watchq_type_by_name("keys"), -ENOENT, "keys");
	ok &= ASSERT_EQ(watchq_type_by_name(""), -ENOENT, "empty");
	ok &= ASSERT_EQ(watchq_type_by_name("superblock"), -ENOENT, "superblock");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(names_subtypes)
{
	static const struct {
		__u32 type, subtype;
		const char *name;
	} want[] = {
		{ 0, 0, "skip" }, { 0, 1, "removal" },
		{ 1, 0, "instantiated" }, { 1, 1, "updated" }, { 1, 2, "linked" },
		{ 1, 3, "unlinked" }, { 1, 4, "cleared" }, { 1, 5, "revoked" },
		{ 1, 6, "invalidated" }, { 1, 7, "setattr" },
		{ 2, 1, "timeout" }, { 2, 2, "no_space" },
		{ 2, 3, "recoverable_transport" }, { 2, 4, "critical_target" },
		{ 2, 5, "critical_nexus" }, { 2, 6, "critical_medium" },
		{ 2, 7, "protection" }, { 2, 8, "kernel_resource" },
		{ 2, 9, "device_resource" }, { 2, 10, "io" },
		{ 3, 0, "device_add" }, { 3, 1, "device_remove" },
		{ 3, 2, "device_reset" }, { 3, 3, "device_error" },
		{ 4, 0, "new_mount" }, { 4, 1, "unmount" }, { 4, 2, "expiry" },
		{ 4, 3, "readonly" }, { 4, 4, "setattr" }, { 4, 5, "move_from" },
		{ 4, 6, "move_to" },
		{ 5, 0, "readonly" }, { 5, 1, "error" }, { 5, 2, "edquot" },
		{ 5, 3, "network" },
	};
	bool ok = true;
	unsigned int i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ok &= STR_EQ(watchq_subtype_name(want[i].type, want[i].subtype),
			     want[i].name, want[i].name);
		ok &= ASSERT_EQ(watchq_subtype_by_name(want[i].type, want[i].name),
				want[i].subtype, want[i].name);
	}
	/* Holes and ends of every table. */
	ok &= STR_EQ(watchq_subtype_name(0, 2), NULL, "meta 2");
	ok &= STR_EQ(watchq_subtype_name(1, 8), NULL, "key 8");
	ok &= STR_EQ(watchq_subtype_name(2, 0), NULL, "block 0 is a hole");
	ok &= STR_EQ(watchq_subtype_name(2, 11), NULL, "block 11");
	ok &= STR_EQ(watchq_subtype_name(3, 4), NULL, "usb 4");
	ok &= STR_EQ(watchq_subtype_name(4, 7), NULL, "mount 7");
	ok &= STR_EQ(watchq_subtype_name(5, 4), NULL, "sb 4");
	ok &= STR_EQ(watchq_subtype_name(6, 0), NULL, "type 6");
	ok &= STR_EQ(watchq_subtype_name(1, 255), NULL, "key 255");
	ok &= ASSERT_EQ(watchq_subtype_by_name(1, "loss"), -ENOENT, "loss");
	ok &= ASSERT_EQ(watchq_subtype_by_name(0, "loss"), -ENOENT, "meta loss");
	ok &= ASSERT_EQ(watchq_subtype_by_name(2, "linked"), -ENOENT, "wrong type");
	ok &= ASSERT_EQ(watchq_subtype_by_name(6, "linked"), -ENOENT, "type 6");
	ok &= ASSERT_EQ(watchq_subtype_by_name(1, "Linked"), 2, "case");
	return ok ? TEST_PASS : TEST_FAIL;
}

static bool bits_are(const struct watchq_notification_type_filter *e,
		     const __u32 want[8], const char *what)
{
	return ASSERT_MEM_EQ(e->subtype_filter, want, 32, what);
}

WATCHQ_TEST(names_filter_spec)
{
	static const __u32 all[8] = {
		~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u,
	};
	static const __u32 linked_unlinked[8] = { 0xc };
	static const __u32 odd[8] = { 1, 0, 0, 0, 0, 0, 0, 0x80000000 };
	union watchq_filter_spec s;
	char err[128];
	bool ok = true;

	memset(&s, 0, sizeof(s));
	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "key", err, sizeof(err)), "key");
	ok &= ASSERT_EQ(s.f.nr_filters, 1, "nr");
	ok &= ASSERT_EQ(s.f.__reserved, 0, "reserved");
	ok &= ASSERT_EQ(s.f.filters[0].type, 1, "type");
	ok &= ASSERT_EQ(s.f.filters[0].info_filter, 0, "info_filter");
	ok &= ASSERT_EQ(s.f.filters[0].info_mask, 0, "info_mask");
	ok &= bits_are(&s.f.filters[0], all, "all subtypes");

	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "key:linked,unlinked", err,
					       sizeof(err)), "names");
	ok &= bits_are(&s.f.filters[1], linked_unlinked, "linked,unlinked");
	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "1:2,3,2", err, sizeof(err)),
			"numbers, repeated");
	ok &= bits_are(&s.f.filters[2], linked_unlinked, "2,3");
	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "16777215:0,255", err,
					       sizeof(err)), "unknown type, numbers");
	ok &= ASSERT_EQ(s.f.filters[3].type, 0xffffff, "largest type");
	ok &= bits_are(&s.f.filters[3], odd, "0,255");
	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "block:io", err, sizeof(err)),
			"block:io");
	ok &= ASSERT_EQ(s.f.filters[4].type, 2, "block");
	ok &= ASSERT_EQ(s.f.filters[4].subtype_filter[0], 1u << 10, "io");
	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "sb:error,readonly", err,
					       sizeof(err)), "sb");
	ok &= ASSERT_EQ(s.f.filters[5].subtype_filter[0], 3, "sb bits");
	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "meta:removal", err, sizeof(err)),
			"meta:removal");
	ok &= ASSERT_OK(watchq_filter_spec_add(&s, "MOUNT:New_Mount", err,
					       sizeof(err)), "case");
	ok &= ASSERT_EQ(s.f.filters[7].type, 4, "mount");
	ok &= ASSERT_EQ(watchq_filter_spec_size(&s), 8 + 8 * 44, "size");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(names_filter_spec_errors)
{
	static const struct {
		const char *spec, *why;
	} bad[] = {
		{ "", "missing type" },
		{ ":linked", "missing type" },
		{ "keys", "unknown type 'keys'" },
		{ "16777216", "not a number from 0 to 16777215" },
		{ "-1", "unknown type '-1'" },
		{ "1x", "not a number" },
		{ "key:", "empty subtype" },
		{ "key:,linked", "empty subtype" },
		{ "key:linked,", "empty subtype" },
		{ "key:linked,,unlinked", "empty subtype" },
		{ "key:bogus", "unknown subtype 'bogus' of type key" },
		{ "key:256", "subtype '256' is not a number from 0 to 255" },
		{ "key:2a", "subtype '2a' is not a number" },
		{ "key:io", "unknown subtype 'io' of type key" },
		{ "meta:loss", "'loss' is not a record subtype" },
		{ "42:linked", "type 42 has no subtype names" },
		{ "key: linked", "unknown subtype ' linked'" },
	};
	union watchq_filter_spec s;
	char err[128], spec[8];
	bool ok = true;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		err[0] = '\0';
		ok &= ASSERT_EQ(watchq_filter_spec_add(&s, bad[i].spec, err,
						       sizeof(err)), -EINVAL,
				bad[i].spec);
		if (!strstr(err, bad[i].why)) {
			TEST_LOG("%s: reason \"%s\" lacks \"%s\"", bad[i].spec,
				 err, bad[i].why);
			ok = false;
		}
		ok &= ASSERT_EQ(s.f.nr_filters, 0, "unchanged");
	}

	/* The 17th entry is refused and the 16 stay as they were. */
	memset(&s, 0, sizeof(s));
	for (i = 0; i < WATCHQ_MAX_FILTERS; i++) {
		snprintf(spec, sizeof(spec), "%u", i);
		ok &= ASSERT_OK(watchq_filter_spec_add(&s, spec, err, sizeof(err)),
				"up to 16");
	}
	ok &= ASSERT_EQ(watchq_filter_spec_add(&s, "key", err, sizeof(err)),
			-EINVAL, "17th");
	ok &= ASSERT_TRUE(strstr(err, "at most 16"), "17th reason");
	ok &= ASSERT_EQ(s.f.nr_filters, 16, "still 16");
	ok &= ASSERT_EQ(s.f.filters[15].type, 15, "last kept");

	/* No reason buffer is fine too. */
	memset(&s, 0, sizeof(s));
	ok &= ASSERT_EQ(watchq_filter_spec_add(&s, "nope", NULL, 0), -EINVAL,
			"no err buffer");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(names_numbers)
{
	bool ok = true;
	__u32 v = 7;
	int ms = 7;

	ok &= ASSERT_OK(watchq_parse_u32("0", 10, &v), "0");
	ok &= ASSERT_EQ(v, 0, "0 value");
	ok &= ASSERT_OK(watchq_parse_u32("4294967295", 0xffffffffu, &v), "u32 max");
	ok &= ASSERT_EQ(v, 0xffffffffu, "u32 max value");
	ok &= ASSERT_EQ(watchq_parse_u32("4294967296", 0xffffffffu, &v), -ERANGE,
			"u32 max + 1");
	ok &= ASSERT_EQ(watchq_parse_u32("99999999999999999999999", 0xffffffffu, &v),
			-ERANGE, "huge");
	ok &= ASSERT_EQ(watchq_parse_u32("11", 10, &v), -ERANGE, "above max");
	ok &= ASSERT_EQ(watchq_parse_u32("", 10, &v), -EINVAL, "empty");
	ok &= ASSERT_EQ(watchq_parse_u32("+1", 10, &v), -EINVAL, "sign");
	ok &= ASSERT_EQ(watchq_parse_u32("-1", 10, &v), -EINVAL, "minus");
	ok &= ASSERT_EQ(watchq_parse_u32(" 1", 10, &v), -EINVAL, "space");
	ok &= ASSERT_EQ(watchq_parse_u32("0x1", 10, &v), -EINVAL, "hex");

	ok &= ASSERT_OK(watchq_parse_timeout_ms("5", &ms), "5");
	ok &= ASSERT_EQ(ms, 5000, "5 s");
	ok &= ASSERT_OK(watchq_parse_timeout_ms("0.5", &ms), "0.5");
	ok &= ASSERT_EQ(ms, 500, "0.5 s");
	ok &= ASSERT_OK(watchq_parse_timeout_ms("1.25", &ms), "1.25");
	ok &= ASSERT_EQ(ms, 1250, "1.25 s");
	ok &= ASSERT_OK(watchq_parse_timeout_ms("0.001", &ms), "0.001");
	ok &= ASSERT_EQ(ms, 1, "1 ms");
	ok &= ASSERT_OK(watchq_parse_timeout_ms("0", &ms), "0");
	ok &= ASSERT_EQ(ms, 0, "0 s");
	ok &= ASSERT_OK(watchq_parse_timeout_ms("2147483.647", &ms), "INT_MAX ms");
	ok &= ASSERT_EQ(ms, 2147483647, "INT_MAX");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("2147483.648", &ms), -ERANGE,
			"INT_MAX + 1 ms");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("2147484", &ms), -ERANGE, "too long");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("12345678901234567", &ms), -ERANGE,
			"way too long");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("", &ms), -EINVAL, "empty");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms(".5", &ms), -EINVAL, ".5");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("1.", &ms), -EINVAL, "1.");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("1.0001", &ms), -EINVAL, "4 digits");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("1.2.3", &ms), -EINVAL, "1.2.3");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("-1", &ms), -EINVAL, "-1");
	ok &= ASSERT_EQ(watchq_parse_timeout_ms("1s", &ms), -EINVAL, "1s");
	ok &= ASSERT_EQ(ms, 2147483647, "unchanged on error");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(names_watch_spec)
{
	static const struct {
		const char *name;
		__s32 id;
	} specials[] = {
		{ "@t", -1 }, { "@p", -2 }, { "@s", -3 }, { "@u", -4 },
		{ "@us", -5 }, { "@g", -6 }, { "@a", -7 }, { "@r", -8 },
	};
	struct watchq_watch_spec w;
	char err[128], arg[16];
	bool ok = true;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		ok &= ASSERT_EQ(watchq_key_special(specials[i].name), specials[i].id,
				specials[i].name);
		snprintf(arg, sizeof(arg), "key:%s", specials[i].name);
		ok &= ASSERT_OK(watchq_watch_spec_parse(&w, arg, err, sizeof(err)), arg);
		ok &= ASSERT_EQ(w.what, WATCHQ_WATCH_WHAT_KEY, arg);
		ok &= ASSERT_EQ(w.key, specials[i].id, arg);
		ok &= ASSERT_EQ(w.watch_id, 0, arg);
	}
	ok &= ASSERT_EQ(watchq_key_special("@S"), 0, "case matters");
	ok &= ASSERT_EQ(watchq_key_special("@x"), 0, "@x");

	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "key:123456=7", err, sizeof(err)),
			"serial=id");
	ok &= ASSERT_EQ(w.key, 123456, "serial");
	ok &= ASSERT_EQ(w.watch_id, 7, "watch id");
	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "key:2147483647=255", err,
						sizeof(err)), "max serial");
	ok &= ASSERT_EQ(w.key, 2147483647, "max serial value");
	ok &= ASSERT_EQ(w.watch_id, 255, "max watch id");
	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "key:@us=3", err, sizeof(err)),
			"@us=3");
	ok &= ASSERT_EQ(w.key, -5, "@us");
	ok &= ASSERT_EQ(w.watch_id, 3, "@us id");

	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "mount:/", err, sizeof(err)),
			"mount:/");
	ok &= ASSERT_EQ(w.what, WATCHQ_WATCH_WHAT_MOUNT, "mount");
	ok &= STR_EQ(w.path, "/", "mount path");
	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "mount:/a:b=c=9", err, sizeof(err)),
			"colons and = in a path");
	ok &= STR_EQ(w.path, "/a:b=c", "path with = and :");
	ok &= ASSERT_EQ(w.watch_id, 9, "its id");
	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "sb:/mnt/x=1=0", err, sizeof(err)),
			"explicit =0");
	ok &= ASSERT_EQ(w.what, WATCHQ_WATCH_WHAT_SB, "sb");
	ok &= STR_EQ(w.path, "/mnt/x=1", "path ending =1");
	ok &= ASSERT_EQ(w.watch_id, 0, "explicit 0");
	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "sb:/x=", err, sizeof(err)),
			"trailing =");
	ok &= STR_EQ(w.path, "/x=", "trailing = kept");

	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "devices", err, sizeof(err)),
			"devices");
	ok &= ASSERT_EQ(w.what, WATCHQ_WATCH_WHAT_DEVICES, "devices what");
	ok &= ASSERT_EQ(w.watch_id, 0, "devices id");
	ok &= ASSERT_OK(watchq_watch_spec_parse(&w, "devices=12", err, sizeof(err)),
			"devices=12");
	ok &= ASSERT_EQ(w.watch_id, 12, "devices=12 id");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(names_watch_spec_errors)
{
	static const struct {
		const char *arg, *why;
		int err;
	} bad[] = {
		{ "", "expected key:ID", -EINVAL },
		{ "key", "expected key:ID", -EINVAL },
		{ "key=1", "expected key:ID", -EINVAL },
		{ "key:", "key id ''", -EINVAL },
		{ "key:0", "key id '0'", -EINVAL },
		{ "key:-3", "key id '-3'", -EINVAL },
		{ "key:@x", "key id '@x'", -EINVAL },
		{ "key:@s=", "key id '@s='", -EINVAL },
		{ "key:2147483648", "key id '2147483648'", -EINVAL },
		{ "key:12345678901234567890", "key id", -EINVAL },
		{ "key:0x10", "key id '0x10'", -EINVAL },
		{ "key:@s=256", "watch id '256'", -EINVAL },
		{ "key:1=99999999999", "watch id", -EINVAL },
		{ "mount:", "empty path", -EINVAL },
		{ "mount:=1", "empty path", -EINVAL },
		{ "sb:", "empty path", -EINVAL },
		{ "devices:", "takes no argument", -EINVAL },
		{ "devices:/x", "takes no argument", -EINVAL },
		{ "device", "expected key:ID", -EINVAL },
		{ "keys:1", "unknown watch 'keys'", -EINVAL },
		{ "Key:1", "unknown watch 'Key'", -EINVAL },
		{ "usb:1", "unknown watch 'usb'", -EINVAL },
	};
	static char longpath[PATH_MAX + 16];
	struct watchq_watch_spec w;
	char err[160];
	bool ok = true;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok &= ASSERT_EQ(watchq_watch_spec_parse(&w, bad[i].arg, err,
							sizeof(err)),
				bad[i].err, bad[i].arg);
		if (!strstr(err, bad[i].why)) {
			TEST_LOG("%s: reason \"%s\" lacks \"%s\"", bad[i].arg, err,
				 bad[i].why);
			ok = false;
		}
	}
	memcpy(longpath, "mount:", 6);
	memset(longpath + 6, 'a', PATH_MAX);
	ok &= ASSERT_EQ(watchq_watch_spec_parse(&w, longpath, err, sizeof(err)),
			-ENAMETOOLONG, "path of PATH_MAX bytes");
	return ok ? TEST_PASS : TEST_FAIL;
}

/* A record of @slots slots with the header filled in; the body after it. */
static struct watchq_notification *mk(__u64 *buf, __u32 type, __u32 subtype,
				      unsigned int slots, __u32 wid, __u32 flags)
{
	struct watchq_notification *n = (void *)buf;

	memset(buf, 0, 63 * 8);
	n->type = type;
	n->subtype = subtype;
	n->info = WATCHQ_INFO(slots, wid, flags);
	return n;
}

static bool line_is(const struct watchq_notification *n, unsigned int slots,
		    const char *text, const char *json)
{
	char buf[1200];
	bool ok = true;
	int len;

	len = watchq_format_record(buf, sizeof(buf), n, slots, false);
	ok &= STR_EQ(buf, text, "text");
	ok &= ASSERT_EQ(len, strlen(text), "text length");
	len = watchq_format_record(buf, sizeof(buf), n, slots, true);
	ok &= STR_EQ(buf, json, "json");
	ok &= ASSERT_EQ(len, strlen(json), "json length");
	return ok;
}

WATCHQ_TEST(names_format_records)
{
	__u64 b[63];
	struct watchq_notification *n;
	bool ok = true;

	n = mk(b, 1, WATCHQ_NOTIFY_KEY_LINKED, 2, 0, 0);
	((struct watchq_key_notification *)n)->key_id = 123456;
	((struct watchq_key_notification *)n)->aux = 789;
	ok &= line_is(n, 2, "key 123456 linked aux=789 id=0",
		"{\"type\":\"key\",\"subtype\":\"linked\",\"watch_id\":0,\"key\":123456,\"aux\":789}");

	n = mk(b, 1, WATCHQ_NOTIFY_KEY_INSTANTIATED, 2, 255, 0);
	((struct watchq_key_notification *)n)->key_id = 42;
	((struct watchq_key_notification *)n)->aux = (__u32)-126;
	ok &= line_is(n, 2, "key 42 instantiated aux=-126 id=255",
		"{\"type\":\"key\",\"subtype\":\"instantiated\",\"watch_id\":255,\"key\":42,\"aux\":-126}");

	/* A new subtype of a known layout still decodes, by number. */
	n = mk(b, 1, 9, 2, 1, 0);
	((struct watchq_key_notification *)n)->key_id = 5;
	ok &= line_is(n, 2, "key 5 9 aux=0 id=1",
		"{\"type\":\"key\",\"subtype\":9,\"watch_id\":1,\"key\":5,\"aux\":0}");

	n = mk(b, 0, WATCHQ_META_REMOVAL_NOTIFICATION, 2, 3, 0);
	((struct watchq_notification_removal *)n)->id = 987654321012ULL;
	ok &= line_is(n, 2, "meta 987654321012 removal id=3",
		"{\"type\":\"meta\",\"subtype\":\"removal\",\"watch_id\":3,\"id\":987654321012}");
	n = mk(b, 0, WATCHQ_META_REMOVAL_NOTIFICATION, 1, 3, 0);
	ok &= line_is(n, 1, "meta - removal id=3",
		"{\"type\":\"meta\",\"subtype\":\"removal\",\"watch_id\":3}");

	n = mk(b, 2, WATCHQ_NOTIFY_BLOCK_ERROR_IO, 3, 0, 0);
	((struct watchq_block_notification *)n)->dev = makedev(259, 1048575);
	((struct watchq_block_notification *)n)->sector = 18446744073709551615ULL;
	ok &= line_is(n, 3, "block 259:1048575 io sector=18446744073709551615 id=0",
		"{\"type\":\"block\",\"subtype\":\"io\",\"watch_id\":0,\"dev\":\"259:1048575\",\"sector\":18446744073709551615}");

	n = mk(b, 4, WATCHQ_NOTIFY_MOUNT_NEW_MOUNT, 3, 2,
	       WATCHQ_NOTIFY_MOUNT_IN_SUBTREE | WATCHQ_NOTIFY_MOUNT_IS_NOW_RO |
	       WATCHQ_NOTIFY_MOUNT_IS_SUBMOUNT | WATCHQ_INFO_FLAG_7);
	((struct watchq_mount_notification *)n)->triggered_on = 23;
	((struct watchq_mount_notification *)n)->auxiliary_mount = 45;
	ok &= line_is(n, 3,
		"mount 23 new_mount aux=45 flags=in_subtree,now_ro,submount,flag7 id=2",
		"{\"type\":\"mount\",\"subtype\":\"new_mount\",\"watch_id\":2,\"triggered_on\":23,\"auxiliary_mount\":45,\"mount_ids\":\"mountinfo\",\"flags\":[\"in_subtree\",\"now_ro\",\"submount\",\"flag7\"]}");
	n = mk(b, 4, WATCHQ_NOTIFY_MOUNT_EXPIRY, 3, 0, 0);
	((struct watchq_mount_notification *)n)->triggered_on = 2147492321ULL;
	ok &= line_is(n, 3, "mount 2147492321 expiry aux=0 id=0",
		"{\"type\":\"mount\",\"subtype\":\"expiry\",\"watch_id\":0,\"triggered_on\":2147492321,\"auxiliary_mount\":0,\"mount_ids\":\"unique\",\"flags\":[]}");

	n = mk(b, 5, WATCHQ_NOTIFY_SUPERBLOCK_READONLY, 2, 0,
	       WATCHQ_NOTIFY_SUPERBLOCK_IS_NOW_RO);
	((struct watchq_superblock_notification *)n)->sb_id = makedev(8, 1);
	ok &= line_is(n, 2, "sb 8:1 readonly flags=now_ro id=0",
		"{\"type\":\"sb\",\"subtype\":\"readonly\",\"watch_id\":0,\"sb\":\"8:1\",\"flags\":[\"now_ro\"]}");
	n = mk(b, 5, WATCHQ_NOTIFY_SUPERBLOCK_ERROR, 3, 4, 0);
	((struct watchq_superblock_error_notification *)n)->s.sb_id = makedev(0, 45);
	((struct watchq_superblock_error_notification *)n)->error_number = 5;
	((struct watchq_superblock_error_notification *)n)->error_cookie = 77;
	ok &= line_is(n, 3, "sb 0:45 error error=5 cookie=77 id=4",
		"{\"type\":\"sb\",\"subtype\":\"error\",\"watch_id\":4,\"sb\":\"0:45\",\"error\":5,\"cookie\":77,\"flags\":[]}");

	n = mk(b, 3, WATCHQ_NOTIFY_USB_DEVICE_ADD, 4, 0, 0);
	((struct watchq_usb_notification *)n)->error = (__u32)-71;
	((struct watchq_usb_notification *)n)->name_len = 8;
	memcpy(((struct watchq_usb_notification *)n)->name, "1-1 \"x\\\n", 8);
	ok &= line_is(n, 4, "usb 1-1\\x20\"x\\x5c\\x0a device_add error=-71 id=0",
		"{\"type\":\"usb\",\"subtype\":\"device_add\",\"watch_id\":0,\"name\":\"1-1 \\u0022x\\u005c\\u000a\",\"error\":-71}");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(names_format_untrusted)
{
	char buf[1200], small[8];
	__u64 b[63];
	struct watchq_notification *n;
	bool ok = true;
	int len;

	/* Unknown type: hex of the body. */
	n = mk(b, 42, 7, 2, 1, WATCHQ_INFO_FLAG_3);
	b[1] = 0x8877665544332211ULL;
	ok &= line_is(n, 2,
		"raw type=42 subtype=7 info=0x00080102 data=1122334455667788 id=1",
		"{\"type\":42,\"subtype\":7,\"watch_id\":1,\"info\":524546,\"data\":\"1122334455667788\"}");

	/* Known types cut short fall back to hex rather than read past. */
	n = mk(b, 1, WATCHQ_NOTIFY_KEY_LINKED, 1, 0, 0);
	ok &= line_is(n, 1, "raw type=key subtype=linked info=0x00000001 data= id=0",
		"{\"type\":\"key\",\"subtype\":\"linked\",\"watch_id\":0,\"info\":1,\"data\":\"\"}");
	n = mk(b, 4, 0, 2, 0, 0);
	len = watchq_format_record(buf, sizeof(buf), n, 2, false);
	ok &= ASSERT_TRUE(!strncmp(buf, "raw type=mount subtype=new_mount", 32), "short mount");
	n = mk(b, 5, WATCHQ_NOTIFY_SUPERBLOCK_ERROR, 2, 0, 0);
	watchq_format_record(buf, sizeof(buf), n, 2, false);
	ok &= ASSERT_TRUE(!strncmp(buf, "raw type=sb subtype=error", 25), "short sb error");
	n = mk(b, 2, WATCHQ_NOTIFY_BLOCK_ERROR_IO, 2, 0, 0);
	watchq_format_record(buf, sizeof(buf), n, 2, false);
	ok &= ASSERT_TRUE(!strncmp(buf, "raw type=block", 14), "short block");
	n = mk(b, 3, 0, 2, 0, 0);
	watchq_format_record(buf, sizeof(buf), n, 2, false);
	ok &= ASSERT_TRUE(!strncmp(buf, "raw type=usb", 12), "short usb");
	n = mk(b, 0, 5, 1, 0, 0);
	ok &= line_is(n, 1, "raw type=meta subtype=5 info=0x00000001 data= id=0",
		"{\"type\":\"meta\",\"subtype\":5,\"watch_id\":0,\"info\":1,\"data\":\"\"}");

	/* A USB name_len beyond the record is cut at the record's end. */
	n = mk(b, 3, WATCHQ_NOTIFY_USB_DEVICE_ERROR, 3, 0, 0);
	((struct watchq_usb_notification *)n)->name_len = 200;
	memset(((struct watchq_usb_notification *)n)->name, 'a', 7);
	ok &= line_is(n, 3, "usb aaaaaaa device_error error=0 id=0",
		"{\"type\":\"usb\",\"subtype\":\"device_error\",\"watch_id\":0,\"name\":\"aaaaaaa\",\"error\":0}");
	n = mk(b, 3, WATCHQ_NOTIFY_USB_DEVICE_REMOVE, 3, 0, 0);
	ok &= line_is(n, 3, "usb - device_remove error=0 id=0",
		"{\"type\":\"usb\",\"subtype\":\"device_remove\",\"watch_id\":0,\"name\":\"\",\"error\":0}");

	/* The largest raw record fits the CLI's line; truncation is reported. */
	n = mk(b, 77, 0, 63, 0, 0);
	len = watchq_format_record(buf, sizeof(buf), n, 63, true);
	ok &= ASSERT_TRUE(len > 0 && (size_t)len < sizeof(buf), "63 slots fit");
	ok &= ASSERT_EQ(strlen(buf), len, "not truncated");
	len = watchq_format_record(small, sizeof(small), n, 63, false);
	ok &= ASSERT_TRUE((size_t)len >= sizeof(small), "truncation reported");
	ok &= ASSERT_EQ(strlen(small), sizeof(small) - 1, "truncated and terminated");
	len = watchq_format_record(NULL, 0, n, 63, false);
	ok &= ASSERT_TRUE(len > 900, "size 0 measures");

	/* A bogus slot count is clamped to the header alone. */
	n = mk(b, 1, 2, 0, 0, 0);
	watchq_format_record(buf, sizeof(buf), n, 0, false);
	ok &= STR_EQ(buf, "raw type=key subtype=linked info=0x00000000 data= id=0", "0 slots");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(names_format_loss)
{
	char buf[64];
	bool ok = true;

	ok &= ASSERT_EQ(watchq_format_loss(buf, sizeof(buf), false), 4, "text len");
	ok &= STR_EQ(buf, "loss", "text");
	watchq_format_loss(buf, sizeof(buf), true);
	ok &= STR_EQ(buf, "{\"type\":\"meta\",\"subtype\":\"loss\"}", "json");
	return ok ? TEST_PASS : TEST_FAIL;
}
