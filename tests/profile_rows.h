/*
 * profile_rows.h - a test's look-up of one function row of a profile by
 * its name, through the library's own profile_find (standard name, then
 * qualified or bare name naming one row only).
 */
#ifndef ULMA_TESTS_PROFILE_ROWS_H
#define ULMA_TESTS_PROFILE_ROWS_H

#include <stdint.h>

#include "profile/table.h"

/* The row named `name`, or NULL if none (or several) has that name. */
static inline const pf_func_t *profile_row_named(const profile_t *p, const char *name)
{
    uint32_t nmatch;
    uint32_t row = profile_find(p, name, NULL, 0, &nmatch);
    return row == UINT32_MAX ? NULL : profile_func(p, row);
}

#endif /* ULMA_TESTS_PROFILE_ROWS_H */
