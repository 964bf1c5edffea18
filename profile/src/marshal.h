/*
 * marshal.h - just enough of Python's marshal format to write a pstats
 * file: dict, tuple, int, long, float, str (CPython Python/marshal.c,
 * version 4 type codes, no references).
 */
#ifndef PROFILE_MARSHAL_H
#define PROFILE_MARSHAL_H

#include <stddef.h>
#include <stdint.h>

#include "profile/util.h"

void marshal_dict_begin(sbuf_t *b);             /* then key, value, key, value ... */
void marshal_dict_end(sbuf_t *b);
void marshal_tuple(sbuf_t *b, uint32_t n);      /* then n items */
void marshal_int(sbuf_t *b, int64_t v);         /* int32 as 'i', larger as 'l' */
void marshal_float(sbuf_t *b, double v);        /* binary float 'g' */
void marshal_str(sbuf_t *b, const char *s, size_t n); /* 'u', UTF-8 (sanitised) */

#endif /* PROFILE_MARSHAL_H */
