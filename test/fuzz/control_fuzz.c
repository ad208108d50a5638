/*
 * The control protocol's codec (lib/control/ctl_msg.c) fed hostile bytes
 * as a stream of frames.  Each frame parsed must lie within the input,
 * re-encode, and the re-encoding must parse to a message that encodes to
 * the same bytes again (encode is a fixed point after one round).  Every
 * prefix of the input shorter than a whole frame needs more, never less.
 * An error ends the stream, with a printable, NUL-terminated line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctl_msg.h"

#define control_fuzz_assert(c) do { if (!(c)) abort(); } while (0)

static struct ctl_msg control_fuzz_m, control_fuzz_m2;
static uint8_t control_fuzz_a[CTL_FRAME_MAX], control_fuzz_b[CTL_FRAME_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[300], err2[300];
	size_t at = 0, i;
	long n, a, b;

	while (at < size) {
		err[0] = '\0';
		n = ctl_parse(data + at, size - at, &control_fuzz_m, err,
		    sizeof(err));
		if (n <= 0) {
			if (n < 0) {
				control_fuzz_assert(err[0] != '\0');
				for (i = 0; err[i]; i++)
					control_fuzz_assert((unsigned char)
					    err[i] >= 0x20);
			}
			break;
		}
		control_fuzz_assert((size_t)n >= CTL_HDR_LEN &&
		    (size_t)n <= size - at);
		/* A prefix of a whole frame only ever needs more. */
		control_fuzz_assert(ctl_parse(data + at, (size_t)n - 1,
		    &control_fuzz_m2, err2, sizeof(err2)) == 0);
		a = ctl_encode(&control_fuzz_m, control_fuzz_a,
		    sizeof(control_fuzz_a));
		control_fuzz_assert(a >= CTL_HDR_LEN);
		control_fuzz_assert(ctl_parse(control_fuzz_a, (size_t)a,
		    &control_fuzz_m2, err2, sizeof(err2)) == a);
		b = ctl_encode(&control_fuzz_m2, control_fuzz_b,
		    sizeof(control_fuzz_b));
		control_fuzz_assert(a == b &&
		    memcmp(control_fuzz_a, control_fuzz_b, (size_t)a) == 0);
		for (i = 0; control_fuzz_m.reason[i]; i++)
			control_fuzz_assert((unsigned char)
			    control_fuzz_m.reason[i] >= 0x20 &&
			    (unsigned char)control_fuzz_m.reason[i] < 0x7f);
		at += (size_t)n;
	}
	return 0;
}
