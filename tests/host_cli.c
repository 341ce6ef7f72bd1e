// SPDX-License-Identifier: GPL-2.0
/* The watchq tool against a real daemon: its lines, exit status and errors. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include "host.h"

struct cli {
	pid_t pid;
	int out, err;		/* read ends */
};

static bool cli_start(struct cli *c, const char *const *args)
{
	const char *argv[16];
	char bin[256];
	int o[2], e[2], i = 0;

	snprintf(bin, sizeof(bin), "%s/watchq", host_build_dir());
	argv[i++] = bin;
	while (*args && i < 15)
		argv[i++] = *args++;
	argv[i] = NULL;
	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC))
		return false;
	fflush(NULL);
	c->pid = fork();
	if (c->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(bin, (char **)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	c->out = o[0];
	c->err = e[0];
	return c->pid > 0;
}

/* Read @fd until it holds @want or closes or @ms pass; NUL-terminated. */
static size_t read_until(int fd, char *buf, size_t size, const char *want, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	buf[0] = '\0';
	while (len + 1 < size && (!want || !strstr(buf, want)) && poll(&p, 1, ms) == 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return len;
}

static int cli_wait(struct cli *c)
{
	int st;

	waitpid(c->pid, &st, 0);
	close(c->out);
	close(c->err);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

WATCHQ_TEST(cli_json_lines_and_count)
{
	struct host_daemon hd;
	struct cli c;
	char spec[64], out[4096], err[1024], want[1024];
	__s32 key;
	bool ok;

	HOST_REQUIRE();
	host_new_session();
	key = host_add_key("user", "cli", "x", KEY_SPEC_SESSION_KEYRING);
	if (key < 0 || !host_daemon_start(&hd, NULL))
		return TEST_FAIL;
	snprintf(spec, sizeof(spec), "key:%d=5", key);
	ok = ASSERT_TRUE(cli_start(&c, (const char *[]){ "--json", "--count", "3", spec, NULL }),
			 "start") &&
	     ASSERT_TRUE(read_until(c.err, err, sizeof(err), "# ready\n", 5000) &&
			 strstr(err, "# ready\n"), "# ready on stderr");
	if (ok) {
		host_keyctl(KEYCTL_UPDATE, key, (unsigned long)"y", 1, 0);
		host_keyctl(KEYCTL_SET_TIMEOUT, key, 100, 0, 0);
		host_keyctl(KEYCTL_REVOKE, key, 0, 0, 0);
		read_until(c.out, out, sizeof(out), NULL, 5000);
		snprintf(want, sizeof(want),
			 "{\"type\":\"key\",\"subtype\":\"updated\",\"watch_id\":5,\"key\":%d,\"aux\":0}\n"
			 "{\"type\":\"key\",\"subtype\":\"setattr\",\"watch_id\":5,\"key\":%d,\"aux\":0}\n"
			 "{\"type\":\"key\",\"subtype\":\"revoked\",\"watch_id\":5,\"key\":%d,\"aux\":0}\n",
			 key, key, key);
		ok = ASSERT_TRUE(!strcmp(out, want), "exact lines") &
		     ASSERT_EQ(cli_wait(&c), 0, "exit 0 after --count");
		if (strcmp(out, want))
			TEST_LOG("got:\n%s", out);
	}
	ok &= host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(cli_text_line_timeout_and_daemon_gone)
{
	struct host_daemon hd;
	struct cli c;
	char spec[64], out[1024], err[1024], want[256];
	__s32 key;
	bool ok;

	HOST_REQUIRE();
	host_new_session();
	key = host_add_key("user", "cli", "x", KEY_SPEC_SESSION_KEYRING);
	if (key < 0 || !host_daemon_start(&hd, NULL))
		return TEST_FAIL;
	snprintf(spec, sizeof(spec), "key:%d", key);
	/* Text, then the timeout's exit status 3. */
	ok = ASSERT_TRUE(cli_start(&c, (const char *[]){ "--timeout", "1", spec, NULL }), "start") &&
	     ASSERT_TRUE(read_until(c.err, err, sizeof(err), "# ready\n", 5000), "ready");
	if (ok) {
		host_keyctl(KEYCTL_UPDATE, key, (unsigned long)"y", 1, 0);
		read_until(c.out, out, sizeof(out), "\n", 5000);
		snprintf(want, sizeof(want), "key %d updated aux=0 id=0\n", key);
		ok = ASSERT_TRUE(!strcmp(out, want), "text line") &
		     ASSERT_EQ(cli_wait(&c), 3, "exit 3 on timeout");
		if (strcmp(out, want))
			TEST_LOG("got: %s", out);
	}
	/* The daemon going away: a message and a non-zero exit. */
	ok &= ASSERT_TRUE(cli_start(&c, (const char *[]){ spec, NULL }), "start again") &&
	      ASSERT_TRUE(read_until(c.err, err, sizeof(err), "# ready\n", 5000), "ready");
	ok &= host_daemon_stop(&hd);
	if (ok) {
		read_until(c.err, err, sizeof(err), NULL, 5000);
		ok = ASSERT_EQ(cli_wait(&c), 1, "exit 1 when the daemon goes") &
		     ASSERT_TRUE(strstr(err, "watchq: ") != NULL, "with a message");
	}
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(cli_bad_arguments_and_refusals)
{
	struct host_daemon hd;
	struct cli c;
	char err[1024];
	bool ok;

	HOST_REQUIRE();
	if (!host_daemon_start(&hd, NULL))
		return TEST_FAIL;
	ok = ASSERT_TRUE(cli_start(&c, (const char *[]){ "key:banana", NULL }), "start") &&
	     (read_until(c.err, err, sizeof(err), NULL, 5000), ASSERT_EQ(cli_wait(&c), 2, "exit 2"));
	ok &= ASSERT_TRUE(cli_start(&c, (const char *[]){ "--pages", "32", "key:@s", NULL }),
			  "start") &&
	      (read_until(c.err, err, sizeof(err), NULL, 5000),
	       ASSERT_EQ(cli_wait(&c), 1, "32 pages refused by the daemon: exit 1")) &&
	      ASSERT_TRUE(strstr(err, "Invalid argument") != NULL, "says why");
	ok &= ASSERT_TRUE(cli_start(&c, (const char *[]){ "key:2147483000", NULL }), "start") &&
	      (read_until(c.err, err, sizeof(err), NULL, 5000),
	       ASSERT_EQ(cli_wait(&c), 1, "missing key: exit 1")) &&
	      ASSERT_TRUE(strstr(err, "key:2147483000") != NULL, "names the watch");
	ok &= host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}
