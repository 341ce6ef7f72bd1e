// SPDX-License-Identifier: GPL-2.0
/*
 * Runs every registered test in its own child, with a timeout, and prints one
 * line per test and the closing line "N passed, M failed, K skipped".
 * Arguments, if any, select tests whose names contain one of them.
 * Exit status: 0 all passed or skipped, 1 a failure, 2 no test ran.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define DEFAULT_TIMEOUT 60

char test_skip_reason[256];

extern const struct watchq_test __start_watchq_tests[];
extern const struct watchq_test __stop_watchq_tests[];

void test_dump_diff(const char *file, int line, const char *what,
		    const void *actual, const void *expected, size_t len)
{
	const unsigned char *a = actual, *e = expected;
	size_t i;

	fprintf(stderr, "    %s:%d: %s: memory differs\n", file, line, what);
	for (i = 0; i < len; i += 8) {
		size_t n = len - i < 8 ? len - i : 8, j;

		if (!memcmp(a + i, e + i, n))
			continue;
		fprintf(stderr, "      +%-5zu expected", i);
		for (j = 0; j < n; j++)
			fprintf(stderr, " %02x", e[i + j]);
		fprintf(stderr, "  got");
		for (j = 0; j < n; j++)
			fprintf(stderr, " %02x", a[i + j]);
		fputc('\n', stderr);
	}
}

/* Each argument selects the tests whose names hold it; "^x" those whose
 * names start with x ("^mount_" is not "sb_remount_ro"). */
static bool selected(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++)
		if (argv[i][0] == '^' ? !strncmp(name, argv[i] + 1, strlen(argv[i] + 1))
				      : !!strstr(name, argv[i]))
			return true;
	return false;
}

/* Returns TEST_PASS, TEST_FAIL or TEST_SKIP; a crash or timeout fails. */
static int run_one(const struct watchq_test *t, char *reason, size_t rlen)
{
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	reason[0] = '\0';
	/* Close-on-exec: a daemon a test starts must not hold the pipe open. */
	if (pipe2(pipefd, O_CLOEXEC))
		return TEST_FAIL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return TEST_FAIL;
	if (pid == 0) {
		int rc;

		close(pipefd[0]);
		setpgid(0, 0);
		alarm(t->timeout ? t->timeout : DEFAULT_TIMEOUT);
		rc = t->fn();
		if (rc == TEST_SKIP && write(pipefd[1], test_skip_reason,
					     strlen(test_skip_reason)) < 0)
			rc = TEST_FAIL;
		fflush(NULL);
		_exit(rc);
	}
	close(pipefd[1]);
	n = read(pipefd[0], reason, rlen - 1);
	reason[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return TEST_FAIL;
	/* Whatever the test left running (a daemon it did not stop) goes. */
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status)) {
		snprintf(reason, rlen, "%s", WTERMSIG(status) == SIGALRM ?
			 "timed out" : strsignal(WTERMSIG(status)));
		return TEST_FAIL;
	}
	switch (WEXITSTATUS(status)) {
	case TEST_PASS:
		return TEST_PASS;
	case TEST_SKIP:
		return TEST_SKIP;
	default:
		return TEST_FAIL;
	}
}

/* The linker keeps no useful order; run them as they are written. */
static int by_place(const void *a, const void *b)
{
	const struct watchq_test *x = *(const struct watchq_test * const *)a;
	const struct watchq_test *y = *(const struct watchq_test * const *)b;
	int c = strcmp(x->file, y->file);

	return c ? c : x->line - y->line;
}

int main(int argc, char **argv)
{
	size_t i, nr = __stop_watchq_tests - __start_watchq_tests;
	const struct watchq_test **order = calloc(nr ? nr : 1, sizeof(*order));
	int passed = 0, failed = 0, skipped = 0;
	char reason[256];

	if (!order)
		return 2;
	for (i = 0; i < nr; i++)
		order[i] = &__start_watchq_tests[i];
	qsort(order, nr, sizeof(*order), by_place);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < nr; i++) {
		const struct watchq_test *t = order[i];

		if (!selected(t->name, argc, argv))
			continue;
		switch (run_one(t, reason, sizeof(reason))) {
		case TEST_PASS:
			passed++;
			printf("ok %s\n", t->name);
			break;
		case TEST_SKIP:
			skipped++;
			printf("skip %s: %s\n", t->name, reason[0] ? reason : "no reason given");
			break;
		default:
			failed++;
			printf("not ok %s%s%s\n", t->name, reason[0] ? ": " : "", reason);
			break;
		}
	}
	free(order);
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	if (failed)
		return 1;
	return passed || skipped ? 0 : 2;
}
