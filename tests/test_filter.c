// SPDX-License-Identifier: GPL-2.0
/* The filter engine: every v5 validation and the match rules. */
#include "test.h"
#include "filter.h"

/* The ABI's watchq_notification_filter with room for its entries. */
struct one_filter {
	__u32 nr_filters;
	__u32 reserved;
	struct watchq_notification_type_filter f[WATCHQ_MAX_FILTERS + 1];
};
_Static_assert(__builtin_offsetof(struct one_filter, f) ==
	       __builtin_offsetof(struct watchq_notification_filter, filters),
	       "mirror of the ABI struct");

static struct one_filter make(__u32 nr)
{
	struct one_filter u;

	memset(&u, 0, sizeof(u));
	u.nr_filters = nr;
	return u;
}

static size_t size_of(__u32 nr)
{
	return sizeof(struct watchq_notification_filter) +
	       nr * sizeof(struct watchq_notification_type_filter);
}

static void set_subtype(struct watchq_notification_type_filter *f, unsigned int s)
{
	f->subtype_filter[s / 32] |= 1u << (s % 32);
}

WATCHQ_TEST(filter_rejects_invalid)
{
	struct watchq_filter f = { .nr = 42 };
	struct one_filter u;
	bool ok = true;
	int bit;

	u = make(0);
	ok &= ASSERT_EQ(watchq_filter_build(&f, &u, size_of(0)), -EINVAL, "nr_filters 0");
	u = make(WATCHQ_MAX_FILTERS + 1);
	ok &= ASSERT_EQ(watchq_filter_build(&f, &u, size_of(WATCHQ_MAX_FILTERS + 1)),
			-EINVAL, "nr_filters 17");
	u = make(1);
	u.reserved = 1;
	ok &= ASSERT_EQ(watchq_filter_build(&f, &u, size_of(1)), -EINVAL, "__reserved");
	u = make(1);
	u.f[0].info_mask = 0xff00;
	u.f[0].info_filter = 0x10100;
	ok &= ASSERT_EQ(watchq_filter_build(&f, &u, size_of(1)), -EINVAL,
			"info_filter outside info_mask");
	for (bit = 0; bit < 6; bit++) {
		u = make(1);
		u.f[0].info_mask = 1u << bit;
		ok &= ASSERT_EQ(watchq_filter_build(&f, &u, size_of(1)), -EINVAL,
				"info_mask covers the length");
	}
	u = make(2);
	ok &= ASSERT_EQ(watchq_filter_build(&f, &u, size_of(1)), -EINVAL, "short");
	ok &= ASSERT_EQ(watchq_filter_build(&f, &u, size_of(3)), -EINVAL, "long");
	ok &= ASSERT_EQ(watchq_filter_build(&f, &u, 4), -EINVAL, "truncated header");
	ok &= ASSERT_EQ(watchq_filter_build(&f, NULL, 0), -EINVAL, "NULL");
	/* A rejected filter leaves the previous one in place. */
	ok &= ASSERT_EQ(f.nr, 42, "untouched on error");

	u = make(WATCHQ_MAX_FILTERS);
	ok &= ASSERT_OK(watchq_filter_build(&f, &u, size_of(WATCHQ_MAX_FILTERS)),
			"16 filters");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(filter_type_and_subtype_bits)
{
	static const unsigned int bits[] = { 0, 31, 32, 255 };
	struct watchq_filter f;
	bool ok = true;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		struct one_filter u = make(1);
		unsigned int s = bits[i];

		u.f[0].type = WATCHQ_TYPE_KEY_NOTIFY;
		set_subtype(&u.f[0], s);
		if (!ASSERT_OK(watchq_filter_build(&f, &u, size_of(1)), "build"))
			return TEST_FAIL;
		ok &= ASSERT_TRUE(watchq_filter_match(&f, 1, s, 2), "its subtype passes");
		ok &= ASSERT_FALSE(watchq_filter_match(&f, 1, (s + 1) & 0xff, 2),
				   "the next subtype is dropped");
		ok &= ASSERT_FALSE(watchq_filter_match(&f, 1, (s - 1) & 0xff, 2),
				   "the previous subtype is dropped");
		ok &= ASSERT_FALSE(watchq_filter_match(&f, 2, s, 2), "another type is dropped");
		ok &= ASSERT_FALSE(watchq_filter_match(&f, 0, s, 2), "META is dropped");
	}
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(filter_info_mask_and_watch_id)
{
	struct one_filter u = make(2);
	struct watchq_filter f;
	bool ok = true;

	/* Entry 0: key records from watch id 5 only.  Entry 1: mount records
	 * with IN_SUBTREE clear. */
	u.f[0].type = WATCHQ_TYPE_KEY_NOTIFY;
	memset(u.f[0].subtype_filter, 0xff, sizeof(u.f[0].subtype_filter));
	u.f[0].info_mask = WATCHQ_INFO_ID;
	u.f[0].info_filter = 5 << WATCHQ_INFO_ID__SHIFT;
	u.f[1].type = WATCHQ_TYPE_MOUNT_NOTIFY;
	memset(u.f[1].subtype_filter, 0xff, sizeof(u.f[1].subtype_filter));
	u.f[1].info_mask = WATCHQ_NOTIFY_MOUNT_IN_SUBTREE;
	u.f[1].info_filter = 0;
	if (!ASSERT_OK(watchq_filter_build(&f, &u, size_of(2)), "build"))
		return TEST_FAIL;
	ok &= ASSERT_TRUE(watchq_filter_match(&f, 1, 3, WATCHQ_INFO(2, 5, 0)), "id 5");
	ok &= ASSERT_FALSE(watchq_filter_match(&f, 1, 3, WATCHQ_INFO(2, 4, 0)), "id 4");
	ok &= ASSERT_FALSE(watchq_filter_match(&f, 1, 3, WATCHQ_INFO(2, 0x85, 0)), "id 0x85");
	ok &= ASSERT_TRUE(watchq_filter_match(&f, 4, 0, WATCHQ_INFO(3, 9, 0)), "on the mount");
	ok &= ASSERT_TRUE(watchq_filter_match(&f, 4, 0, WATCHQ_INFO(3, 9,
				WATCHQ_NOTIFY_MOUNT_IS_NOW_RO)), "other flags ignored");
	ok &= ASSERT_FALSE(watchq_filter_match(&f, 4, 0, WATCHQ_INFO(3, 9,
				WATCHQ_NOTIFY_MOUNT_IN_SUBTREE)), "in subtree dropped");
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(filter_unknown_types_and_none)
{
	struct one_filter u = make(1);
	struct watchq_filter f;
	bool ok = true;

	u.f[0].type = WATCHQ_TYPE___NR;
	memset(u.f[0].subtype_filter, 0xff, sizeof(u.f[0].subtype_filter));
	ok &= ASSERT_OK(watchq_filter_build(&f, &u, size_of(1)), "unknown type accepted");
	ok &= ASSERT_EQ(f.nr, 0, "and ignored");
	ok &= ASSERT_FALSE(watchq_filter_match(&f, WATCHQ_TYPE___NR, 0, 2),
			   "a set of only unknown types drops everything");
	ok &= ASSERT_FALSE(watchq_filter_match(&f, 1, 0, 2), "key dropped too");
	ok &= ASSERT_TRUE(watchq_filter_match(NULL, 1, 0, 2), "no filter passes keys");
	ok &= ASSERT_TRUE(watchq_filter_match(NULL, 0, 1, 2), "and removals");
	ok &= ASSERT_TRUE(watchq_filter_match(NULL, 0xffffff, 0xff, 0xffffffff),
			  "and anything");
	return ok ? TEST_PASS : TEST_FAIL;
}
