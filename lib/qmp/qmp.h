#ifndef MIG_QMP_H
#define MIG_QMP_H
/*
 * A QMP client.  Two layers:
 *
 *  - the codec (qmp_codec.c) does no I/O: it is fed bytes, splits them into
 *    messages, parses each with json.h and classifies it as greeting,
 *    return, error or event.  QEMU ends each message with "\r\n", but
 *    messages are framed by balancing braces (outside strings), so a
 *    monitor with pretty=on works too and garbage is refused at its first
 *    byte rather than at a newline that may never come.  Whitespace between
 *    messages is skipped; a message longer than QMP_MSG_MAX is an error;
 *  - the client (qmp.c) is the I/O edge: connect, greeting, capability
 *    negotiation, commands by id with deadlines, fd passing, event queue.
 *
 * Events that arrive while a command waits for its return are queued (up to
 * QMP_EVENTS_MAX, oldest dropped; a wait warns once and then gives the
 * count) and handed out, oldest first, by qmp_next_event.  Deadlines hold
 * however much the peer sends: only the bytes ready at the first look may
 * be taken after one.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/endpoint.h"
#include "json/json.h"

#define QMP_MSG_MAX (512u * 1024)
#define QMP_NODES 8192
#define QMP_EVENTS_MAX 64
#define QMP_EVENT_MAX (8u * 1024)

enum qmp_msg_kind {
	QMP_MSG_GREETING = 1,	/* {"QMP": {...}} */
	QMP_MSG_RETURN,		/* {"return": ..., "id": ...} */
	QMP_MSG_ERROR,		/* {"error": {"class","desc"}, "id": ...} */
	QMP_MSG_EVENT,		/* {"event": "NAME", "data": ..., ...} */
};

/* One parsed message; valid until the next call on the same qmp/codec. */
struct qmp_msg {
	enum qmp_msg_kind kind;
	struct json_doc doc;
	int64_t id;		/* RETURN/ERROR: our numeric id, -1 if none,
				   -2 if not an integer (so not ours) */
	int value;		/* node: "return" value, "error" object,
				   event "data" (-1 if absent) */
	char name[64];		/* EVENT: event name; ERROR: error class */
	char desc[512];		/* ERROR: error description */
};

/* ---- codec: bytes in, messages out, no I/O ---- */

struct qmp_codec {
	char in[QMP_MSG_MAX + 2];
	size_t inlen;
	struct json_node nodes[QMP_NODES];
	/* private to qmp_codec.c */
	size_t start;		/* in[start..inlen) is not handed out yet */
	size_t scan;		/* bytes of the pending message scanned */
	int depth;		/* nesting of {} and [] at the scan point */
	int instr;		/* 1 in a string, 2 after a backslash in one */
	uint64_t off;		/* stream offset of in[0], for messages */
};

void qmp_codec_init(struct qmp_codec *c);

/*
 * Free space to receive into: *avail bytes at the returned pointer.  After
 * writing n bytes there call qmp_codec_wrote(c, n).
 */
char *qmp_codec_space(struct qmp_codec *c, size_t *avail);
void qmp_codec_wrote(struct qmp_codec *c, size_t n);

/*
 * Take the next complete message out of the buffer.  Returns 1 with *m
 * filled, 0 if more bytes are needed, -1 with a reason in err if the peer
 * sent garbage (not JSON, not an object, a message too long, an unknown
 * kind).  After -1 the stream is unusable.
 */
int qmp_codec_next(struct qmp_codec *c, struct qmp_msg *m, char *err,
    size_t errlen);

/*
 * Format a command {"execute": cmd, "arguments": args, "id": id} + "\r\n"
 * into buf.  args is a JSON object text or NULL.  Returns length or -1.
 */
int qmp_codec_command(char *buf, size_t buflen, const char *cmd,
    const char *args, int64_t id);

/*
 * Parse and classify one whole message text[0..len) using nodes[0..cap),
 * as qmp_codec_next does (the client re-parses queued events with it).
 * Returns 0 with *m filled (m->doc points into text), or -1 with a reason.
 */
int qmp_codec_parse(struct qmp_msg *m, const char *text, size_t len,
    struct json_node *nodes, size_t cap, char *err, size_t errlen);

/*
 * ---- client ----
 * struct qmp is about 1.3 MB: make it static or allocate it, never put it
 * on a stack.  The socket is made nonblocking so deadlines hold for
 * writes as well as reads.
 */

struct qmp_event_slot {
	size_t len;
	char text[QMP_EVENT_MAX];
};

struct qmp {
	int fd;
	int64_t next_id;
	struct qmp_codec codec;
	struct qmp_msg msg;		/* the last message handed out */
	char evtext[QMP_EVENT_MAX];	/* text of the last event handed out */
	struct json_node evnodes[512];
	struct qmp_event_slot events[QMP_EVENTS_MAX];
	unsigned ev_head, ev_count;
	unsigned ev_dropped;		/* events dropped in this wait */
	char err[600];			/* reason for the last failure */
};

/*
 * Connect to ep, read the greeting, run qmp_capabilities.  Returns 0, or -1
 * with q->err set ("not a QMP socket: ...", "timed out waiting for the QMP
 * greeting").  On failure the fd is closed; qmp_close(q) is still harmless.
 */
int qmp_open(struct qmp *q, const struct endpoint *ep, int64_t deadline_ms);

/* As qmp_open, on an already connected fd (taken over by q). */
int qmp_open_fd(struct qmp *q, int fd, int64_t deadline_ms);

void qmp_close(struct qmp *q);

/*
 * Run a command and wait for its reply.  cmd: a QMP command name
 * ([A-Za-z0-9_-]); args: JSON object text or NULL, sent as is.
 * Returns 0 with the reply in *out (out->kind RETURN, out->value the
 * "return" node), 1 if QEMU answered with an error (out->name = class,
 * out->desc = description, q->err = "'CMD' failed: DESC"), or -1 on I/O
 * failure, EOF, garbage or deadline (q->err says which).  *out is q->msg
 * and stays valid until the next call on q.
 *
 * While waiting: events are queued; replies with another id (say, the late
 * reply to a command that timed out) are ignored; an error reply with no id
 * is taken as ours (QEMU answers so when it cannot parse a command), a
 * return with no id is a protocol error (-1).  Events and other replies
 * that keep coming do not extend the deadline.  After a timeout the
 * connection stays usable.
 */
int qmp_exec(struct qmp *q, const char *cmd, const char *args,
    int64_t deadline_ms, struct qmp_msg **out);

/* As qmp_exec, passing fd with the command (SCM_RIGHTS), for getfd. */
int qmp_exec_fd(struct qmp *q, const char *cmd, const char *args, int fd,
    int64_t deadline_ms, struct qmp_msg **out);

/*
 * The next event: queued ones first, then from the socket until
 * deadline_ms.  Returns 1 with *out (kind EVENT), 0 on deadline or when a
 * signal interrupted the wait (so the caller can look at its flags), -1 on
 * EOF, I/O failure or garbage.  A deadline already past still takes what
 * the socket has ready, so qmp_next_event(q, clock_ms(), ...) polls.
 * Replies to earlier commands (late ones) are skipped.
 */
int qmp_next_event(struct qmp *q, int64_t deadline_ms, struct qmp_msg **out);

#endif
