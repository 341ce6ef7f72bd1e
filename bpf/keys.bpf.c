// SPDX-License-Identifier: GPL-2.0
/*
 * The key source: the records mainline's notify_key() posts (keys.md),
 * for keys in the "watched" map only, plus META/REMOVAL when the garbage
 * collector destroys a watched key.
 *
 * Two rungs share every decision below; only thin SEC() wrappers differ.
 *
 * tracepoint rung (works on this 6.18 host, where fentry/LSM are refused):
 *   - syscalls/sys_exit_{add_key,request_key,keyctl} decide from the result;
 *     the arguments are read back from the task's saved pt_regs, so only
 *     sys_enter_keyctl is needed (for state that the call itself changes).
 *   - raw_tp/kmem_cache_alloc with a call site inside key_alloc() tells a
 *     created key from an updated one and finds request_key's construction.
 *   - raw_tp/kmem_cache_free with a call site inside the GC gives removals.
 *   Both kmem hooks fire for every slab operation, so user space attaches
 *   them only while something is watched; otherwise they cost one compare.
 *
 * fentry rung (kernels that allow trampolines): the same syscall programs,
 * plus LSM key_free (or fentry on security_key_free) for removals, and
 * fentry/fexit on the key functions for changes the kernel makes outside
 * the key syscalls (in-kernel request_key, key type removal, ...).
 */
#include "watchq.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* include/linux/key.h: flag bits are #defines, so not in BTF. */
#define KEY_FLAG_REVOKED	1
#define KEY_FLAG_USER_CONSTRUCT	3
#define KEY_FLAG_INVALIDATED	5
#define KEY_FLAG_UID_KEYRING	9

#define PF_KTHREAD		0x00200000
#define ENOKEY			126

/* uapi keyctl.h */
#define KEY_SPEC_THREAD_KEYRING		-1
#define KEY_SPEC_PROCESS_KEYRING	-2
#define KEY_SPEC_SESSION_KEYRING	-3
#define KEY_SPEC_USER_KEYRING		-4
#define KEY_SPEC_USER_SESSION_KEYRING	-5
#define KEY_SPEC_REQKEY_AUTH_KEY	-7
#define KEY_SPEC_REQUESTOR_KEYRING	-8

#define KEY_REQKEY_DEFL_DEFAULT		0
#define KEY_REQKEY_DEFL_THREAD_KEYRING	1
#define KEY_REQKEY_DEFL_PROCESS_KEYRING	2
#define KEY_REQKEY_DEFL_SESSION_KEYRING	3
#define KEY_REQKEY_DEFL_USER_KEYRING	4
#define KEY_REQKEY_DEFL_USER_SESSION_KEYRING 5
#define KEY_REQKEY_DEFL_REQUESTOR_KEYRING 7

#define KEYCTL_UPDATE		2
#define KEYCTL_REVOKE		3
#define KEYCTL_CHOWN		4
#define KEYCTL_SETPERM		5
#define KEYCTL_DESCRIBE		6
#define KEYCTL_CLEAR		7
#define KEYCTL_LINK		8
#define KEYCTL_UNLINK		9
#define KEYCTL_SEARCH		10
#define KEYCTL_INSTANTIATE	12
#define KEYCTL_NEGATE		13
#define KEYCTL_SET_TIMEOUT	15
#define KEYCTL_REJECT		19
#define KEYCTL_INSTANTIATE_IOV	20
#define KEYCTL_INVALIDATE	21
#define KEYCTL_GET_PERSISTENT	22
#define KEYCTL_RESTRICT_KEYRING	29
#define KEYCTL_MOVE		30

#if defined(__TARGET_ARCH_x86)
#define NR_add_key		248
#define NR_request_key		249
#define NR_keyctl		250
#else
#error "watchq keys: syscall numbers for this architecture are missing"
#endif

/* Set from /proc/kallsyms before load: [lo, hi) of each function. */
const volatile __u64 watchq_key_alloc_lo, watchq_key_alloc_hi;
const volatile __u64 watchq_key_gc_lo, watchq_key_gc_hi;

#define MAX_ALLOCS	8

/* Per-thread state of one key syscall, between its hooks. */
struct keys_inflight {
	__u64 allocs[MAX_ALLOCS];	/* key_alloc() results, in order */
	__u64 key;		/* REVOKE/INVALIDATE: the key; INSTANTIATE..: auth key */
	__u64 flags;		/* REVOKE/INVALIDATE: key->flags before the call */
	__u64 ring;		/* INSTANTIATE..: the requestor keyring (-8) */
	__u64 auth;		/* request_key: the authorisation key it made */
	__u32 nallocs;
	__u32 target;		/* request_key: serial of the key it constructs */
};

/* serial -> struct key *: what user space watches (resolved on watch). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} watched SEC(".maps");

/* struct key * -> serial: the GC zeroes a key before freeing it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u32);
} watched_ptr SEC(".maps");

/* {subtype << 32 | serial}: REVOKED/INVALIDATED already posted.  The
 * NOEXIST insert lets exactly one of several concurrent callers post. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} once SEC(".maps");

/* serial of a key under construction whose helper instantiated, negated
 * or rejected it: complete_request_key() then revokes the auth key. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} constructed SEC(".maps");

/* LRU: a thread that dies inside a syscall must not leak its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct keys_inflight);
} inflight SEC(".maps");

/* View-permission proofs: tgids whose KEYCTL_DESCRIBE results count. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} provers SEC(".maps");

struct keys_proof {
	__u32 tgid;
	__s32 serial;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct keys_proof);
	__type(value, __s32);
} proofs SEC(".maps");

/* ---- records ---------------------------------------------------------- */

/* @serial is known to be watched. */
static __always_inline void emit_key(__u32 sub, __u32 serial, __u32 aux)
{
	struct watchq_key_notification n = {};

	if (!watchq_subtype_passes(sub))
		return;
	watchq_set_header(&n.watch, WATCHQ_TYPE_KEY_NOTIFY, sub, 2, 0);
	n.key_id = serial;
	n.aux = aux;
	watchq_emit(&n, sizeof(n));
}

static __always_inline __u32 watched_serial(__u32 serial)
{
	return serial && bpf_map_lookup_elem(&watched, &serial) ? serial : 0;
}

static __always_inline __u32 watched_key(__u64 key)
{
	__u32 *serial;

	if (!key)
		return 0;
	serial = bpf_map_lookup_elem(&watched_ptr, &key);
	return serial ? *serial : 0;
}

static __always_inline __u32 key_serial(__u64 key)
{
	return key ? BPF_CORE_READ((struct key *)key, serial) : 0;
}

/* REVOKED/INVALIDATED: only when the bit was clear before, and only once. */
static __always_inline void emit_first_time(__u32 sub, __u32 serial,
					    __u64 flags_before, int bit)
{
	__u64 k = (__u64)sub << 32 | serial;
	__u8 one = 1;

	if (!serial || (flags_before & (1ULL << bit)))
		return;
	if (!bpf_map_update_elem(&once, &k, &one, BPF_NOEXIST))
		emit_key(sub, serial, 0);
}

/* A watched key was destroyed: post the removal and end the watch, since
 * a watch does not keep its key alive and the serial may be reused. */
static __always_inline void key_destroyed(__u64 key)
{
	struct watchq_notification_removal n = {};
	__u32 serial = watched_key(key);
	__u64 k;

	if (!serial)
		return;
	watchq_set_header(&n.watch, WATCHQ_TYPE_META,
			  WATCHQ_META_REMOVAL_NOTIFICATION, 2, 0);
	n.id = serial;
	watchq_emit(&n, sizeof(n));
	bpf_map_delete_elem(&watched, &serial);
	bpf_map_delete_elem(&watched_ptr, &key);
	k = (__u64)WATCHQ_NOTIFY_KEY_REVOKED << 32 | serial;
	bpf_map_delete_elem(&once, &k);
	k = (__u64)WATCHQ_NOTIFY_KEY_INVALIDATED << 32 | serial;
	bpf_map_delete_elem(&once, &k);
}

/* ---- the calling task ---------------------------------------------------- */

static __always_inline const struct cred *current_cred(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(t, cred);
}

/* The user-space registers saved at syscall entry: the arguments are still
 * there at sys_exit (x86-64 syscalls do not write them back). */
static __always_inline struct pt_regs *syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

static __always_inline void syscall_args(__s64 a[5])
{
	struct pt_regs *regs = syscall_regs();

	a[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	a[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	a[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	a[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
	a[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
}

/* The key syscall the current task is in, or -1 (kernel threads too). */
static __always_inline long current_key_syscall(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	long nr;

	if (BPF_CORE_READ(t, flags) & PF_KTHREAD)
		return -1;
	nr = BPF_CORE_READ((struct pt_regs *)bpf_task_pt_regs(t), orig_ax);
	if (nr == NR_add_key || nr == NR_request_key || nr == NR_keyctl)
		return nr;
	return -1;
}

/* ---- special keyring ids --------------------------------------------------- */

/*
 * A "_uid.N" (@u) or "_uid_ses.N" (@us) keyring of the current user: the
 * leaf of cred->user_ns->user_keyring_register that look_up_user_keyrings()
 * made with KEY_ALLOC_UID_KEYRING.
 */
static __always_inline __u64 uid_keyring_leaf(__u64 p, __u32 uid, bool session)
{
	struct key *k = (struct key *)(p & ~3UL);
	char d[5] = {};

	if (!p || (p & 1))	/* empty slot, or a node/shortcut */
		return 0;
	if (BPF_CORE_READ(k, uid.val) != uid ||
	    !(BPF_CORE_READ(k, flags) & (1UL << KEY_FLAG_UID_KEYRING)))
		return 0;
	bpf_probe_read_kernel(d, sizeof(d), BPF_CORE_READ(k, description));
	if (d[0] != '_' || d[1] != 'u' || d[2] != 'i' || d[3] != 'd')
		return 0;
	return d[4] == (session ? '_' : '.') ? (__u64)k : 0;
}

/* Walks the register's assoc_array root and one level of nodes below it
 * (256 leaves: 128 users with both keyrings); shortcuts are not followed. */
__noinline __u64 watchq_user_keyring(int session)
{
	const struct cred *c = current_cred();
	struct key *reg = BPF_CORE_READ(c, user_ns, user_keyring_register);
	__u32 uid = BPF_CORE_READ(c, user, uid.val);
	struct assoc_array_node *node;
	__u64 root, p, k;
	int i, j;

	if (!reg)
		return 0;
	root = (__u64)BPF_CORE_READ(reg, keys.root);
	if (!(root & 1))
		return uid_keyring_leaf(root, uid, session);
	if (root & 2)
		return 0;
	node = (struct assoc_array_node *)(root & ~3UL);
	for (i = 0; i < 16; i++) {
		p = (__u64)BPF_CORE_READ(node, slots[i]);
		if (!(p & 1)) {
			k = uid_keyring_leaf(p, uid, session);
			if (k)
				return k;
			continue;
		}
		if (p & 2)
			continue;
		for (j = 0; j < 16; j++) {
			struct assoc_array_node *sub = (void *)(p & ~3UL);

			k = uid_keyring_leaf((__u64)BPF_CORE_READ(sub, slots[j]),
					     uid, session);
			if (k)
				return k;
		}
	}
	return 0;
}

static __always_inline __u64 requestor_keyring(const struct cred *c)
{
	struct key *auth = BPF_CORE_READ(c, request_key_auth);
	struct request_key_auth *rka;

	if (!auth)
		return 0;
	rka = BPF_CORE_READ(auth, payload.data[0]);
	return (__u64)BPF_CORE_READ(rka, dest_keyring);
}

/* What lookup_user_key() resolves a special id to; call it after any
 * KEY_LOOKUP_CREATE lookup of the syscall has made the keyring. */
__noinline __u64 watchq_special_key(int id)
{
	const struct cred *c = current_cred();
	__u64 p;

	switch (id) {
	case KEY_SPEC_THREAD_KEYRING:
		return (__u64)BPF_CORE_READ(c, thread_keyring);
	case KEY_SPEC_PROCESS_KEYRING:
		return (__u64)BPF_CORE_READ(c, process_keyring);
	case KEY_SPEC_SESSION_KEYRING:
		p = (__u64)BPF_CORE_READ(c, session_keyring);
		return p ? p : watchq_user_keyring(1);
	case KEY_SPEC_USER_KEYRING:
		return watchq_user_keyring(0);
	case KEY_SPEC_USER_SESSION_KEYRING:
		return watchq_user_keyring(1);
	case KEY_SPEC_REQKEY_AUTH_KEY:
		return (__u64)BPF_CORE_READ(c, request_key_auth);
	case KEY_SPEC_REQUESTOR_KEYRING:
		return requestor_keyring(c);
	}
	return 0;
}

/* The serial of an id (special ids resolved), for aux fields. */
static __always_inline __u32 id_serial(__s32 id)
{
	return id > 0 ? id : key_serial(watchq_special_key(id));
}

/* The serial of an id when that key is watched, else 0: for an unwatched
 * positive id this is the one lookup that unwatched activity costs. */
static __always_inline __u32 watched_id(__s32 id)
{
	if (id > 0)
		return watched_serial(id);
	if (!id)
		return 0;
	return watched_key(watchq_special_key(id));
}

/* construct_get_dest_keyring(): where request_key(dest 0) links the key it
 * constructs, by cred->jit_keyring (KEYCTL_SET_REQKEY_KEYRING). */
static __always_inline __u64 default_dest_keyring(void)
{
	const struct cred *c = current_cred();
	int jit = BPF_CORE_READ(c, jit_keyring);
	__u64 p = 0;

	switch (jit) {
	case KEY_REQKEY_DEFL_USER_KEYRING:
		return watchq_user_keyring(0);
	case KEY_REQKEY_DEFL_USER_SESSION_KEYRING:
		return watchq_user_keyring(1);
	case KEY_REQKEY_DEFL_DEFAULT:
	case KEY_REQKEY_DEFL_REQUESTOR_KEYRING:
		p = requestor_keyring(c);
		/* fall through */
	case KEY_REQKEY_DEFL_THREAD_KEYRING:
		if (!p)
			p = (__u64)BPF_CORE_READ(c, thread_keyring);
		/* fall through */
	case KEY_REQKEY_DEFL_PROCESS_KEYRING:
		if (!p)
			p = (__u64)BPF_CORE_READ(c, process_keyring);
		/* fall through */
	case KEY_REQKEY_DEFL_SESSION_KEYRING:
		if (!p)
			p = (__u64)BPF_CORE_READ(c, session_keyring);
		return p ? p : watchq_user_keyring(1);
	}
	return 0;
}

static __always_inline __u32 request_key_dest(__s32 dest)
{
	return dest ? watched_id(dest) : watched_key(default_dest_keyring());
}

/* ---- decisions, one per kernel event ------------------------------------------ */

/*
 * key_alloc() ran in this task.  Only add_key and request_key care: the
 * first to tell a new key from an update, the second to find the key it
 * constructs.  construct_alloc_key() marks its key USER_CONSTRUCT and links
 * it into the destination before the next allocation, the auth key, so the
 * LINKED record goes out here, before anything the upcall helper does.
 */
static __always_inline void key_allocated(__u64 key)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct keys_inflight *f, zero = {};
	long nr = current_key_syscall();
	__u32 n;

	if (nr != NR_add_key && nr != NR_request_key)
		return;
	f = bpf_map_lookup_elem(&inflight, &tid);
	if (!f) {
		bpf_map_update_elem(&inflight, &tid, &zero, BPF_ANY);
		f = bpf_map_lookup_elem(&inflight, &tid);
		if (!f)
			return;
	}
	n = f->nallocs;
	if (n >= MAX_ALLOCS)
		return;
	if (nr == NR_request_key && n > 0 && !f->target) {
		__u64 prev = f->allocs[(n - 1) & (MAX_ALLOCS - 1)];
		__u32 dest;

		if (BPF_CORE_READ((struct key *)prev, flags) &
		    (1UL << KEY_FLAG_USER_CONSTRUCT)) {
			__s64 a[5];

			syscall_args(a);
			f->target = key_serial(prev);
			f->auth = key;
			dest = request_key_dest((__s32)a[3]);
			if (dest)
				emit_key(WATCHQ_NOTIFY_KEY_LINKED, dest, f->target);
		}
	}
	f->allocs[n & (MAX_ALLOCS - 1)] = key;
	f->nallocs = n + 1;
}

/* add_key(type, desc, payload, plen, ringid) returned @ret. */
static __always_inline void add_key_done(long ret)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct keys_inflight *f;
	bool created = false;
	__u32 ring;
	__s64 a[5];
	int i;

	f = bpf_map_lookup_elem(&inflight, &tid);
	if (f) {
		for (i = 0; i < MAX_ALLOCS; i++) {
			if (i >= f->nallocs)
				break;
			if (key_serial(f->allocs[i]) == (__u32)ret)
				created = true;
		}
		bpf_map_delete_elem(&inflight, &tid);
	}
	if (ret <= 0)
		return;
	/* INSTANTIATED on a key born in this call reaches nobody: no watch
	 * can exist on it yet, so only the keyring's LINKED is posted. */
	if (!created) {
		if (watched_serial(ret))
			emit_key(WATCHQ_NOTIFY_KEY_UPDATED, ret, 0);
		return;
	}
	syscall_args(a);
	ring = watched_id((__s32)a[4]);
	if (ring)
		emit_key(WATCHQ_NOTIFY_KEY_LINKED, ring, ret);
}

/* request_key(type, desc, callout, dest) returned @ret. */
static __always_inline void request_key_done(long ret)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct keys_inflight *f;
	__u32 s, auth;
	__s64 a[5];

	f = bpf_map_lookup_elem(&inflight, &tid);
	if (f && f->target) {
		/* complete_request_key(): a helper that instantiated, negated
		 * or rejected the key gets the auth key revoked; otherwise
		 * the kernel negates the key and invalidates the auth key. */
		auth = watched_key(f->auth);
		if (bpf_map_lookup_elem(&constructed, &f->target)) {
			bpf_map_delete_elem(&constructed, &f->target);
			if (auth)
				emit_first_time(WATCHQ_NOTIFY_KEY_REVOKED, auth, 0,
						KEY_FLAG_REVOKED);
		} else {
			s = watched_serial(f->target);
			if (s)
				emit_key(WATCHQ_NOTIFY_KEY_INSTANTIATED, s,
					 (__u32)-ENOKEY);
			if (auth)
				emit_first_time(WATCHQ_NOTIFY_KEY_INVALIDATED,
						auth, 0, KEY_FLAG_INVALIDATED);
		}
	} else if (ret > 0) {
		/* found an existing key: request_key_and_link() links it into
		 * an explicit destination only */
		syscall_args(a);
		if ((__s32)a[3] && (s = watched_id((__s32)a[3])))
			emit_key(WATCHQ_NOTIFY_KEY_LINKED, s, ret);
	}
	if (f)
		bpf_map_delete_elem(&inflight, &tid);
}

/* Before keyctl(op, ...): keep what the call itself will change. */
static __always_inline void keyctl_start(__s64 op, __s64 arg1, __s64 ring)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct keys_inflight f = {};
	const struct cred *c;
	struct key *key;

	switch (op) {
	case KEYCTL_REVOKE:
	case KEYCTL_INVALIDATE:
		/* no KEY_LOOKUP_CREATE here, so resolving now is exact */
		if (arg1 > 0) {
			__u32 serial = arg1;
			__u64 *p = bpf_map_lookup_elem(&watched, &serial);

			f.key = p ? *p : 0;
		} else {
			f.key = watchq_special_key(arg1);
			if (!watched_key(f.key))
				f.key = 0;
		}
		if (!f.key)
			return;
		key = (struct key *)f.key;
		f.flags = BPF_CORE_READ(key, flags);
		break;
	case KEYCTL_INSTANTIATE:
	case KEYCTL_INSTANTIATE_IOV:
	case KEYCTL_NEGATE:
	case KEYCTL_REJECT:
		/* the call drops the assumed authority: read it now */
		c = current_cred();
		f.key = (__u64)BPF_CORE_READ(c, request_key_auth);
		if ((__s32)ring == KEY_SPEC_REQUESTOR_KEYRING)
			f.ring = requestor_keyring(c);
		break;
	default:
		return;
	}
	bpf_map_update_elem(&inflight, &tid, &f, BPF_ANY);
}

static __always_inline void keyctl_instantiated(__u32 op, __s64 a[5],
						struct keys_inflight *f)
{
	__s32 id = a[1], ring;
	__u32 aux = 0, s;

	if (op == KEYCTL_NEGATE) {
		ring = a[3];
		aux = (__u32)-ENOKEY;
	} else if (op == KEYCTL_REJECT) {
		ring = a[4];
		aux = (__u32)-(__s32)a[3];
	} else {
		ring = a[4];
	}
	/* id is the target's own serial (the kernel insists) */
	if (id > 0) {
		__u8 one = 1;

		bpf_map_update_elem(&constructed, &id, &one, BPF_ANY);
	}
	if ((s = watched_serial(id)))
		emit_key(WATCHQ_NOTIFY_KEY_INSTANTIATED, s, aux);
	if (ring == KEY_SPEC_REQUESTOR_KEYRING)
		s = f ? watched_key(f->ring) : 0;
	else
		s = watched_id(ring);
	if (s)
		emit_key(WATCHQ_NOTIFY_KEY_LINKED, s, id);
	if (f && (s = watched_key(f->key)))
		emit_first_time(WATCHQ_NOTIFY_KEY_INVALIDATED, s, 0,
				KEY_FLAG_INVALIDATED);
}

/* keyctl(op, a[1], a[2], a[3], a[4]) returned @ret. */
static __always_inline void keyctl_done(long ret)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct keys_inflight *f;
	__u32 s, k;
	__s64 a[5];
	__u32 op;

	syscall_args(a);
	op = a[0];
	f = bpf_map_lookup_elem(&inflight, &tid);

	if (op == KEYCTL_DESCRIBE && a[1] > 0) {
		struct keys_proof p = {
			.tgid = tid >> 32,
			.serial = a[1],
		};
		__s32 r = ret < 0 ? ret : 0;

		if (bpf_map_lookup_elem(&provers, &p.tgid))
			bpf_map_update_elem(&proofs, &p, &r, BPF_ANY);
	}
	if (ret < 0)
		goto out;

	switch (op) {
	case KEYCTL_UPDATE:
		if ((s = watched_id(a[1])))
			emit_key(WATCHQ_NOTIFY_KEY_UPDATED, s, 0);
		break;
	case KEYCTL_REVOKE:
		if (f && (s = watched_key(f->key)))
			emit_first_time(WATCHQ_NOTIFY_KEY_REVOKED, s, f->flags,
					KEY_FLAG_REVOKED);
		break;
	case KEYCTL_INVALIDATE:
		if (f && (s = watched_key(f->key)))
			emit_first_time(WATCHQ_NOTIFY_KEY_INVALIDATED, s, f->flags,
					KEY_FLAG_INVALIDATED);
		break;
	case KEYCTL_CHOWN:
		/* keyctl_chown_key() returns 0 without a change for -1, -1 */
		if ((__s32)a[2] == -1 && (__s32)a[3] == -1)
			break;
		/* fall through */
	case KEYCTL_SETPERM:	/* 0 only for the owner or CAP_SYS_ADMIN */
	case KEYCTL_SET_TIMEOUT:
	case KEYCTL_RESTRICT_KEYRING:
		if ((s = watched_id(a[1])))
			emit_key(WATCHQ_NOTIFY_KEY_SETATTR, s, 0);
		break;
	case KEYCTL_CLEAR:
		if ((s = watched_id(a[1])))
			emit_key(WATCHQ_NOTIFY_KEY_CLEARED, s, 0);
		break;
	case KEYCTL_LINK:
		if ((s = watched_id(a[2])))
			emit_key(WATCHQ_NOTIFY_KEY_LINKED, s, id_serial(a[1]));
		break;
	case KEYCTL_UNLINK:
		if ((s = watched_id(a[2])))
			emit_key(WATCHQ_NOTIFY_KEY_UNLINKED, s, id_serial(a[1]));
		break;
	case KEYCTL_MOVE:
		k = id_serial(a[1]);
		if ((s = watched_id(a[2])))
			emit_key(WATCHQ_NOTIFY_KEY_UNLINKED, s, k);
		if ((s = watched_id(a[3])))
			emit_key(WATCHQ_NOTIFY_KEY_LINKED, s, k);
		break;
	case KEYCTL_SEARCH:
		if (a[4] && ret > 0 && (s = watched_id(a[4])))
			emit_key(WATCHQ_NOTIFY_KEY_LINKED, s, ret);
		break;
	case KEYCTL_GET_PERSISTENT:
		if (ret > 0 && (s = watched_id(a[2])))
			emit_key(WATCHQ_NOTIFY_KEY_LINKED, s, ret);
		break;
	case KEYCTL_INSTANTIATE:
	case KEYCTL_INSTANTIATE_IOV:
	case KEYCTL_NEGATE:
	case KEYCTL_REJECT:
		keyctl_instantiated(op, a, f);
		break;
	}
out:
	if (f)
		bpf_map_delete_elem(&inflight, &tid);
}

/* ---- tracepoint rung ---------------------------------------------------- */

/*
 * Raw tracepoints, not tp_btf: the tracepoints' pointer argument is a
 * "const void *", which 6.1's verifier refuses to read from a BTF context.
 * Their first two arguments (call site, object) are the same everywhere.
 */
SEC("raw_tp/kmem_cache_alloc")
int BPF_PROG(watchq_keys_slab_alloc, unsigned long call_site, const void *ptr)
{
	if (call_site < watchq_key_alloc_lo || call_site >= watchq_key_alloc_hi)
		return 0;
	if (ptr)
		key_allocated((__u64)ptr);
	return 0;
}

SEC("raw_tp/kmem_cache_free")
int BPF_PROG(watchq_keys_slab_free, unsigned long call_site, const void *ptr)
{
	if (call_site < watchq_key_gc_lo || call_site >= watchq_key_gc_hi)
		return 0;
	key_destroyed((__u64)ptr);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_keyctl")
int watchq_keys_keyctl_enter(struct trace_event_raw_sys_enter *ctx)
{
	__s64 op = ctx->args[0];

	/* the ring argument of the instantiate family */
	keyctl_start(op, ctx->args[1],
		     op == KEYCTL_NEGATE ? ctx->args[3] : ctx->args[4]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_keyctl")
int watchq_keys_keyctl_exit(struct trace_event_raw_sys_exit *ctx)
{
	keyctl_done(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_add_key")
int watchq_keys_add_key_exit(struct trace_event_raw_sys_exit *ctx)
{
	add_key_done(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_request_key")
int watchq_keys_request_key_exit(struct trace_event_raw_sys_exit *ctx)
{
	request_key_done(ctx->ret);
	return 0;
}

/*
 * Run by user space (BPF_PROG_TEST_RUN, in its own task) to start a watch:
 * find the struct key of args[0] by walking key_serial_tree the way
 * key_lookup() does.  The tree's root is static and not in BTF, so climb
 * to it from a key the caller owns.  Unlocked: a concurrent rebalance can
 * make one walk miss, and user space retries.  Returns 0 or ENOKEY.
 */
SEC("raw_tp")
int watchq_keys_resolve(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 off = bpf_core_field_offset(struct key, serial_node);
	const struct cred *c = current_cred();
	__s32 serial = ctx->args[0];
	__u64 anchor, node, parent, key;
	__s32 s;
	int i;

	anchor = (__u64)BPF_CORE_READ(c, user_ns, user_keyring_register);
	if (!anchor)
		anchor = (__u64)BPF_CORE_READ(c, session_keyring);
	if (!anchor || serial <= 0)
		return ENOKEY;
	node = anchor + off;
	for (i = 0; i < 64; i++) {
		parent = BPF_CORE_READ((struct rb_node *)node,
				       __rb_parent_color) & ~3UL;
		if (!parent)
			break;
		node = parent;
	}
	for (i = 0; i < 64 && node; i++) {
		key = node - off;
		s = BPF_CORE_READ((struct key *)key, serial);
		if (serial < s) {
			node = (__u64)BPF_CORE_READ((struct rb_node *)node, rb_left);
		} else if (serial > s) {
			node = (__u64)BPF_CORE_READ((struct rb_node *)node, rb_right);
		} else {
			__u32 u = serial;

			bpf_map_update_elem(&watched, &u, &key, BPF_ANY);
			bpf_map_update_elem(&watched_ptr, &key, &u, BPF_ANY);
			return 0;
		}
	}
	return ENOKEY;
}

/* ---- fentry rung --------------------------------------------------------
 * Key syscalls stay with the tracepoint programs above (which keep request
 * order and first-time semantics); these see the rest: the kernel acting
 * on keys by itself, and every destruction.
 */

SEC("lsm/key_free")
int BPF_PROG(watchq_keys_lsm_free, struct key *key)
{
	key_destroyed((__u64)key);
	return 0;
}

/* Where "bpf" is not among the active LSMs: the same call site. */
SEC("fentry/security_key_free")
int BPF_PROG(watchq_keys_security_free, struct key *key)
{
	key_destroyed((__u64)key);
	return 0;
}

SEC("fentry/__key_link")
int BPF_PROG(watchq_keys_fentry_link, struct key *keyring, struct key *key)
{
	__u32 s;

	if (current_key_syscall() < 0 && (s = watched_key((__u64)keyring)))
		emit_key(WATCHQ_NOTIFY_KEY_LINKED, s, key_serial((__u64)key));
	return 0;
}

SEC("fexit/key_unlink")
int BPF_PROG(watchq_keys_fexit_unlink, struct key *keyring, struct key *key,
	     int ret)
{
	__u32 s;

	if (!ret && current_key_syscall() < 0 &&
	    (s = watched_key((__u64)keyring)))
		emit_key(WATCHQ_NOTIFY_KEY_UNLINKED, s, key_serial((__u64)key));
	return 0;
}

/* key_revoke()/key_invalidate() cannot fail: deciding on entry is exact. */
SEC("fentry/key_revoke")
int BPF_PROG(watchq_keys_fentry_revoke, struct key *key)
{
	__u32 s;

	if (current_key_syscall() < 0 && (s = watched_key((__u64)key)))
		emit_first_time(WATCHQ_NOTIFY_KEY_REVOKED, s,
				BPF_CORE_READ(key, flags), KEY_FLAG_REVOKED);
	return 0;
}

SEC("fentry/key_invalidate")
int BPF_PROG(watchq_keys_fentry_invalidate, struct key *key)
{
	__u32 s;

	if (current_key_syscall() < 0 && (s = watched_key((__u64)key)))
		emit_first_time(WATCHQ_NOTIFY_KEY_INVALIDATED, s,
				BPF_CORE_READ(key, flags), KEY_FLAG_INVALIDATED);
	return 0;
}

SEC("fexit/keyring_clear")
int BPF_PROG(watchq_keys_fexit_clear, struct key *keyring, int ret)
{
	__u32 s;

	if (!ret && current_key_syscall() < 0 &&
	    (s = watched_key((__u64)keyring)))
		emit_key(WATCHQ_NOTIFY_KEY_CLEARED, s, 0);
	return 0;
}

/*
 * No hook on key_update(): its key_ref_t argument points to an incomplete
 * struct, which the verifier of 6.1 refuses to read from the context.
 * Updates made by the kernel itself (rare) are therefore not seen.
 */
