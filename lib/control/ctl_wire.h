#ifndef MIG_CTL_WIRE_H
#define MIG_CTL_WIRE_H
/*
 * The control protocol's wire constants and bounds, version 1
 * (doc/control-protocol.md).  Every length read off the wire is checked
 * against one of these before anything is stored.
 */

#define CTL_MAGIC0 'M'
#define CTL_MAGIC1 'C'
#define CTL_VERSION 1

#define CTL_HDR_LEN 8		/* 'M' 'C' version type length(u32, BE) */
#define CTL_FIELD_HDR_LEN 5	/* tag length(u32, BE) */

/* Bounds on values (bytes, without any terminating NUL). */
#define CTL_NAME_MAX 64		/* a guest's name, as def.h's */
#define CTL_DEF_MAX (64u * 1024)	/* a definition, as def.h's DEF_MAX */
#define CTL_URI_MAX 300		/* an endpoint as a user writes it */
#define CTL_REASON_MAX 512	/* one line for people */
#define CTL_ID_MAX 63		/* a disk's ID, as disks.h's */
#define CTL_FORMAT_MAX 15	/* a disk's format */
#define CTL_DISKS_MAX 16	/* disks in one request, as disks.h's */
#define CTL_CONNS_MAX 255	/* --parallel-connections */

/* The largest body: a full request, with room for every field's header. */
#define CTL_BODY_MAX (CTL_DEF_MAX + 4096u + CTL_DISKS_MAX * \
    (3u * CTL_FIELD_HDR_LEN + CTL_ID_MAX + CTL_FORMAT_MAX + 8u))
#define CTL_FRAME_MAX (CTL_HDR_LEN + CTL_BODY_MAX)

/* Message types. */
enum ctl_type {
	CTL_PREPARE = 1,	/* source: the request */
	CTL_ACCEPT = 2,		/* destination: ready, here are the sockets */
	CTL_REFUSE = 3,		/* destination: no, with a reason */
	CTL_LOADED = 4,		/* destination: the stream completed, paused */
	CTL_COMMIT = 5,		/* source: I will never resume my copy */
	CTL_STARTED = 6,	/* destination: the guest is here (flags) */
	CTL_FAILED = 7,		/* destination: failed (flags, reason) */
	CTL_ABORT = 8,		/* source: I gave up before the switch-over */
	CTL_BYE = 9,		/* either: nothing more will be sent */
	CTL_PING = 10,		/* either: are you there? */
	CTL_PONG = 11,		/* either: the answer to a ping */
	CTL_DEFINED = 12,	/* destination: offline, the definition stored */
	CTL_TUNNEL = 13,	/* either: from the next byte on, the tunnel
				   protocol carries everything (--tunnelled) */
	CTL_TYPE_MAX = 13,
};

/* Field tags. */
enum ctl_tag {
	CTL_F_NAME = 1,		/* string, 1..CTL_NAME_MAX */
	CTL_F_DEF = 2,		/* text, 0..CTL_DEF_MAX, no NUL */
	CTL_F_DISK_ID = 3,	/* string, 1..CTL_ID_MAX: begins a disk */
	CTL_F_DISK_FORMAT = 4,	/* string, 1..CTL_FORMAT_MAX */
	CTL_F_DISK_SIZE = 5,	/* u64 BE, at most INT64_MAX */
	CTL_F_FLAGS = 6,	/* u32 BE, CTL_FL_* */
	CTL_F_CONNS = 7,	/* u32 BE, 1..CTL_CONNS_MAX */
	CTL_F_MIGRATE_URI = 8,	/* string, 1..CTL_URI_MAX */
	CTL_F_DISKS_URI = 9,	/* string, 1..CTL_URI_MAX */
	CTL_F_REASON = 10,	/* string, 0..CTL_REASON_MAX */
	CTL_F_DNAME = 11,	/* string, 1..CTL_NAME_MAX */
};

/* CTL_F_FLAGS bits. */
enum {
	CTL_FL_RUNNING = 1u << 0,	/* the source guest was running */
	CTL_FL_POSTCOPY = 1u << 1,
	CTL_FL_PARALLEL = 1u << 2,
	CTL_FL_STORAGE = 1u << 3,	/* disks are copied (all or inc) */
	CTL_FL_PERSISTENT = 1u << 4,
	CTL_FL_UNDEFINESOURCE = 1u << 5,
	CTL_FL_OFFLINE = 1u << 6,
	CTL_FL_PAUSED = 1u << 7,	/* STARTED: the guest is paused there */
	CTL_FL_HERE = 1u << 8,		/* FAILED: the destination still has
					   the guest (paused) */
	CTL_FL_ALL = (1u << 9) - 1,
};

/*
 * Keepalive, as libvirt's: a side that sent nothing for CTL_KEEPALIVE_MS
 * sends a ping; a peer from which nothing came for CTL_KEEPALIVE_MS *
 * CTL_KEEPALIVE_COUNT is silent, and the connection is lost.
 */
#define CTL_KEEPALIVE_MS 5000
#define CTL_KEEPALIVE_COUNT 5

#endif
