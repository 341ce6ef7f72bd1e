// SPDX-License-Identifier: GPL-2.0
/*
 * Key notifications end to end: real key operations by another process
 * (uid 65534 where permissions matter), the records a watcher's ring gets,
 * compared exactly (type, subtype, key, aux, watch id, order) with the rows
 * of the kernel's own implementation (shared/keys.md).
 */
#include <linux/keyctl.h>

#include "host.h"

#define NOBODY 65534

struct op {
	__s32 ring, ring2, key;
	__s32 out, out2;
	long ret, ret2;
};

/* Sync on the sentinel and compare what came before it. */
#define EXPECT_RECS(f, what, ...) ({					\
	struct host_rec __want[] = { __VA_ARGS__ }, __got[32];		\
	int __n;							\
	host_sync((f)->q, (f)->sentinel, __got, N(__got), &__n, 5000) && \
	host_expect(what, __got, __n, __want, N(__want)); })

#define EXPECT_NONE(f, what) ({						\
	struct host_rec __got[32];					\
	int __n;							\
	host_sync((f)->q, (f)->sentinel, __got, N(__got), &__n, 5000) && \
	host_expect(what, __got, __n, NULL, 0); })

static __s32 new_ring(const char *name, __s32 in)
{
	__s32 r = host_add_key("keyring", name, NULL, in);

	return r > 0 && host_open_perms(r) ? r : -1;
}

static __s32 new_key(const char *name, __s32 in)
{
	__s32 k = host_add_key("user", name, "payload", in);

	return k > 0 && host_open_perms(k) ? k : -1;
}

#define SETUP(f, op) do {						\
	HOST_REQUIRE();							\
	if (!host_fix_setup(f) || !((op) = host_shared(sizeof(*(op))))) { \
		host_fix_teardown(f);					\
		return TEST_FAIL;					\
	}								\
} while (0)

/*
 * A key scenario: a daemon, this process's queue and sentinel, shared
 * memory for the child's results (@o); the body returns whether every
 * assertion held.
 */
#define KEY_TEST(name)							\
	static bool name##_body(struct host_fix *f, struct op *o);	\
	WATCHQ_TEST(name)						\
	{								\
		struct host_fix f;					\
		struct op *o;						\
		bool ok;						\
									\
		SETUP(&f, o);						\
		ok = name##_body(&f, o);				\
		host_fix_teardown(&f);					\
		return ok ? TEST_PASS : TEST_FAIL;			\
	}								\
	static bool name##_body(struct host_fix *f, struct op *o)

static int add_user_key(void *arg)
{
	struct op *o = arg;

	o->out = host_add_key("user", "k", "one", o->ring);
	o->out2 = host_add_key("user", "k", "two", o->ring);
	return o->out > 0 && o->out2 > 0 ? 0 : 1;
}

KEY_TEST(keys_add_key_creates_then_updates)
{
	o->ring = new_ring("r", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->ring, 1), "watch ring") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, add_user_key, o), 0, "add_key x2") &&
	       ASSERT_EQ(o->out2, o->out, "second add_key updated the first key") &&
	       /* The update posts UPDATED on the key (unwatched) and nothing on
	      * the ring. */
	       EXPECT_RECS(f, "add_key create, then update",
			 KEY_REC(LINKED, o->ring, o->out, 1));
}

static int update_by_add(void *arg)
{
	struct op *o = arg;

	return host_add_key("user", "k", "again", o->ring) == o->key ? 0 : 1;
}

KEY_TEST(keys_add_key_update_posts_updated_only)
{
	o->ring = new_ring("r", KEY_SPEC_SESSION_KEYRING);
	o->key = new_key("k", o->ring);
	return ASSERT_OK(watchq_watch_key(f->q, o->ring, 1), "watch ring") &&
	       ASSERT_OK(watchq_watch_key(f->q, o->key, 2), "watch key") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, update_by_add, o), 0, "add_key") &&
	       EXPECT_RECS(f, "add_key of an existing key",
			 KEY_REC(UPDATED, o->key, 0, 2));
}

static int add_keyring_twice(void *arg)
{
	struct op *o = arg;

	o->out = host_add_key("keyring", "sub", NULL, o->ring);
	o->out2 = host_add_key("keyring", "sub", NULL, o->ring);
	return o->out > 0 && o->out2 > 0 && o->out != o->out2 ? 0 : 1;
}

KEY_TEST(keys_add_key_replaces_link_without_unlinked)
{
	o->ring = new_ring("r", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->ring, 3), "watch ring") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, add_keyring_twice, o), 0, "add_key x2") &&
	       EXPECT_RECS(f, "a same-description keyring displaces the link",
			 KEY_REC(LINKED, o->ring, o->out, 3),
			 KEY_REC(LINKED, o->ring, o->out2, 3));
}

static int do_update(void *arg)
{
	struct op *o = arg;

	return host_keyctl(KEYCTL_UPDATE, o->key, (unsigned long)"new", 3, 0) ? 1 : 0;
}

KEY_TEST(keys_update)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 4), "watch") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, do_update, o), 0, "update") &&
	       EXPECT_RECS(f, "KEYCTL_UPDATE", KEY_REC(UPDATED, o->key, 0, 4));
}

static int link_unlink(void *arg)
{
	struct op *o = arg;

	return host_keyctl(KEYCTL_LINK, o->key, o->ring, 0, 0) ||
	       host_keyctl(KEYCTL_UNLINK, o->key, o->ring, 0, 0);
}

KEY_TEST(keys_link_and_unlink)
{
	o->ring = new_ring("r", KEY_SPEC_SESSION_KEYRING);
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->ring, 5), "watch ring") &&
	       ASSERT_OK(watchq_watch_key(f->q, o->key, 6), "watch key") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, link_unlink, o), 0, "link, unlink") &&
	       /* A watch on the key sees nothing: linking changes the ring. */
	       EXPECT_RECS(f, "KEYCTL_LINK then KEYCTL_UNLINK",
			 KEY_REC(LINKED, o->ring, o->key, 5),
			 KEY_REC(UNLINKED, o->ring, o->key, 5));
}

static int do_move(void *arg)
{
	struct op *o = arg;

	return host_keyctl(KEYCTL_MOVE, o->key, o->ring, o->ring2, 0) ? 1 : 0;
}

KEY_TEST(keys_move)
{
	o->ring = new_ring("from", KEY_SPEC_SESSION_KEYRING);
	o->ring2 = new_ring("to", KEY_SPEC_SESSION_KEYRING);
	o->key = new_key("k", o->ring);
	return ASSERT_OK(watchq_watch_key(f->q, o->ring, 1), "watch from") &&
	       ASSERT_OK(watchq_watch_key(f->q, o->ring2, 2), "watch to") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, do_move, o), 0, "move") &&
	       EXPECT_RECS(f, "KEYCTL_MOVE",
			 KEY_REC(UNLINKED, o->ring, o->key, 1),
			 KEY_REC(LINKED, o->ring2, o->key, 2));
}

static int clear_twice(void *arg)
{
	struct op *o = arg;

	return host_keyctl(KEYCTL_CLEAR, o->ring, 0, 0, 0) ||
	       host_keyctl(KEYCTL_CLEAR, o->ring, 0, 0, 0);
}

KEY_TEST(keys_clear_even_when_empty)
{
	o->ring = new_ring("r", KEY_SPEC_SESSION_KEYRING);
	new_key("a", o->ring);
	new_key("b", o->ring);
	return ASSERT_OK(watchq_watch_key(f->q, o->ring, 8), "watch") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, clear_twice, o), 0, "clear x2") &&
	       EXPECT_RECS(f, "KEYCTL_CLEAR twice",
			 KEY_REC(CLEARED, o->ring, 0, 8),
			 KEY_REC(CLEARED, o->ring, 0, 8));
}

static int revoke_twice(void *arg)
{
	struct op *o = arg;

	o->ret = host_keyctl(KEYCTL_REVOKE, o->key, 0, 0, 0);
	o->ret2 = host_keyctl(KEYCTL_REVOKE, o->key, 0, 0, 0);
	return 0;
}

KEY_TEST(keys_revoke_first_time_only)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 9), "watch") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, revoke_twice, o), 0, "revoke x2") &&
	       ASSERT_EQ(o->ret, 0, "first revoke") &&
	       ASSERT_EQ(o->ret2, -EKEYREVOKED, "second revoke") &&
	       EXPECT_RECS(f, "KEYCTL_REVOKE twice", KEY_REC(REVOKED, o->key, 0, 9));
}

static int setperm(void *arg)
{
	struct op *o = arg;

	o->ret = host_keyctl(KEYCTL_SETPERM, o->key, 0x3f3f3f3f, 0, 0);
	return 0;
}

KEY_TEST(keys_setperm_only_by_owner)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 10), "watch") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, setperm, o), 0, "setperm as nobody") &&
	       ASSERT_EQ(o->ret, -EACCES, "not the owner: refused") &&
	       EXPECT_NONE(f, "a refused KEYCTL_SETPERM") &&
	       ASSERT_EQ(host_run_as(-1, -1, setperm, o), 0, "setperm as owner") &&
	       ASSERT_EQ(o->ret, 0, "the owner may") &&
	       EXPECT_RECS(f, "KEYCTL_SETPERM", KEY_REC(SETATTR, o->key, 0, 10));
}

static int chown_noop_then_real(void *arg)
{
	struct op *o = arg;

	o->ret = host_keyctl(KEYCTL_CHOWN, o->key, (unsigned long)-1, (unsigned long)-1, 0);
	o->ret2 = host_keyctl(KEYCTL_CHOWN, o->key, (unsigned long)-1, NOBODY, 0);
	return 0;
}

KEY_TEST(keys_chown)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 11), "watch") &&
	       ASSERT_EQ(host_run_as(-1, -1, chown_noop_then_real, o), 0, "chown") &&
	       ASSERT_EQ(o->ret, 0, "chown -1 -1") &&
	       ASSERT_EQ(o->ret2, 0, "chown -1 nobody") &&
	       EXPECT_RECS(f, "KEYCTL_CHOWN (-1,-1 posts nothing)",
			 KEY_REC(SETATTR, o->key, 0, 11));
}

static int timeout_and_restrict(void *arg)
{
	struct op *o = arg;

	return host_keyctl(KEYCTL_SET_TIMEOUT, o->key, 3600, 0, 0) ||
	       host_keyctl(KEYCTL_RESTRICT_KEYRING, o->ring, 0, 0, 0);
}

KEY_TEST(keys_set_timeout_and_restrict)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	o->ring = new_ring("r", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 12), "watch key") &&
	       ASSERT_OK(watchq_watch_key(f->q, o->ring, 13), "watch ring") &&
	       ASSERT_EQ(host_run_as(-1, -1, timeout_and_restrict, o), 0, "ops") &&
	       EXPECT_RECS(f, "KEYCTL_SET_TIMEOUT, KEYCTL_RESTRICT_KEYRING",
			 KEY_REC(SETATTR, o->key, 0, 12),
			 KEY_REC(SETATTR, o->ring, 0, 13));
}

static int search_into(void *arg)
{
	struct op *o = arg;

	o->ret = host_keyctl(KEYCTL_SEARCH, o->ring, (unsigned long)"user",
			     (unsigned long)"findme", o->ring2);
	return 0;
}

KEY_TEST(keys_search_with_destination)
{
	o->ring = new_ring("src", KEY_SPEC_SESSION_KEYRING);
	o->ring2 = new_ring("dst", KEY_SPEC_SESSION_KEYRING);
	o->key = new_key("findme", o->ring);
	return ASSERT_OK(watchq_watch_key(f->q, o->ring2, 14), "watch dst") &&
	       ASSERT_EQ(host_run_as(-1, -1, search_into, o), 0, "search") &&
	       ASSERT_EQ(o->ret, o->key, "found") &&
	       EXPECT_RECS(f, "KEYCTL_SEARCH with a destination",
			 KEY_REC(LINKED, o->ring2, o->key, 14));
}

static int invalidate_twice(void *arg)
{
	struct op *o = arg;

	o->ret = host_keyctl(KEYCTL_INVALIDATE, o->key, 0, 0, 0);
	o->ret2 = host_keyctl(KEYCTL_INVALIDATE, o->key, 0, 0, 0);
	return 0;
}

/* Records after the sentinel until one matching @want arrives. */
static bool expect_later(struct host_fix *f, struct host_rec want, int timeout_ms)
{
	struct host_rec got;
	int n = host_read(f->q, &got, 1, timeout_ms);

	if (!ASSERT_EQ(n, 1, "a record within the time"))
		return false;
	return host_expect("later record", &got, 1, &want, 1);
}

KEY_TEST(keys_invalidate_then_destroyed)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	/* The sentinel's sync could race the collector: sync first on
	 * nothing, then invalidate and wait for each record in turn. */
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 15), "watch") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, invalidate_twice, o), 0, "invalidate") &&
	       ASSERT_EQ(o->ret, 0, "first invalidate") &&
	       ASSERT_TRUE(o->ret2 < 0, "second invalidate fails") &&
	       expect_later(f, KEY_REC(INVALIDATED, o->key, 0, 15), 5000) &&
	       /* An invalidated key is collected at once: the watch ends. */
	       expect_later(f, REMOVAL_REC(o->key, 15), 5000) &&
	       EXPECT_NONE(f, "nothing more");
}

static int unlink_last(void *arg)
{
	struct op *o = arg;

	return host_keyctl(KEYCTL_UNLINK, o->key, o->ring, 0, 0) ? 1 : 0;
}

KEY_TEST(keys_destroyed_key_posts_removal)
{
	o->ring = new_ring("r", KEY_SPEC_SESSION_KEYRING);
	o->key = new_key("k", o->ring);
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 16), "watch") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, unlink_last, o), 0, "unlink") &&
	       expect_later(f, REMOVAL_REC(o->key, 16), 5000) &&
	       EXPECT_NONE(f, "nothing more") &&
	       ASSERT_EQ(watchq_unwatch_key(f->q, o->key, 0), -EBADSLT, "the watch is gone");
}

KEY_TEST(keys_unwatch_posts_removal)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	return ASSERT_OK(watchq_watch_key(f->q, o->key, 17), "watch") &&
	       ASSERT_EQ(watchq_watch_key(f->q, o->key, 18), -EBUSY, "twice") &&
	       ASSERT_OK(watchq_unwatch_key(f->q, o->key, 0), "unwatch") &&
	       ASSERT_EQ(watchq_unwatch_key(f->q, o->key, 0), -EBADSLT, "unwatch again") &&
	       ASSERT_EQ(host_run_as(NOBODY, NOBODY, do_update, o), 0, "update") &&
	       EXPECT_RECS(f, "removal, then nothing from the key",
			 REMOVAL_REC(o->key, 17));
}

KEY_TEST(keys_watch_errors)
{
	o->key = new_key("k", KEY_SPEC_SESSION_KEYRING);
	host_keyctl(KEYCTL_UNLINK, o->key, KEY_SPEC_SESSION_KEYRING, 0, 0);
	return ASSERT_EQ(watchq_watch_key(f->q, 0, 1), -EINVAL, "key 0") &&
	       ASSERT_EQ(watchq_watch_key(f->q, f->sentinel, 256), -EINVAL, "watch id 256") &&
	       ASSERT_EQ(watchq_watch_key(f->q, 0x7ffffff0, 1), -ENOKEY, "no such key");
}
