/*
 * The session's channel table and credit pool (lib/tunnel/chantab.c),
 * without sockets: the credit arithmetic (windows, steps, the pool's
 * bound, credit plus backlog within a window) and the table's bound
 * (numbers each way, dead channels swept, our numbers going round).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "base/log.h"
#include "tunnel/chantab.h"

#define KIB 1024u

static struct chantab tab;

/* What all channels commit beyond the minimum: the pool in use. */
static size_t
pool_used(const struct chantab *t)
{
	size_t i, sum = 0;

	for (i = 0; i < t->nchan; i++)
		if (t->chans[i]->commit > CHANTAB_WIN_MIN)
			sum += t->chans[i]->commit - CHANTAB_WIN_MIN;
	return sum;
}

/* Credit plus backlog of every channel within its window. */
static int
windows_hold(const struct chantab *t)
{
	const struct chan *c;
	size_t i;

	for (i = 0; i < t->nchan; i++) {
		c = t->chans[i];
		if (c->rx_granted + ring_used(&c->backlog) > CHANTAB_WIN_MAX)
			return 0;
	}
	return 1;
}

static void
credit(void)
{
	static uint8_t junk[64 * KIB];
	struct chan *a, *b, *c, *many[200];
	size_t i;

	chantab_init(&tab);
	CHECKM(chantab_cap(&tab) == CHANTAB_WIN_MAX, "alone: the whole window");
	a = chantab_new(&tab, 1, 0, 1);
	if (!CHECK(a != NULL))
		return;
	chantab_grant(&tab, a);
	CHECK(a->rx_granted == CHANTAB_WIN_MAX);
	CHECKM(a->rx_unsent == CHANTAB_WIN_MAX, "all of it to be told");
	CHECK(tab.excess == CHANTAB_WIN_MAX - CHANTAB_WIN_MIN);
	a->rx_unsent = 0;
	chantab_grant(&tab, a);
	CHECKM(a->rx_unsent == 0, "a full window: no more credit");

	/* Spent credit comes back in steps of half a window, no smaller. */
	chantab_received(a, 100 * KIB);
	CHECK(a->rx_granted == CHANTAB_WIN_MAX - 100 * KIB);
	CHECK(a->rx_bytes == 100 * KIB);
	chantab_grant(&tab, a);
	CHECKM(a->rx_unsent == 0, "100 KiB spent: below the step");
	chantab_received(a, 500 * KIB);
	chantab_grant(&tab, a);
	CHECKM(a->rx_unsent == 600 * KIB, "600 KiB spent: all of it back");
	CHECK(a->rx_granted == CHANTAB_WIN_MAX);

	/* What waits in the backlog counts against the window. */
	chantab_received(a, sizeof(junk));
	ring_put(&a->backlog, junk, sizeof(junk));
	a->rx_unsent = 0;
	chantab_received(a, 600 * KIB);
	chantab_grant(&tab, a);
	CHECKM(a->rx_unsent == 600 * KIB, "the window less the backlog");
	CHECKM(windows_hold(&tab), "credit plus backlog within the window");
	ring_drain(&a->backlog, ring_used(&a->backlog));

	/*
	 * A window got alone is kept; newcomers share what is left of the
	 * pool, and once it is short, smaller windows, the minimum always.
	 */
	b = chantab_new(&tab, 0, 0, 1);
	c = chantab_new(&tab, 0, 1, 1);
	if (!CHECK(b != NULL && c != NULL))
		return;
	CHECKM(chantab_cap(&tab) == CHANTAB_BUDGET / 3, "three shares");
	chantab_grant(&tab, b);
	CHECK(b->rx_granted == CHANTAB_BUDGET / 3);
	chantab_grant(&tab, c);
	CHECKM(c->rx_granted == CHANTAB_BUDGET - (CHANTAB_WIN_MAX -
	    CHANTAB_WIN_MIN) - (CHANTAB_BUDGET / 3 - CHANTAB_WIN_MIN) +
	    CHANTAB_WIN_MIN, "the rest of the pool");
	CHECKM(tab.excess == CHANTAB_BUDGET, "the pool used up");
	CHECK(pool_used(&tab) == tab.excess);

	/* Flags that end a direction end its credit too. */
	c->rx_unsent = 0;
	c->eof_rcvd = 1;
	chantab_received(c, c->rx_granted);
	chantab_grant(&tab, c);
	CHECKM(c->rx_unsent == 0, "no credit after EOF");

	/* Closing gives the channel's share back. */
	chantab_close_fd(&tab, a);
	CHECK(a->mem == NULL && tab.nring == 2);
	CHECK(tab.excess == CHANTAB_BUDGET / 3 - CHANTAB_WIN_MIN);
	chantab_release(&tab, a);
	chantab_release(&tab, b);
	chantab_release(&tab, c);
	chantab_sweep(&tab);
	CHECK(tab.nchan == 0 && tab.excess == 0 && tab.nring == 0);

	/* Many channels: the minimum each, and the pool bounds the rest. */
	for (i = 0; i < 200; i++) {
		many[i] = chantab_new(&tab, 0, (unsigned)i, 1);
		if (!CHECK(many[i] != NULL))
			return;
		chantab_grant(&tab, many[i]);
		/* Bytes in flight, never taken: the worst case. */
		chantab_received(many[i], many[i]->rx_granted / 2);
		chantab_grant(&tab, many[i]);
	}
	CHECKM(chantab_cap(&tab) == CHANTAB_WIN_MIN, "200 shares: the minimum");
	for (i = 0; i < 200; i++)
		chantab_grant(&tab, many[i]);
	CHECKM(tab.excess <= CHANTAB_BUDGET, "the pool bounds the total");
	CHECK(pool_used(&tab) == tab.excess);
	for (i = 0; i < 200; i++)
		CHECK(many[i]->rx_granted >= CHANTAB_WIN_MIN / 2);
	chantab_free_all(&tab);
}

static void
bound(void)
{
	struct chan *c;
	int num, i, ok = 1;

	chantab_init(&tab);
	/* Every number each way, without backlogs (address space). */
	for (i = 0; i < FRAME_CHANS && ok; i++) {
		num = chantab_next_num(&tab);
		ok = num == i && chantab_new(&tab, 1, (unsigned)num, 0) != NULL;
		ok = ok && chantab_new(&tab, 0, (unsigned)i, 0) != NULL;
	}
	CHECKM(ok, "1024 numbers each way");
	CHECK(tab.nchan == CHANTAB_MAX);
	CHECKM(chantab_next_num(&tab) == -1, "all our numbers in use");
	CHECKM(chantab_new(&tab, 0, 7, 0) == NULL, "a full table takes no more");

	/* A released channel stays until the sweep, its number free. */
	c = tab.ids[0][7];
	chantab_release(&tab, c);
	CHECK(c->dead && tab.ids[0][7] == NULL && tab.nchan == CHANTAB_MAX);
	c = chantab_new(&tab, 0, 7, 0);
	CHECKM(c != NULL && tab.nchan == CHANTAB_MAX, "full: swept first");
	CHECK(tab.ids[0][7] == c);

	/* Our numbers go round: a freed one is not reused at once. */
	chantab_release(&tab, tab.ids[1][3]);
	chantab_release(&tab, tab.ids[1][1000]);
	chantab_sweep(&tab);
	CHECK(tab.nchan == CHANTAB_MAX - 2);
	num = chantab_next_num(&tab);
	CHECKM(num == 3, "the first free one, after the last taken");
	CHECK(chantab_new(&tab, 1, (unsigned)num, 0) != NULL);
	CHECKM(chantab_next_num(&tab) == 1000, "then on from there");
	chantab_free_all(&tab);
	CHECK(tab.nchan == 0);
}

int
main(void)
{
	log_init("tunnel_chantab_test", getenv("MUX_TEST_LOG") != NULL);
	credit();
	bound();
	return check_done();
}
