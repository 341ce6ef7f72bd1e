/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a fanotify group, for the sources that use one (mount: mount
 * events; sb: filesystem errors).  The uapi of 5.16+ and 6.15+ that Debian
 * 12's headers lack is here too.
 */
#ifndef WATCHQ_FAN_H
#define WATCHQ_FAN_H

#include <stdbool.h>
#include <sys/fanotify.h>
#include <linux/types.h>

#define WQ_FAN_Q_OVERFLOW		0x00004000U
#define WQ_FAN_FS_ERROR			0x00008000U	/* 5.16 */
#define WQ_FAN_MNT_ATTACH		0x01000000U	/* 6.15 */
#define WQ_FAN_MNT_DETACH		0x02000000U
#define WQ_FAN_REPORT_MNT		0x00004000U
#define WQ_FAN_MARK_MNTNS		0x00000110U
#define WQ_FAN_EVENT_INFO_TYPE_ERROR	5
#define WQ_FAN_EVENT_INFO_TYPE_MNT	7

struct wq_fan_info_error {
	struct fanotify_event_info_header hdr;
	__s32 error;
	__u32 error_count;
};

struct wq_fan_info_mnt {
	struct fanotify_event_info_header hdr;
	__u64 mnt_id;
};

/* One information record of one event, checked to lie within it. */
typedef void (*watchq_fan_info_fn)(void *ctx, const struct fanotify_event_metadata *md,
				   const struct fanotify_event_info_header *info);

/*
 * Read the non-blocking group @fd until it is empty, calling @fn for each
 * information record of each event in order.  True if the queue overflowed
 * (events were lost: the caller must find out what changed another way).
 */
bool watchq_fan_drain(int fd, watchq_fan_info_fn fn, void *ctx);

#endif /* WATCHQ_FAN_H */
