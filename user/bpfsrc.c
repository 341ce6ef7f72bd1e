// SPDX-License-Identifier: GPL-2.0
/* What every BPF source's user half needs.  See bpfsrc.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "bpfsrc.h"

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC	0x74726163
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC	0xcafe4a11
#endif

/* Mount @type at @path unless it is already there. */
static int ensure_mounted(const char *who, const char *path, const char *type,
			  long magic)
{
	struct statfs st;

	if (!statfs(path, &st) && (long)st.f_type == magic)
		return 0;
	if (mount("nodev", path, type, 0, NULL) && errno != EBUSY) {
		int err = -errno;

		fprintf(stderr, "watchq %s: mount %s on %s: %s\n", who, type, path,
			strerror(errno));
		return err;
	}
	return 0;
}

int watchq_mount_bpf_fs(const char *who)
{
	int err = ensure_mounted(who, "/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC);

	return err ? err : ensure_mounted(who, "/sys/fs/bpf", "bpf", BPF_FS_MAGIC);
}

int watchq_kallsyms_range(const char *name, bool clones, __u64 *lo, __u64 *hi)
{
	unsigned long long addr, start = 0;
	char line[512], sym[256], type;
	size_t len = strlen(name);
	FILE *f;

	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	*lo = *hi = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) != 3)
			continue;
		if (start && addr > start) {
			if (addr > *hi)
				*hi = addr;
			start = 0;
		}
		if ((type != 't' && type != 'T') || strncmp(sym, name, len) ||
		    (sym[len] && !(clones && sym[len] == '.')))
			continue;
		start = addr;
		if (!*lo || addr < *lo)
			*lo = addr;
	}
	fclose(f);
	return *lo && *hi > *lo ? 0 : -ENOENT;
}

__u64 watchq_kallsyms_addr(const char *name)
{
	unsigned long long addr, found = 0;
	char line[512], sym[256], type;
	FILE *f;

	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 &&
		    !strcmp(sym, name))
			found = addr;
	fclose(f);
	return found;
}

__u64 watchq_percpu_sum(const struct bpf_map *map)
{
	int n = libbpf_num_possible_cpus();
	__u32 zero = 0;
	__u64 sum = 0;
	__u64 *v;

	if (n <= 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(map), &zero, v))
		for (int i = 0; i < n; i++)
			sum += v[i];
	free(v);
	return sum;
}

int watchq_quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

bool watchq_tracepoint_exists(const char *event)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", event);
	return !access(path, F_OK);
}
