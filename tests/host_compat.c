// SPDX-License-Identifier: GPL-2.0
/*
 * The mainline pipe ABI through libwatchq-compat.so: Debian's own
 * /bin/keyctl, unmodified, under LD_PRELOAD, against a real daemon; exact
 * output lines, exit codes and error messages, as on a kernel with
 * CONFIG_WATCH_QUEUE.  Then tests/compat_pipe.c, a program of ours using the
 * pipe ABI directly.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/keyctl.h>

#include "host.h"

#define KEYCTL	"/bin/keyctl"
#define NOBODY	65534

#define build_dir host_build_dir

static char lib_path[256];

/* Root, the daemon, keyutils and the library; says why not. */
static int compat_require(void)
{
	int r = host_require();

	if (r != TEST_PASS)
		return r;
	if (access(KEYCTL, X_OK))
		return SKIP("no %s: apt-get install keyutils", KEYCTL);
	snprintf(lib_path, sizeof(lib_path), "%s/libwatchq-compat.so", build_dir());
	if (access(lib_path, R_OK))
		return SKIP("libwatchq-compat.so not built in %.200s", build_dir());
	return TEST_PASS;
}

#define COMPAT_REQUIRE() do {						\
	int __r = compat_require();					\
	if (__r != TEST_PASS)						\
		return __r;						\
} while (0)

struct proc {
	pid_t pid;
	char dir[64];		/* its stdout and stderr land here */
};

/* The process's directory, made before it starts so files can go in. */
static bool proc_mkdir(struct proc *p)
{
	snprintf(p->dir, sizeof(p->dir), "/tmp/watchq-compat.XXXXXX");
	return mkdtemp(p->dir) != NULL;
}

/* Write @text to @name in the process's directory. */
static bool proc_put(const struct proc *p, const char *name, const char *text)
{
	char path[128];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	f = fopen(path, "w");
	if (!f)
		return false;
	ok = fputs(text, f) >= 0;
	return !fclose(f) && ok;
}

/* Start @argv (NULL-terminated) in its directory, with the library
 * preloaded unless @preload is false, stdout and stderr to files there. */
static bool proc_start(struct proc *p, bool preload, const char *const *argv)
{
	if (!p->dir[0] && !proc_mkdir(p))
		return false;
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0)
		return false;
	if (p->pid == 0) {
		char path[128];
		int fd;

		if (chdir(p->dir))
			_exit(126);
		fd = open("out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		close(fd);
		fd = open("err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		close(fd);
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		close(fd);
		if (preload)
			setenv("LD_PRELOAD", lib_path, 1);
		else
			unsetenv("LD_PRELOAD");
		snprintf(path, sizeof(path), "%s", argv[0]);
		execv(path, (char **)argv);
		_exit(127);
	}
	return true;
}

/* Its exit status (128+signal if killed), waiting up to @ms. */
static int proc_wait(struct proc *p, int ms)
{
	int st, i;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	TEST_LOG("%s did not exit within %d ms", p->dir, ms);
	return -1;
}

/* The contents of @name in the process's directory ("" if none). */
static const char *proc_file(const struct proc *p, const char *name)
{
	static char buf[4][4096];
	static int nr;
	char path[128];
	char *b = buf[nr++ % 4];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, b, sizeof(buf[0]) - 1);
		close(fd);
	}
	b[n > 0 ? n : 0] = '\0';
	return b;
}

static void proc_clean(struct proc *p)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
	if (system(cmd)) {
		/* A temporary directory left behind: harmless. */
	}
}

static bool expect_text(const char *what, const char *got, const char *want)
{
	if (!strcmp(got, want))
		return true;
	TEST_LOG("%s: expected:\n%s--- got:\n%s---", what, want, got);
	return false;
}

/* Wait until @p's stdout has @n lines; false on timeout. */
static bool wait_lines(const struct proc *p, int n, int ms)
{
	int i, lines;
	const char *s;

	for (i = 0; i < ms / 20; i++, usleep(20000)) {
		for (lines = 0, s = proc_file(p, "out"); *s; s++)
			lines += *s == '\n';
		if (lines >= n)
			return true;
	}
	TEST_LOG("only %d lines of %d:\n%s", lines, n, proc_file(p, "out"));
	return false;
}

/* keyctl watch has its watch once it sleeps in poll() (x86_64 nr 7). */
static bool wait_polling(pid_t pid, int ms)
{
	char path[64], buf[64];
	int i, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	for (i = 0; i < ms / 10; i++, usleep(10000)) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 2 && !strncmp(buf, "7 ", 2))
			return true;
	}
	TEST_LOG("keyctl watch did not reach poll() within %d ms", ms);
	return false;
}

struct ops {
	__s32 session, ring, key;
	long ret;
};

#define SETUP(hd, o) do {						\
	COMPAT_REQUIRE();						\
	if (host_new_session() < 0 ||					\
	    !host_daemon_start(hd, "-v", NULL) ||			\
	    !((o) = host_shared(sizeof(*(o))))) {			\
		host_daemon_stop(hd);					\
		return TEST_FAIL;					\
	}								\
	(o)->session = (__s32)host_keyctl(KEYCTL_GET_KEYRING_ID,	\
					  KEY_SPEC_SESSION_KEYRING, 0, 0, 0); \
} while (0)

WATCHQ_TEST(compat_supports_notifications)
{
	const char *argv[] = { KEYCTL, "supports", NULL };
	struct host_daemon hd;
	struct proc with = { 0 }, without = { 0 };
	struct ops *o;
	bool ok;

	SETUP(&hd, o);
	ok = ASSERT_TRUE(proc_start(&with, true, argv), "start") &&
	     ASSERT_EQ(proc_wait(&with, 5000), 0, "keyctl supports, preloaded") &&
	     ASSERT_TRUE(strstr(proc_file(&with, "out"), "have_notify=1\n"),
			 "notifications advertised") &&
	     ASSERT_TRUE(proc_start(&without, false, argv), "start") &&
	     ASSERT_EQ(proc_wait(&without, 5000), 0, "keyctl supports, plain") &&
	     ASSERT_TRUE(strstr(proc_file(&without, "out"), "have_notify=0\n"),
			 "nothing changes without the library");
	proc_clean(&with);
	proc_clean(&without);
	host_daemon_stop(&hd);
	(void)o;
	return ok ? TEST_PASS : TEST_FAIL;
}

WATCHQ_TEST(compat_no_daemon_is_enopkg)
{
	const char *watch[] = { KEYCTL, "watch", "@s", NULL };
	const char *sup[] = { KEYCTL, "supports", NULL };
	struct proc w = { 0 }, s = { 0 };
	bool ok;

	COMPAT_REQUIRE();
	/* The kernel's own answers: this kernel has no CONFIG_WATCH_QUEUE. */
	setenv("WATCHQ_SOCKET", "/nonexistent/watchq.sock", 1);
	ok = ASSERT_TRUE(proc_start(&w, true, watch), "start") &&
	     ASSERT_EQ(proc_wait(&w, 5000), 1, "keyctl watch exit code") &&
	     expect_text("keyctl watch stderr", proc_file(&w, "err"),
			 "pipe2: Package not installed\n") &&
	     ASSERT_TRUE(proc_start(&s, true, sup), "start") &&
	     ASSERT_EQ(proc_wait(&s, 5000), 0, "keyctl supports") &&
	     ASSERT_TRUE(strstr(proc_file(&s, "out"), "have_notify=0\n"),
			 "not advertised without a daemon");
	proc_clean(&w);
	proc_clean(&s);
	return ok ? TEST_PASS : TEST_FAIL;
}

/* Another process changes the watched keyring, in keys.md's rows. */
static int ring_ops(void *arg)
{
	struct ops *o = arg;
	__s32 s = o->session;
	long r[9];
	int i;

	o->key = host_add_key("user", "k", "v1", s);			/* link */
	r[0] = o->key < 0 ? o->key : 0;
	r[1] = host_add_key("user", "k", "v2", s) == o->key ? 0 : -1;	/* (on the key) */
	r[2] = host_keyctl(KEYCTL_UPDATE, o->key, (unsigned long)"v3", 2, 0);
	r[3] = host_keyctl(KEYCTL_UNLINK, o->ring, s, 0, 0);		/* unlk */
	r[4] = host_keyctl(KEYCTL_LINK, o->ring, s, 0, 0);		/* link */
	r[5] = host_keyctl(KEYCTL_CHOWN, s, (unsigned long)-1, 0, 0);	/* attr */
	r[6] = host_keyctl(KEYCTL_SET_TIMEOUT, s, 3600, 0, 0);		/* attr */
	r[7] = host_keyctl(KEYCTL_SET_TIMEOUT, s, 0, 0, 0);		/* attr */
	r[8] = host_keyctl(KEYCTL_CLEAR, s, 0, 0, 0);			/* clr */
	for (i = 0; i < 9; i++)
		if (r[i]) {
			TEST_LOG("operation %d: %ld", i, r[i]);
			return 1;
		}
	return 0;
}

WATCHQ_TEST(compat_keyctl_watch_keyring)
{
	const char *argv[] = { KEYCTL, "watch", "@s", NULL };
	char want[1024];
	struct host_daemon hd;
	struct proc w = { 0 };
	struct ops *o;
	bool ok;

	SETUP(&hd, o);
	o->ring = host_add_key("keyring", "r", NULL, o->session);
	host_open_perms(o->ring);	/* relinked once no longer possessed */
	ok = ASSERT_TRUE(proc_start(&w, true, argv), "start keyctl watch") &&
	     wait_polling(w.pid, 5000) &&
	     ASSERT_EQ(host_run_as(-1, -1, ring_ops, o), 0, "key operations") &&
	     wait_lines(&w, 7, 5000);
	kill(w.pid, SIGTERM);
	snprintf(want, sizeof(want),
		 "%d link %d\n%d unlk %d\n%d link %d\n%d attr\n%d attr\n%d attr\n"
		 "%d clr\nMonitoring terminated\n",
		 o->session, o->key, o->session, o->ring, o->session, o->ring,
		 o->session, o->session, o->session, o->session);
	ok = ASSERT_EQ(proc_wait(&w, 5000), 0, "keyctl watch exit code") && ok &&
	     expect_text("keyctl watch @s", proc_file(&w, "out"), want) &&
	     expect_text("stderr", proc_file(&w, "err"), "");
	if (!ok)
		host_daemon_log(&hd);
	proc_clean(&w);
	host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

static int key_ops(void *arg)
{
	struct ops *o = arg;

	return host_keyctl(KEYCTL_UPDATE, o->key, (unsigned long)"new", 3, 0) ||	/* upd */
	       host_keyctl(KEYCTL_CHOWN, o->key, (unsigned long)-1, 0, 0) ||	/* attr */
	       host_keyctl(KEYCTL_SET_TIMEOUT, o->key, 3600, 0, 0) ||	/* attr */
	       host_keyctl(KEYCTL_SETPERM, o->key, 0x3f3f0000, 0, 0) ||	/* attr */
	       host_keyctl(KEYCTL_INVALIDATE, o->key, 0, 0, 0);	/* inv, then gc */
}

/*
 * keyctl watch on one key (@argv) under the library while @ops changes the
 * key from another process; the key's removal ends keyctl by itself, and
 * its output must be @want exactly.
 */
static bool watch_key_until_gc(struct host_daemon *hd, struct ops *o,
			       const char *const *argv, int (*ops)(void *),
			       const char *what, const char *want)
{
	struct proc w = { 0 };
	bool ok;

	ok = ASSERT_TRUE(proc_start(&w, true, argv), what) &&
	     wait_polling(w.pid, 5000) &&
	     ASSERT_EQ(host_run_as(-1, -1, ops, o), 0, "key operations");
	ok = ASSERT_EQ(proc_wait(&w, 10000), 0, "keyctl watch exit code") && ok &&
	     expect_text(what, proc_file(&w, "out"), want);
	if (!ok)
		host_daemon_log(hd);
	proc_clean(&w);
	return ok;
}

/* Watch id 1's removal ends keyctl watch by itself (exit 0). */
WATCHQ_TEST(compat_keyctl_watch_key_until_gc)
{
	char key[16], want[512];
	const char *argv[] = { KEYCTL, "watch", key, NULL };
	struct host_daemon hd;
	struct ops *o;
	bool ok;

	SETUP(&hd, o);
	o->key = host_add_key("user", "k", "v", o->session);
	snprintf(key, sizeof(key), "%d", o->key);
	snprintf(want, sizeof(want), "%d upd\n%d attr\n%d attr\n%d attr\n%d inv\n%d gc\n",
		 o->key, o->key, o->key, o->key, o->key, o->key);
	ok = watch_key_until_gc(&hd, o, argv, key_ops, "keyctl watch <key>", want);
	host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

static int filtered_ops(void *arg)
{
	struct ops *o = arg;

	return host_keyctl(KEYCTL_UPDATE, o->key, (unsigned long)"new", 3, 0) ||
	       host_keyctl(KEYCTL_SET_TIMEOUT, o->key, 3600, 0, 0) ||
	       host_keyctl(KEYCTL_REVOKE, o->key, 0, 0, 0) ||	/* rev */
	       host_keyctl(KEYCTL_UNLINK, o->key, o->session, 0, 0);	/* gc */
}

/* -f r: only REVOKED; the removal passes (mainline posts it unfiltered). */
WATCHQ_TEST(compat_keyctl_watch_filter)
{
	char key[16], want[256];
	const char *argv[] = { KEYCTL, "watch", "-f", "r", key, NULL };
	struct host_daemon hd;
	struct ops *o;
	bool ok;

	SETUP(&hd, o);
	o->key = host_add_key("user", "k", "v", o->session);
	snprintf(key, sizeof(key), "%d", o->key);
	snprintf(want, sizeof(want), "%d rev\n%d gc\n", o->key, o->key);
	ok = watch_key_until_gc(&hd, o, argv, filtered_ops, "keyctl watch -f r", want);
	host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

/*
 * watch_session: fd 5 (dup2()ed) reaches the script; watch_add, watch_rm
 * and watch_sync are separate processes that inherited it.  The script
 * snapshots the log after each sync.
 */
static const char session_script[] =
	"set -e\n"
	"K=" KEYCTL "\n"
	"k=$($K add user a b @s)\n"
	"echo $k > key\n"
	"$K watch_add $KEYCTL_WATCH_FD $k\n"
	"$K update $k c\n"
	"$K watch_sync $KEYCTL_WATCH_FD\n"
	"cp log log.1\n"
	"$K watch_rm $KEYCTL_WATCH_FD $k\n"
	"$K update $k d\n"
	"$K link $k @s\n"
	"$K watch_sync $KEYCTL_WATCH_FD\n"
	"cp log log.2; cp gc gc.2\n"
	"$K revoke $k\n"
	"$K watch_sync $KEYCTL_WATCH_FD\n"
	"cp log log.3\n";

WATCHQ_TEST_TIMEOUT(compat_keyctl_watch_session, 60)
{
	const char *argv[] = { KEYCTL, "watch_session", "log", "gc", "5",
			       "/bin/sh", "script", NULL };
	char want[512];
	struct host_daemon hd;
	struct proc w = { 0 };
	struct ops *o;
	__s32 s, k;
	bool ok;

	SETUP(&hd, o);
	ok = ASSERT_TRUE(proc_mkdir(&w) && proc_put(&w, "script", session_script),
			 "script") &&
	     ASSERT_TRUE(proc_start(&w, true, argv), "start");
	ok = ok && ASSERT_EQ(proc_wait(&w, 30000), 0, "watch_session exit code");
	s = (__s32)strtol(strstr(proc_file(&w, "err"), ": ") ?
			  strstr(proc_file(&w, "err"), ": ") + 2 : "0", NULL, 10);
	k = (__s32)strtol(proc_file(&w, "key"), NULL, 10);
	snprintf(want, sizeof(want), "%d link %d\n%d upd\n", s, k, k);
	ok = ok && expect_text("log after the first sync", proc_file(&w, "log.1"), want);
	snprintf(want, sizeof(want), "%d link %d\n%d upd\n%d link %d\n", s, k, k, s, k);
	ok = ok && expect_text("log after watch_rm", proc_file(&w, "log.2"), want) &&
	     expect_text("gc after watch_rm", proc_file(&w, "gc.2"),
			 (snprintf(want, sizeof(want), "%d gc\n", k), want));
	snprintf(want, sizeof(want), "%d link %d\n%d upd\n%d link %d\n", s, k, k, s, k);
	ok = ok && expect_text("log after revoking the unwatched key",
			       proc_file(&w, "log.3"), want);
	if (!ok) {
		TEST_LOG("stderr: %s", proc_file(&w, "err"));
		host_daemon_log(&hd);
	}
	proc_clean(&w);
	host_daemon_stop(&hd);
	(void)o;
	return ok ? TEST_PASS : TEST_FAIL;
}

/* Bad arguments: the kernel's errors, keyctl's messages and exit codes. */
static const char errors_script[] =
	"K=" KEYCTL "\n"
	"try() { \"$@\" 2>e; echo \"$? $(cat e)\" >> results; }\n"
	"k=$($K add user a b @s)\n"
	"try $K watch_add $KEYCTL_WATCH_FD 0\n"
	"try $K watch_add $KEYCTL_WATCH_FD 2147483632\n"
	"try $K watch_add $KEYCTL_WATCH_FD $(cat hidden)\n"
	"try $K watch_add 0 $k\n"
	"try $K watch_add $KEYCTL_WATCH_FD $k\n"
	"try $K watch_add $KEYCTL_WATCH_FD $k\n"
	"try $K watch_rm $KEYCTL_WATCH_FD $k\n"
	"try $K watch_rm $KEYCTL_WATCH_FD $k\n";

static int add_hidden(void *arg)
{
	struct ops *o = arg;

	/* Nobody's key, viewable by its possessors only, kept in nobody's
	 * user keyring (possessed through a session of its own meanwhile). */
	if (host_new_session() < 0)
		return 1;
	o->key = host_add_key("user", "hidden", "x", KEY_SPEC_SESSION_KEYRING);
	return o->key < 0 ||
	       host_keyctl(KEYCTL_LINK, o->key, KEY_SPEC_USER_KEYRING, 0, 0) ||
	       host_keyctl(KEYCTL_SETPERM, o->key, 0x3f000000, 0, 0);
}

static int del_hidden(void *arg)
{
	(void)arg;
	/* No longer possessed, so no longer viewable: clear the keyring. */
	return host_keyctl(KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING, 0, 0, 0) ? 1 : 0;
}

WATCHQ_TEST_TIMEOUT(compat_keyctl_errors, 60)
{
	const char *argv[] = { KEYCTL, "watch_session", "log", "gc", "5",
			       "/bin/sh", "script", NULL };
	static const char want[] =
		"1 keyctl_watch_key: Invalid argument\n"
		"1 keyctl_watch_key: Required key not available\n"
		"1 keyctl_watch_key: Permission denied\n"
		"1 keyctl_watch_key: Invalid argument\n"
		"0 \n"
		"1 keyctl_watch_key: Device or resource busy\n"
		"0 \n"
		"1 keyctl_watch_key: Invalid slot\n";
	struct host_daemon hd;
	struct proc w = { 0 };
	struct ops *o;
	char hidden[32];
	bool ok;

	SETUP(&hd, o);
	ok = ASSERT_EQ(host_run_as(NOBODY, NOBODY, add_hidden, o), 0, "nobody's key");
	snprintf(hidden, sizeof(hidden), "%d\n", o->key);
	ok = ok && ASSERT_TRUE(proc_mkdir(&w) && proc_put(&w, "script", errors_script) &&
			       proc_put(&w, "hidden", hidden), "script") &&
	     ASSERT_TRUE(proc_start(&w, true, argv), "start");
	ok = ok && ASSERT_EQ(proc_wait(&w, 30000), 0, "watch_session exit code") &&
	     expect_text("exit codes and messages", proc_file(&w, "results"), want);
	if (!ok)
		TEST_LOG("stderr: %s", proc_file(&w, "err"));
	host_run_as(NOBODY, NOBODY, del_hidden, o);
	proc_clean(&w);
	host_daemon_stop(&hd);
	return ok ? TEST_PASS : TEST_FAIL;
}

/* tests/compat_pipe.c: the pipe ABI used directly; it checks itself. */
WATCHQ_TEST_TIMEOUT(compat_pipe_abi_direct, 60)
{
	char bin[256];
	const char *argv[] = { bin, NULL };
	struct host_daemon hd;
	struct proc w = { 0 };
	struct ops *o;
	bool ok;

	SETUP(&hd, o);
	snprintf(bin, sizeof(bin), "%s/compat-pipe", build_dir());
	ok = ASSERT_TRUE(!access(bin, X_OK), "compat-pipe built") &&
	     ASSERT_TRUE(proc_start(&w, true, argv), "start") &&
	     ASSERT_EQ(proc_wait(&w, 30000), 0, "compat-pipe exit code");
	if (!ok) {
		TEST_LOG("stdout:\n%s", proc_file(&w, "out"));
		TEST_LOG("stderr:\n%s", proc_file(&w, "err"));
	}
	proc_clean(&w);
	host_daemon_stop(&hd);
	(void)o;
	return ok ? TEST_PASS : TEST_FAIL;
}
