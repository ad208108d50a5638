/*
 * What the peer transports share (peer.h): the wakeup threshold and how a
 * lost stream ends the session.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tunnel/mux.h"

void
peer_lowat(struct mux *s, int want)
{
	if (s->peer.lowat < 0 || s->peer.lowat == want)
		return;
	if (setsockopt(s->peer.rfd, SOL_SOCKET, SO_RCVLOWAT, &want,
	    sizeof(want)) < 0) {
		s->peer.lowat = -1;	/* not TCP, or not allowed: never mind */
		return;
	}
	s->peer.lowat = want;
}

void
peer_eof(struct mux *s)
{
	/* The stream ended without GOODBYE: the peer is lost. */
	mux_end(s, MUX_LOST, "%s closed the stream%s", s->cfg->peer,
	    frame_dec_at_boundary(&s->dec) ? " without saying goodbye" :
	    " in the middle of a frame");
}

void
peer_fail(struct mux *s, const char *what, int err)
{
	/* Read or write error on the stream: the peer is lost. */
	mux_end(s, MUX_LOST, "%s lost: %s: %s", s->cfg->peer, what,
	    strerror(err));
}
