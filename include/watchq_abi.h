/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * watchq notification ABI: the general notification queue as reviewed in
 * 2019 ("ver #5", mmap'able ring), reproduced number for number.
 *
 * Naming: every v5 name carries the one prefix WATCHQ_/watchq_.  The v5
 * name "WATCH_x" becomes "WATCHQ_x", "NOTIFY_x" becomes "WATCHQ_NOTIFY_x",
 * "watch_notification" becomes "watchq_notification" and
 * "watch_queue_buffer" becomes "watchq_buffer".  The kernel's own names are
 * not reused: <linux/watch_queue.h> (the mainline pipe ABI) measures record
 * length in bytes with mask 0x7f, while this ring measures it in 8-byte
 * slots with mask 0x3f.
 *
 * The header is shared by user space and the BPF programs (which include
 * vmlinux.h first and so already have the __u* types).
 */
#ifndef WATCHQ_ABI_H
#define WATCHQ_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "watchq: the v5 header bitfields are laid out for little-endian only"
#endif

/* Records are made of 8-byte slots; a record is 1 to 63 slots long. */
#define WATCHQ_LENGTH_GRANULARITY	8
#define WATCHQ_MAX_RECORD_SLOTS		63

enum watchq_notification_type {
	WATCHQ_TYPE_META		= 0,	/* skip padding, watch removal */
	WATCHQ_TYPE_KEY_NOTIFY		= 1,	/* keys and keyrings */
	WATCHQ_TYPE_BLOCK_NOTIFY	= 2,	/* block-layer errors */
	WATCHQ_TYPE_USB_NOTIFY		= 3,	/* USB devices */
	/* Later series used 2 and 3 for these, which collide with BLOCK and
	 * USB, so this ABI moves them to 4 and 5. */
	WATCHQ_TYPE_MOUNT_NOTIFY	= 4,	/* mount topology */
	WATCHQ_TYPE_SB_NOTIFY		= 5,	/* superblocks */
	WATCHQ_TYPE___NR		= 6,
};

/*
 * The one-slot header of every record.  The first 32-bit word holds the type
 * in bits 0-23 and the subtype in bits 24-31 (v5 declared it as these two
 * bitfields; their placement is fixed for little-endian machines, the only
 * ones this project builds for).
 */
struct watchq_notification {
	__u32	type:24;
	__u32	subtype:8;
	__u32	info;
} __attribute__((aligned(WATCHQ_LENGTH_GRANULARITY)));

/* Fields of watchq_notification::info.  All but the length are filterable. */
#define WATCHQ_INFO_LENGTH		0x0000003f	/* record length in slots */
#define WATCHQ_INFO_LENGTH__SHIFT	0
#define WATCHQ_INFO_ID			0x0000ff00	/* watch id, 0-255 */
#define WATCHQ_INFO_ID__SHIFT		8
#define WATCHQ_INFO_TYPE_INFO		0xffff0000	/* type-specific info */
#define WATCHQ_INFO_TYPE_INFO__SHIFT	16
#define WATCHQ_INFO_FLAG_0		0x00010000
#define WATCHQ_INFO_FLAG_1		0x00020000
#define WATCHQ_INFO_FLAG_2		0x00040000
#define WATCHQ_INFO_FLAG_3		0x00080000
#define WATCHQ_INFO_FLAG_4		0x00100000
#define WATCHQ_INFO_FLAG_5		0x00200000
#define WATCHQ_INFO_FLAG_6		0x00400000
#define WATCHQ_INFO_FLAG_7		0x00800000

/* Build an info word: length in slots, watch id, type-specific flags. */
#define WATCHQ_INFO(slots, id, flags) \
	((__u32)(slots) | ((__u32)(id) << WATCHQ_INFO_ID__SHIFT) | (__u32)(flags))

/* Set in the metadata header's info when a record could not be written. */
#define WATCHQ_INFO_NOTIFICATIONS_LOST	WATCHQ_INFO_FLAG_0

enum watchq_meta_notification_subtype {
	WATCHQ_META_SKIP_NOTIFICATION	= 0,	/* padding: skip this record */
	WATCHQ_META_REMOVAL_NOTIFICATION = 1,	/* watched object or watch gone */
};

/*
 * The mapped ring.  Slot 0 starts the metadata record: a META/SKIP header
 * whose length covers the metadata, so a consumer whose tail reaches slot 0
 * skips it like any padding.  head and tail are free-running slot counters;
 * (counter & mask) indexes slots[].  The producer owns head, the consumer
 * owns tail.
 */
struct watchq_buffer {
	union {
		struct {
			struct watchq_notification watch; /* META/SKIP, 3 slots */
			__u32	head;		/* producer's free-running index */
			__u32	tail;		/* consumer's free-running index */
			__u32	mask;		/* number of slots - 1 */
			__u32	__reserved;
		} meta;
		struct watchq_notification slots[0];
	};
};

/* Length of the metadata record in slots (24 bytes). */
#define WATCHQ_META_SLOTS	3

/* Filters: one set per queue; without one, every record passes. */
struct watchq_notification_type_filter {
	__u32	type;			/* type to apply the filter to */
	__u32	info_filter;		/* (info & info_mask) must equal this */
	__u32	info_mask;		/* may not cover WATCHQ_INFO_LENGTH */
	__u32	subtype_filter[8];	/* bit n passes subtype n */
};

struct watchq_notification_filter {
	__u32	nr_filters;		/* 1 to WATCHQ_MAX_FILTERS */
	__u32	__reserved;		/* must be 0 */
	struct watchq_notification_type_filter filters[];
};

#define WATCHQ_MAX_FILTERS	16

/* META/REMOVAL: 1 slot, or 2 with the id of the object that went away. */
struct watchq_notification_removal {
	struct watchq_notification watch;
	__u64	id;
};

/* Key and keyring notifications (type 1): 2 slots. */
enum watchq_key_notification_subtype {
	WATCHQ_NOTIFY_KEY_INSTANTIATED	= 0,	/* aux: error code, 0 on success */
	WATCHQ_NOTIFY_KEY_UPDATED	= 1,
	WATCHQ_NOTIFY_KEY_LINKED	= 2,	/* aux: serial of the linked key */
	WATCHQ_NOTIFY_KEY_UNLINKED	= 3,	/* aux: serial of the unlinked key */
	WATCHQ_NOTIFY_KEY_CLEARED	= 4,
	WATCHQ_NOTIFY_KEY_REVOKED	= 5,
	WATCHQ_NOTIFY_KEY_INVALIDATED	= 6,
	WATCHQ_NOTIFY_KEY_SETATTR	= 7,
};

struct watchq_key_notification {
	struct watchq_notification watch;
	__u32	key_id;		/* the key or keyring that changed */
	__u32	aux;		/* per subtype, see above */
};

/* Block-layer errors (type 2): 3 slots.  Watches are global. */
enum watchq_block_notification_subtype {
	WATCHQ_NOTIFY_BLOCK_ERROR_TIMEOUT		= 1,
	WATCHQ_NOTIFY_BLOCK_ERROR_NO_SPACE		= 2,
	WATCHQ_NOTIFY_BLOCK_ERROR_RECOVERABLE_TRANSPORT	= 3,
	WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_TARGET	= 4,
	WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_NEXUS	= 5,
	WATCHQ_NOTIFY_BLOCK_ERROR_CRITICAL_MEDIUM	= 6,
	WATCHQ_NOTIFY_BLOCK_ERROR_PROTECTION		= 7,
	WATCHQ_NOTIFY_BLOCK_ERROR_KERNEL_RESOURCE	= 8,
	WATCHQ_NOTIFY_BLOCK_ERROR_DEVICE_RESOURCE	= 9,
	WATCHQ_NOTIFY_BLOCK_ERROR_IO			= 10,
};

struct watchq_block_notification {
	struct watchq_notification watch;
	__u64	dev;		/* dev_t of the device */
	__u64	sector;		/* first affected sector */
};

/* USB devices (type 3): the record is padded to a whole slot. */
enum watchq_usb_notification_subtype {
	WATCHQ_NOTIFY_USB_DEVICE_ADD	= 0,
	WATCHQ_NOTIFY_USB_DEVICE_REMOVE	= 1,
	WATCHQ_NOTIFY_USB_DEVICE_RESET	= 2,
	WATCHQ_NOTIFY_USB_DEVICE_ERROR	= 3,
};

#define WATCHQ_USB_NAME_MAX	63

struct watchq_usb_notification {
	struct watchq_notification watch;
	__u32	error;
	__u32	reserved;
	__u8	name_len;	/* at most WATCHQ_USB_NAME_MAX */
	__u8	name[];
};

/* Mount topology (type 4 here): 3 slots. */
enum watchq_mount_notification_subtype {
	WATCHQ_NOTIFY_MOUNT_NEW_MOUNT	= 0,	/* parent; the new mount */
	WATCHQ_NOTIFY_MOUNT_UNMOUNT	= 1,	/* parent; the removed mount */
	WATCHQ_NOTIFY_MOUNT_EXPIRY	= 2,	/* the expired mount */
	WATCHQ_NOTIFY_MOUNT_READONLY	= 3,	/* the mount */
	WATCHQ_NOTIFY_MOUNT_SETATTR	= 4,	/* the mount */
	WATCHQ_NOTIFY_MOUNT_MOVE_FROM	= 5,	/* old parent; the moved mount */
	WATCHQ_NOTIFY_MOUNT_MOVE_TO	= 6,	/* new parent; the moved mount */
};

#define WATCHQ_NOTIFY_MOUNT_IN_SUBTREE	WATCHQ_INFO_FLAG_0 /* below the watch */
#define WATCHQ_NOTIFY_MOUNT_IS_NOW_RO	WATCHQ_INFO_FLAG_1
#define WATCHQ_NOTIFY_MOUNT_IS_SUBMOUNT	WATCHQ_INFO_FLAG_2 /* kernel-made */

struct watchq_mount_notification {
	struct watchq_notification watch;
	__u64	triggered_on;
	__u64	auxiliary_mount;
};

/* Superblocks (type 5 here): 2 slots, or 3 for ERROR. */
enum watchq_superblock_notification_subtype {
	WATCHQ_NOTIFY_SUPERBLOCK_READONLY	= 0,
	WATCHQ_NOTIFY_SUPERBLOCK_ERROR		= 1,
	WATCHQ_NOTIFY_SUPERBLOCK_EDQUOT		= 2,
	WATCHQ_NOTIFY_SUPERBLOCK_NETWORK	= 3,
};

#define WATCHQ_NOTIFY_SUPERBLOCK_IS_NOW_RO	WATCHQ_INFO_FLAG_0

struct watchq_superblock_notification {
	struct watchq_notification watch;
	__u64	sb_id;		/* st_dev of a file on the superblock */
};

struct watchq_superblock_error_notification {
	struct watchq_superblock_notification s;
	__u32	error_number;	/* positive errno */
	__u32	error_cookie;
};

/* Every size and offset a consumer relies on, checked where it is built. */
#ifdef __cplusplus
#define WATCHQ__CHECK(what, cond) static_assert(cond, "watchq ABI: " what)
#else
#define WATCHQ__CHECK(what, cond) _Static_assert(cond, "watchq ABI: " what)
#endif
WATCHQ__CHECK("header is one slot", sizeof(struct watchq_notification) == 8);
WATCHQ__CHECK("info is the second word",
	      __builtin_offsetof(struct watchq_notification, info) == 4);
WATCHQ__CHECK("metadata is 3 slots",
	      sizeof(((struct watchq_buffer *)0)->meta) == WATCHQ_META_SLOTS * 8);
WATCHQ__CHECK("meta.head", __builtin_offsetof(struct watchq_buffer, meta.head) == 8);
WATCHQ__CHECK("meta.tail", __builtin_offsetof(struct watchq_buffer, meta.tail) == 12);
WATCHQ__CHECK("meta.mask", __builtin_offsetof(struct watchq_buffer, meta.mask) == 16);
WATCHQ__CHECK("type filter is 44 bytes",
	      sizeof(struct watchq_notification_type_filter) == 44);
WATCHQ__CHECK("filter header is 8 bytes",
	      sizeof(struct watchq_notification_filter) == 8);
WATCHQ__CHECK("removal is 2 slots",
	      sizeof(struct watchq_notification_removal) == 16);
WATCHQ__CHECK("key record is 2 slots",
	      sizeof(struct watchq_key_notification) == 16);
WATCHQ__CHECK("key_id", __builtin_offsetof(struct watchq_key_notification, key_id) == 8);
WATCHQ__CHECK("aux", __builtin_offsetof(struct watchq_key_notification, aux) == 12);
WATCHQ__CHECK("block record is 3 slots",
	      sizeof(struct watchq_block_notification) == 24);
WATCHQ__CHECK("block sector",
	      __builtin_offsetof(struct watchq_block_notification, sector) == 16);
WATCHQ__CHECK("usb name",
	      __builtin_offsetof(struct watchq_usb_notification, name) == 17);
WATCHQ__CHECK("mount record is 3 slots",
	      sizeof(struct watchq_mount_notification) == 24);
WATCHQ__CHECK("mount auxiliary_mount",
	      __builtin_offsetof(struct watchq_mount_notification, auxiliary_mount) == 16);
WATCHQ__CHECK("superblock record is 2 slots",
	      sizeof(struct watchq_superblock_notification) == 16);
WATCHQ__CHECK("superblock error record is 3 slots",
	      sizeof(struct watchq_superblock_error_notification) == 24);
WATCHQ__CHECK("error_number",
	      __builtin_offsetof(struct watchq_superblock_error_notification,
				 error_number) == 16);
#undef WATCHQ__CHECK

#endif /* WATCHQ_ABI_H */
