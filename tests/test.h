/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal test harness in the style of the kernel's BPF selftests: a test
 * is a function registered by WATCHQ_TEST() in its own file (the linker
 * gathers them, so adding one touches one file); assertions are expressions
 * that print what was expected and what came, and return whether it held.
 */
#ifndef WATCHQ_TEST_H
#define WATCHQ_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TEST_PASS	0
#define TEST_FAIL	1
#define TEST_SKIP	77

struct watchq_test {
	const char *name;
	int (*fn)(void);
	unsigned int timeout;	/* seconds, 0 for the default */
	const char *file;	/* tests run in file and line order */
	int line;
};

#define WATCHQ_TEST_TIMEOUT(tname, secs)					\
	static int tname(void);						\
	static const struct watchq_test watchq_test_##tname		\
	__attribute__((used, section("watchq_tests"), aligned(8))) =	\
		{ #tname, tname, secs, __FILE__, __LINE__ };		\
	static int tname(void)

#define WATCHQ_TEST(tname) WATCHQ_TEST_TIMEOUT(tname, 0)

/* A skip says why, on the line the runner prints. */
extern char test_skip_reason[256];
#define SKIP(...) ({ snprintf(test_skip_reason, sizeof(test_skip_reason), \
			      __VA_ARGS__); TEST_SKIP; })

#define TEST_LOG(fmt, ...) fprintf(stderr, "    %s:%d: " fmt "\n",	\
				   __FILE__, __LINE__, ##__VA_ARGS__)

#define ASSERT_EQ(actual, expected, what) ({				\
	long long __a = (long long)(actual), __e = (long long)(expected); \
	bool __ok = __a == __e;						\
	if (!__ok)							\
		TEST_LOG("%s: expected %lld (0x%llx), got %lld (0x%llx)", \
			 what, __e, (unsigned long long)__e, __a,	\
			 (unsigned long long)__a);			\
	__ok; })

#define ASSERT_TRUE(cond, what) ({					\
	bool __ok = !!(cond);						\
	if (!__ok)							\
		TEST_LOG("%s: expected true: %s", what, #cond);		\
	__ok; })

#define ASSERT_FALSE(cond, what) ASSERT_TRUE(!(cond), what)

/* A call that returns 0 or -errno (or sets errno and returns -1). */
#define ASSERT_OK(res, what) ({						\
	long __r = (long)(res);						\
	bool __ok = __r == 0;						\
	if (!__ok)							\
		TEST_LOG("%s: expected success, got %ld (%s)", what, __r, \
			 strerror(__r < 0 && __r != -1 ? (int)-__r : errno)); \
	__ok; })

#define ASSERT_MEM_EQ(actual, expected, len, what) ({			\
	bool __ok = !memcmp(actual, expected, len);			\
	if (!__ok)							\
		test_dump_diff(__FILE__, __LINE__, what, actual, expected, len); \
	__ok; })

void test_dump_diff(const char *file, int line, const char *what,
		    const void *actual, const void *expected, size_t len);

#endif /* WATCHQ_TEST_H */
