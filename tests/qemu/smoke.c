// SPDX-License-Identifier: GPL-2.0
/*
 * The guest pipeline's smoke test (make test-qemu): the guest is the 6.1
 * kernel, and a static binary can load and fire the fentry and BPF LSM
 * programs that the host kernel refuses.
 */
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "test.h"
#include "smoke.skel.h"

WATCHQ_TEST(guest_kernel_is_6_1)
{
	struct utsname u;

	if (!ASSERT_OK(uname(&u), "uname"))
		return TEST_FAIL;
	if (!ASSERT_TRUE(!strncmp(u.release, "6.1.", 4), "release 6.1.*")) {
		TEST_LOG("release is %s", u.release);
		return TEST_FAIL;
	}
	return TEST_PASS;
}

WATCHQ_TEST(guest_has_btf)
{
	return ASSERT_OK(access("/sys/kernel/btf/vmlinux", R_OK),
			 "/sys/kernel/btf/vmlinux") ? TEST_PASS : TEST_FAIL;
}

/* Adds a user key to the process keyring; revokes it when asked. */
static long add_and_maybe_revoke(bool revoke)
{
	long id = syscall(__NR_add_key, "user", "watchq-smoke", "x", 1,
			  KEY_SPEC_PROCESS_KEYRING);

	if (id >= 0 && revoke && syscall(__NR_keyctl, KEYCTL_REVOKE, id) < 0)
		return -1;
	return id;
}

/* Loads only PROG from the skeleton, attaches it, and makes a key event. */
static int run_prog(bool lsm)
{
	struct smoke_bpf *skel;
	struct bpf_program *prog;
	int rc = TEST_FAIL;
	long id;

	skel = smoke_bpf__open();
	if (!ASSERT_TRUE(skel, "smoke_bpf__open"))
		return TEST_FAIL;
	prog = lsm ? skel->progs.smoke_key_alloc : skel->progs.smoke_key_revoke;
	bpf_program__set_autoload(skel->progs.smoke_key_alloc, lsm);
	bpf_program__set_autoload(skel->progs.smoke_key_revoke, !lsm);
	skel->rodata->target_tgid = getpid();
	/* add_key would allocate the process keyring too: make it now. */
	if (!ASSERT_TRUE(syscall(__NR_keyctl, KEYCTL_GET_KEYRING_ID,
				 KEY_SPEC_PROCESS_KEYRING, 1) >= 0, "process keyring"))
		goto out;
	if (!ASSERT_OK(smoke_bpf__load(skel), "smoke_bpf__load"))
		goto out;
	if (!ASSERT_TRUE(bpf_program__attach(prog), "attach"))
		goto out;
	id = add_and_maybe_revoke(!lsm);
	if (!ASSERT_TRUE(id >= 0, "add_key/keyctl"))
		goto out;
	if (lsm) {
		if (!ASSERT_EQ(skel->bss->lsm_allocs, 1, "lsm/key_alloc calls"))
			goto out;
	} else {
		if (!ASSERT_EQ(skel->bss->fentry_revokes, 1, "fentry/key_revoke calls") ||
		    !ASSERT_EQ(skel->bss->last_serial, id, "key serial read with CO-RE"))
			goto out;
	}
	rc = TEST_PASS;
out:
	smoke_bpf__destroy(skel);	/* also detaches */
	return rc;
}

WATCHQ_TEST(guest_fentry_key_revoke)
{
	return run_prog(false);
}

WATCHQ_TEST(guest_lsm_key_alloc)
{
	char lsms[256] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "r");

	if (f) {
		if (!fgets(lsms, sizeof(lsms), f))
			lsms[0] = '\0';
		fclose(f);
	}
	if (!strstr(lsms, "bpf"))
		return SKIP("bpf is not an active LSM (%s)", lsms);
	return run_prog(true);
}
