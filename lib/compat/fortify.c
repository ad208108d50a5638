/*
 * Debian's libbearssl.a is compiled against glibc with _FORTIFY_SOURCE, so
 * its objects call the checked variants of a few string functions.  musl
 * has none of them; these shims provide them with the same abort-on-overflow
 * contract so that the static archive links against musl unchanged.
 */
#include <stdlib.h>
#include <string.h>

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memset_chk(void *dst, int c, size_t n, size_t dstlen);

void *
__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (n > dstlen)
		abort();
	return memcpy(dst, src, n);
}

void *
__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (n > dstlen)
		abort();
	return memmove(dst, src, n);
}

void *
__memset_chk(void *dst, int c, size_t n, size_t dstlen)
{
	if (n > dstlen)
		abort();
	return memset(dst, c, n);
}
