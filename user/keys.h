/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The key source: loads bpf/keys.bpf.c by its attach ladder and keeps its
 * maps current.  Records come out of its BPF ring buffer already in the slot
 * format, with watch id 0: key records (2 slots, routed by key_id) and
 * META/REMOVAL records (2 slots, routed by the 64-bit id = the serial of a
 * destroyed watched key).
 */
#ifndef WATCHQ_KEYS_H
#define WATCHQ_KEYS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

struct watchq_keys;

struct watchq_keys_opts {
	bool force_tracepoint;	/* skip the fentry rung even where it loads */
	__u32 subtypes;		/* global filter: bit n passes key subtype n */
	int verbose;
};

/* Open, load and attach; -errno with a message on stderr on failure. */
int watchq_keys_open(struct watchq_keys **out, const struct watchq_keys_opts *o);
void watchq_keys_close(struct watchq_keys *k);

/* The BPF ring buffer map's fd, for ring_buffer__new()/__add(). */
int watchq_keys_ringbuf_fd(const struct watchq_keys *k);

/* Records the BPF side could not put into its ring buffer, since open. */
__u64 watchq_keys_dropped(const struct watchq_keys *k);

/* "fentry" or "tracepoint". */
const char *watchq_keys_rung(const struct watchq_keys *k);

/* For --probe and the start-up log: the rung and what it cannot see. */
void watchq_keys_describe(const struct watchq_keys *k, FILE *f);

/*
 * View permission, from the kernel's own answer: while @tgid is a prover,
 * every keyctl(KEYCTL_DESCRIBE, serial) it makes is recorded.  check_view
 * returns that call's result for @serial (0, or -EACCES/-ENOKEY/...), or
 * -EACCES if it made none, and forgets it.  Call add_prover once per
 * process (not per connection) and del_prover as often: the key syscall
 * hooks are attached only while some process is a prover.
 */
int watchq_keys_add_prover(struct watchq_keys *k, pid_t tgid);
void watchq_keys_del_prover(struct watchq_keys *k, pid_t tgid);
int watchq_keys_check_view(struct watchq_keys *k, pid_t tgid, __s32 serial);

/* Start or stop producing records for @serial (the daemon refcounts). */
int watchq_keys_watch(struct watchq_keys *k, __s32 serial);
int watchq_keys_unwatch(struct watchq_keys *k, __s32 serial);

#endif /* WATCHQ_KEYS_H */
