/* SPDX-License-Identifier: GPL-2.0 */
/* What every BPF source's user half needs (keys.c, block.c, ...). */
#ifndef WATCHQ_BPFSRC_H
#define WATCHQ_BPFSRC_H

#include <stdarg.h>
#include <stdbool.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

/* Mount tracefs and bpffs where absent (libbpf finds tracepoint ids in
 * tracefs; bpffs is where the daemon may pin); @who prefixes messages. */
int watchq_mount_bpf_fs(const char *who);

/*
 * [lo, hi) of the text symbol @name, or of all its compiler clones
 * (name.constprop.0, ...) when @clones: the next higher address ends each.
 * Text symbols are listed even without CONFIG_KALLSYMS_ALL.
 */
int watchq_kallsyms_range(const char *name, bool clones, __u64 *lo, __u64 *hi);

/* The address of any symbol (data needs CONFIG_KALLSYMS_ALL), or 0. */
__u64 watchq_kallsyms_addr(const char *name);

/* Whether tracefs has the tracepoint @event ("category/name", as in a
 * tracepoint program's section name). */
bool watchq_tracepoint_exists(const char *event);

/* The sum over CPUs of entry 0 of a per-CPU __u64 array (drop counters). */
__u64 watchq_percpu_sum(const struct bpf_map *map);

/* A libbpf print callback that prints nothing: for rungs expected to fail. */
int watchq_quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap);

#endif /* WATCHQ_BPFSRC_H */
