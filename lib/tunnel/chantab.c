/*
 * The channel table and the credit pool (chantab.h).  The pool: every
 * channel may have CHANTAB_WIN_MIN outstanding (granted, or in its
 * backlog); what a channel commits beyond that is its excess, and the
 * excesses together stay within CHANTAB_BUDGET.  Grants are the only way
 * credit grows, so checking them here bounds a session's memory.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "tunnel/chantab.h"

void
chantab_init(struct chantab *t)
{
	memset(t, 0, sizeof(*t));
}

static uint32_t
chantab_excess(uint32_t commit)
{
	return commit > CHANTAB_WIN_MIN ? commit - CHANTAB_WIN_MIN : 0;
}

/* Recount what c may hold (credit out plus backlog) into the pool. */
static void
chantab_sync(struct chantab *t, struct chan *c)
{
	uint32_t now = c->mem == NULL ? 0 :
	    c->rx_granted + (uint32_t)ring_used(&c->backlog);

	t->excess -= chantab_excess(c->commit);
	t->excess += chantab_excess(now);
	c->commit = now;
}

/*
 * Released channels stay in chans[] until the sweep; a peer that closes
 * and reopens numbers within one read can leave more of them than the
 * table holds beside the live ones, so a full table is swept first.
 */
struct chan *
chantab_new(struct chantab *t, int mine, unsigned num, int with_backlog)
{
	struct chan *c;

	if (t->nchan == CHANTAB_MAX)
		chantab_sweep(t);
	if (t->nchan == CHANTAB_MAX)
		return NULL;	/* cannot be: live channels have a number each */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (with_backlog) {
		/* Untouched until a local side lags: address space, not RSS. */
		c->mem = malloc(CHANTAB_WIN_MAX);
		if (c->mem == NULL) {
			free(c);
			return NULL;
		}
		ring_init(&c->backlog, c->mem, CHANTAB_WIN_MAX);
		t->nring++;
	}
	c->fd = -1;
	c->mine = (uint8_t)mine;
	c->num = (uint16_t)num;
	t->ids[mine][num] = c;
	t->chans[t->nchan++] = c;
	if (mine)
		t->next_num = (num + 1) % FRAME_CHANS;
	return c;
}

int
chantab_next_num(struct chantab *t)
{
	unsigned num, k;

	for (k = 0; k < FRAME_CHANS; k++) {
		num = (t->next_num + k) % FRAME_CHANS;
		if (t->ids[1][num] == NULL)
			return (int)num;
	}
	return -1;
}

void
chantab_close_fd(struct chantab *t, struct chan *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->mem != NULL) {
		free(c->mem);
		c->mem = NULL;
		t->nring--;
		ring_init(&c->backlog, NULL, 0);
	}
	chantab_sync(t, c);
	if (t->rx == c)
		t->rx = NULL;
}

void
chantab_release(struct chantab *t, struct chan *c)
{
	chantab_close_fd(t, c);
	if (t->ids[c->mine][c->num] == c)
		t->ids[c->mine][c->num] = NULL;
	if (!c->dead && c->state == CHANTAB_OPEN)
		log_info("channel %s #%u%s closed: %llu bytes sent, %llu "
		    "received", c->name, c->num, c->mine ? "" : " (peer's)",
		    (unsigned long long)c->tx_bytes,
		    (unsigned long long)c->rx_bytes);
	c->dead = 1;
}

void
chantab_sweep(struct chantab *t)
{
	struct chan *c;
	size_t i = 0;

	while (i < t->nchan) {
		c = t->chans[i];
		if (!c->dead) {
			i++;
			continue;
		}
		t->chans[i] = t->chans[--t->nchan];
		free(c);
		t->sweeps++;
	}
}

void
chantab_free_all(struct chantab *t)
{
	size_t i;

	for (i = 0; i < t->nchan; i++) {
		chantab_close_fd(t, t->chans[i]);
		free(t->chans[i]);
	}
	t->nchan = 0;
}

/*
 * A share is a target, not a promise: a channel that got a big window
 * while alone keeps it until the data arrives, and the pool, not the
 * shares, bounds the total.
 */
uint32_t
chantab_cap(const struct chantab *t)
{
	uint32_t cap = CHANTAB_BUDGET / (uint32_t)(t->nring ? t->nring : 1);

	return cap < CHANTAB_WIN_MIN ? CHANTAB_WIN_MIN :
	    cap > CHANTAB_WIN_MAX ? CHANTAB_WIN_MAX : cap;
}

/* Steps of half a window keep CREDIT frames rare. */
void
chantab_grant(struct chantab *t, struct chan *c)
{
	uint32_t cap, want, pool, step;

	chantab_sync(t, c);
	if (c->mem == NULL || c->eof_rcvd || c->close_want || c->close_sent ||
	    c->close_rcvd)
		return;
	cap = chantab_cap(t);
	if (c->commit >= cap)
		return;
	want = cap;
	step = cap / 2;
	pool = t->excess > CHANTAB_BUDGET ? 0 :
	    CHANTAB_BUDGET - (uint32_t)t->excess + chantab_excess(c->commit);
	if (want > CHANTAB_WIN_MIN + pool) {
		/* The pool is short: smaller steps, the minimum always. */
		want = CHANTAB_WIN_MIN + pool;
		step = CHANTAB_WIN_MIN / 4;
	}
	if (want <= c->commit || want - c->commit < step)
		return;
	c->rx_granted += want - c->commit;
	c->rx_unsent += want - c->commit;
	chantab_sync(t, c);
}

void
chantab_received(struct chan *c, size_t n)
{
	c->rx_granted -= (uint32_t)n;
	c->rx_bytes += n;
}
