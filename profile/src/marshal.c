/* marshal.c - the subset of Python's marshal format pstats files use. */
#include "marshal.h"

#include <string.h>

static void put_u32(sbuf_t *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    sbuf_add(b, x, 4);
}

void marshal_dict_begin(sbuf_t *b) { sbuf_addc(b, '{'); }
void marshal_dict_end(sbuf_t *b) { sbuf_addc(b, '0'); } /* TYPE_NULL ends a dict */

void marshal_tuple(sbuf_t *b, uint32_t n)
{
    if (n < 256) {
        sbuf_addc(b, ')'); /* TYPE_SMALL_TUPLE */
        sbuf_addc(b, (char)(unsigned char)n);
    } else {
        sbuf_addc(b, '(');
        put_u32(b, n);
    }
}

void marshal_int(sbuf_t *b, int64_t v)
{
    if (v >= INT32_MIN && v <= INT32_MAX) {
        sbuf_addc(b, 'i');
        put_u32(b, (uint32_t)(int32_t)v);
        return;
    }
    /* TYPE_LONG: signed count of 15-bit digits, least significant first */
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    unsigned char digits[16];
    int nd = 0;
    while (m) {
        unsigned d = (unsigned)(m & 0x7fff);
        digits[2 * nd] = (unsigned char)d;
        digits[2 * nd + 1] = (unsigned char)(d >> 8);
        nd++;
        m >>= 15;
    }
    sbuf_addc(b, 'l');
    put_u32(b, (uint32_t)(int32_t)(v < 0 ? -nd : nd));
    sbuf_add(b, digits, (size_t)nd * 2);
}

void marshal_float(sbuf_t *b, double v)
{
    unsigned char x[8];
    memcpy(x, &v, 8); /* little-endian IEEE 754, as marshal writes it on x86-64 */
    sbuf_addc(b, 'g');
    sbuf_add(b, x, 8);
}

void marshal_str(sbuf_t *b, const char *s, size_t n)
{
    sbuf_addc(b, 'u');
    put_u32(b, (uint32_t)n);
    size_t at = b->len;
    sbuf_add(b, s, n);
    utf8_sanitize(b->data + at, n);
}
