// SPDX-License-Identifier: GPL-2.0
/*
 * The rungs the host kernel refuses (fentry, BPF LSM), proven loadable in
 * the 6.1 guest: each program counts key events of one process.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

const volatile __u32 target_tgid;

__u64 fentry_revokes;
__u64 lsm_allocs;
__s32 last_serial;

static bool mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("fentry/key_revoke")
int BPF_PROG(smoke_key_revoke, struct key *key)
{
	if (mine()) {
		/* A CO-RE read: struct key's layout differs from the host's. */
		last_serial = BPF_CORE_READ(key, serial);
		__sync_fetch_and_add(&fentry_revokes, 1);
	}
	return 0;
}

SEC("lsm/key_alloc")
int BPF_PROG(smoke_key_alloc, struct key *key, const struct cred *cred,
	     unsigned long flags, int ret)
{
	if (mine())
		__sync_fetch_and_add(&lsm_allocs, 1);
	return ret;	/* never changes the decision */
}

char LICENSE[] SEC("license") = "GPL";
