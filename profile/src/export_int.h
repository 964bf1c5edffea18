/* export_int.h - what the export files share (not installed). */
#ifndef PROFILE_EXPORT_INT_H
#define PROFILE_EXPORT_INT_H

#include "profile/profile.h"
#include "profile/util.h"


/* What a path shows: its completed part plus the part still open. */
static inline int64_t export_path_cumtime(const pf_path_t *pa)
{
    return pf_sat_add(pa->cumtime_ns, pa->open.cumtime_ns);
}
static inline int64_t export_path_tottime(const pf_path_t *pa)
{
    return pf_sat_add(pa->tottime_ns, pa->open.tottime_ns);
}

#define EXPORT_MAX_FRAMES 4096u

void export_collapsed(const profile_t *p, sbuf_t *out);
void export_speedscope(const profile_t *p, sbuf_t *out);
void export_svg(const profile_t *p, sbuf_t *out);
int export_pprof(const profile_t *p, sbuf_t *out);

#endif /* PROFILE_EXPORT_INT_H */
