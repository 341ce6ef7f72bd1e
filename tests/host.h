/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Support for the host tests: root, real BPF, a real watchqd per test,
 * real key operations done by other processes (other uids where it matters).
 */
#ifndef WATCHQ_HOST_H
#define WATCHQ_HOST_H

#include <sys/types.h>
#include "test.h"
#include "watchq.h"

/* Skip unless root with BPF and the built daemon; says why. */
#define HOST_REQUIRE() do {						\
	int __r = host_require();					\
	if (__r != TEST_PASS)						\
		return __r;						\
} while (0)
int host_require(void);

/* $WATCHQ_BUILD (default "build") as an absolute path. */
const char *host_build_dir(void);

struct host_daemon {
	pid_t pid;
	char dir[64];		/* private directory for the socket */
	char sock[128];
};

/* Start $WATCHQ_BUILD/watchqd on a private socket with the extra arguments
 * (NULL-terminated) and wait until it accepts; sets WATCHQ_SOCKET. */
bool host_daemon_start(struct host_daemon *hd, ...) __attribute__((sentinel));
/* Print the daemon's stderr, kept in its directory. */
void host_daemon_log(const struct host_daemon *hd);
/* SIGTERM, and check it exits 0; true if so. */
bool host_daemon_stop(struct host_daemon *hd);

/* Key syscalls, returning -errno on failure. */
long host_keyctl(int cmd, unsigned long a, unsigned long b, unsigned long c,
		 unsigned long d);
__s32 host_add_key(const char *type, const char *desc, const char *payload,
		   __s32 ring);
/* A fresh anonymous session keyring for this process: tests stay apart. */
__s32 host_new_session(void);

/* Run @fn(@arg) in a child as @uid/@gid (or as is, for uid -1), return its
 * exit status (fn's return value), or -1 if it died. */
int host_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);

/*
 * A mount namespace of this process's own whose new mounts under /tmp
 * reach no other namespace: 0, or -errno (a test skips with it).
 */
int host_private_mount_ns(void);

/* A record as the tests compare them. */
struct host_rec {
	__u32 type, subtype, watch_id, flags;	/* flags: info bits 16-31 */
	__u32 slots;
	__u64 a, b;	/* key: key_id, aux; removal: id, 0 */
};

#define KEY_REC(sub, key, aux, wid) \
	((struct host_rec){ WATCHQ_TYPE_KEY_NOTIFY, WATCHQ_NOTIFY_KEY_##sub, wid, 0, 2, \
			    (__u32)(key), (__u32)(aux) })
#define REMOVAL_REC(id, wid) \
	((struct host_rec){ WATCHQ_TYPE_META, WATCHQ_META_REMOVAL_NOTIFICATION, wid, 0, 2, \
			    (__u64)(id), 0 })
#define BLOCK_REC(sub, dev, sector, wid) \
	((struct host_rec){ WATCHQ_TYPE_BLOCK_NOTIFY, WATCHQ_NOTIFY_BLOCK_ERROR_##sub, \
			    wid, 0, 3, (dev), (sector) })
#define SREC(sub, dev, wid, flags) \
	((struct host_rec){ WATCHQ_TYPE_SB_NOTIFY, WATCHQ_NOTIFY_SUPERBLOCK_##sub, wid, \
			    (flags) >> 16, 2, (dev), 0 })
#define SERR(dev, err, wid) \
	((struct host_rec){ WATCHQ_TYPE_SB_NOTIFY, WATCHQ_NOTIFY_SUPERBLOCK_ERROR, wid, \
			    0, 3, (dev), (__u32)(err) })

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

#define HOST_SENTINEL_ID 255

/* Watch a fresh key of this process with watch id 255: updating it later
 * marks the end of everything the operations before produced. */
__s32 host_sentinel(struct watchq *q);

/*
 * Update @sentinel and read records until its UPDATED arrives (up to
 * @timeout_ms); the records before it go to @out (at most @max), their
 * count to *@n.  False, with a message, on timeout or a corrupt ring.
 */
bool host_sync(struct watchq *q, __s32 sentinel, struct host_rec *out, int max,
	       int *n, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds. */
long host_now_ms(void);

/* Read records until @want arrive or @timeout_ms passes. */
int host_read(struct watchq *q, struct host_rec *out, int want, int timeout_ms);

/* Everything the kernel produced so far (watchq_sync), then whatever else
 * comes within 200 ms: for sources whose records can trail the sync
 * (mount rescans, ext4 error bookkeeping).  The count, or -1. */
int host_drain(struct watchq *q, struct host_rec *out, int max);

/* Compare, printing both lists on a difference. */
bool host_expect(const char *what, const struct host_rec *got, int ngot,
		 const struct host_rec *want, int nwant);


/* Memory shared with the children host_run_as() makes. */
void *host_shared(size_t size);

/* A daemon, a 4-page queue of this process, and the sentinel; in a fresh
 * session keyring.  Extra daemon arguments may follow (NULL-terminated). */
struct host_fix {
	struct host_daemon hd;
	struct watchq *q;
	__s32 sentinel;
};
bool host_fix_setup(struct host_fix *f);
void host_fix_teardown(struct host_fix *f);
/* All permissions for everyone, so other uids can use it by serial. */
bool host_open_perms(__s32 key);

#endif /* WATCHQ_HOST_H */
