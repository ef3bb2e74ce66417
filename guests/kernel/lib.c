/* lib.c -- memory and string helpers (GCC may emit memset/memcpy calls even
 * with -ffreestanding, so these must exist in both images).  Aligned blocks
 * go a doubleword at a time: clearing and copying pages dominates page
 * faults and fork. */
#include "lib.h"

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    if ((((uintptr_t)d | n) & 7) == 0) {
        uint64_t word = 0x0101010101010101ull * (unsigned char)c;
        for (uint64_t *w = (uint64_t *)d; n; n -= 8)
            *w++ = word;
        return dst;
    }
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((((uintptr_t)d | (uintptr_t)s | n) & 7) == 0) {
        uint64_t *wd = (uint64_t *)d;
        const uint64_t *ws = (const uint64_t *)s;
        for (; n; n -= 8)
            *wd++ = *ws++;
        return dst;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}
