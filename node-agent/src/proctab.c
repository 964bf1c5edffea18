/* proctab.c - the process table: claimed segments, draining, harvesting,
 * forgetting. */
#define _GNU_SOURCE
#include "proctab.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "ulma/clock.h"
#include "ulma/segment.h"

proctab_t *proctab_new(const prof_limits_t *lim, int verbose)
{
    proctab_t *t = xcalloc(1, sizeof(*t));
    t->lim = *lim;
    t->verbose = verbose;
    return t;
}

void proctab_free(aproc_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    aproc_t *p = *p_p;
    ulma_reader_destroy(&p->rd);
    prof_destroy(&p->prof);
    free(p->path);
    free(p);
    *p_p = NULL;
}

void proctab_destroy(proctab_t **t_p)
{
    if (!t_p || !*t_p)
        return;
    proctab_t *t = *t_p;
    while (t->procs) {
        aproc_t *p = t->procs;
        t->procs = p->next;
        proctab_free(&p);
    }
    free(t);
    *t_p = NULL;
}

int proctab_prefer(const aproc_t *p, const aproc_t *best)
{
    return !best || (best->finished && !p->finished) ||
           (best->finished == p->finished && p->info.start_time > best->info.start_time);
}

aproc_t *proctab_find(const proctab_t *t, int32_t pid)
{
    aproc_t *best = NULL;
    for (aproc_t *p = t->procs; p; p = p->next)
        if (p->info.pid == pid && proctab_prefer(p, best))
            best = p;
    return best;
}

aproc_t *proctab_find_path(const proctab_t *t, const char *path)
{
    for (aproc_t *p = t->procs; p; p = p->next)
        if (strcmp(p->path, path) == 0)
            return p;
    return NULL;
}

uint32_t proctab_count(const proctab_t *t)
{
    uint32_t n = 0;
    for (const aproc_t *p = t->procs; p; p = p->next)
        n++;
    return n;
}

aproc_t *proctab_add(proctab_t *t, const char *path, ulma_reader_t *rd, uint64_t now)
{
    const ulma_seg_info_t *in = ulma_reader_info(rd);
    aproc_t *p = xcalloc(1, sizeof(*p));
    p->path = xstrdup(path);
    p->rd = rd;
    p->info = *in;
    p->prof = prof_new(&t->lim, in->nslots);
    p->prof->hz = ulma_reader_hz(rd);
    ulma_clock_sample_pair(&p->seen_tsc, &p->seen_ns);
    /* a reader before us (an agent killed, restarted) read records it never
     * reported: nobody has them now, they are counted lost */
    uint64_t read, reported;
    ulma_reader_handover(rd, &read, &reported);
    p->base_read = read;
    p->prof->handover_lost = read - reported;
    /* the names it read are gone with it: the process writes them again
     * (the same control word, plus REDEFINE) */
    if (read)
        ulma_reader_request(rd, ulma_reader_control(rd) | ULMA_CTL_REDEFINE);
    if (t->verbose && read)
        fprintf(stderr, "ulma-agent: pid %d: taking over from an earlier reader: %" PRIu64
                " records read, %" PRIu64 " of them never reported (counted lost)\n",
                in->pid, read, read - reported);
    p->claimed_ns = now;
    p->next = t->procs;
    t->procs = p;
    t->claimed++;
    return p;
}

/* ---- draining --------------------------------------------------------------- */

static int on_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    aproc_t *p = ctx;
    prof_thread_t *th = slot < p->prof->nslots ? p->prof->slot_thread[slot] : NULL;
    const ulma_slot_stats_t *st = ulma_reader_slot_stats(p->rd, slot);
    if (th && !th->ended && th->tid && st && th->claim != st->generation) {
        /* a new thread holds the slot: the last one's THREAD_END was lost */
        prof_slot_reclaimed(p->prof, slot);
        th = NULL;
    }
    if (!th || th->ended || !th->tid) {
        char name[ULMA_THREAD_NAME_MAX];
        ulma_reader_thread_name(p->rd, slot, name, sizeof(name));
        prof_slot_identity(p->prof, slot, st ? st->tid : 0, name, st ? st->generation : 0);
    }
    return prof_consume(p->prof, slot, recs, nunits);
}

/* The clock's rate over our watch of the process, our own pairs, against
 * the writer's calibration: a virtual machine paused or migrated, or a TSC
 * the kernel does not trust, shows here as times that are off by as much,
 * and the table says so (PF_CLOCK_DRIFT_WARN_PPM). Judged from 1 s on. */
static void clock_drift(aproc_t *p)
{
    uint64_t c = 0, n = 0;
    ulma_clock_sample_pair(&c, &n);
    if (!p->prof->hz || n < p->seen_ns || n - p->seen_ns < 1000000000u)
        return;
    uint64_t rate = ulma_clock_rate_from_pairs(p->seen_tsc, p->seen_ns, c, n);
    if (!rate)
        return;
    double ppm = ((double)rate / (double)p->prof->hz - 1.0) * 1e6;
    p->prof->clock_drift_ppm = ppm > INT32_MAX ? INT32_MAX : ppm < -INT32_MAX ? -INT32_MAX
                                                                         : (int32_t)ppm;
}

void proctab_finish(proctab_t *t, aproc_t *p, uint64_t now)
{
    p->prof->hz = ulma_reader_hz(p->rd);
    clock_drift(p);
    p->prof->writer_dropped = ulma_reader_total_dropped(p->rd);
    prof_finish(p->prof);
    p->finished = 1;
    p->finished_ns = now;
    t->finished++;
    if (!p->faulted)
        ulma_reader_unlink(p->rd);
    if (t->verbose)
        fprintf(stderr, "ulma-agent: harvested pid %d: %" PRIu64 " records, %" PRIu64 " lost\n",
                p->info.pid, p->prof->events, prof_total_dropped(p->prof));
}

long proctab_drain(proctab_t *t, int *pace_ok)
{
    long total = 0;
    uint64_t now = 0;
    *pace_ok = 1;
    for (aproc_t *p = t->procs; p; p = p->next) {
        if (p->finished)
            continue;
        long n = ulma_reader_drain(p->rd, on_batch, p, 0);
        if (n < 0) {
            p->faulted = 1;
            if (!now)
                now = now_ns();
            proctab_finish(t, p, now);
            continue;
        }
        total += n;
        if (n > 0) /* for the reader after us, should we die */
            ulma_reader_set_read(p->rd, p->base_read + p->prof->events);
        /* this pass found the process's rings less than 1/16 full: the
         * next pass can wait a little (see agent_run) */
        if ((uint64_t)n * 16u * ULMA_UNIT >= (uint64_t)ulma_reader_info(p->rd)->ring_bytes)
            *pace_ok = 0;
        /* the exact loss: every drop is counted in the slot headers, also
         * the ones no DROP record reports (the ring stayed full) */
        p->prof->writer_dropped = ulma_reader_total_dropped(p->rd);
        if (n == 0 && !p->writer_gone && ulma_reader_state(p->rd) == ULMA_SEG_EXITED)
            p->writer_gone = 1;
        if (n == 0 && p->writer_gone) {
            /* one more pass: records published between our drain and the exit */
            if (ulma_reader_drain(p->rd, on_batch, p, 0) == 0) {
                if (!now)
                    now = now_ns();
                proctab_finish(t, p, now);
            }
        }
    }
    return total;
}

/* ---- cron ------------------------------------------------------------------ */

uint64_t proctab_refresh(proctab_t *t, uint64_t now, int mark)
{
    uint64_t events = t->events_gone;
    for (aproc_t *p = t->procs; p; p = p->next) {
        events += p->prof->events;
        if (p->finished)
            continue;
        if (!p->writer_gone && !ulma_reader_writer_alive(p->rd))
            p->writer_gone = 1;
        p->prof->hz = ulma_reader_hz(p->rd);
        clock_drift(p);
        if (mark)
            prof_mark(p->prof, now);
    }
    return events;
}

aproc_t *proctab_expire(proctab_t *t, uint64_t now, uint64_t keep_ns)
{
    for (aproc_t **pp = &t->procs; *pp; pp = &(*pp)->next) {
        aproc_t *p = *pp;
        if (!p->finished || p->pins || now - p->finished_ns <= keep_ns)
            continue;
        *pp = p->next;
        p->next = NULL;
        t->events_gone += p->prof->events;
        return p;
    }
    return NULL;
}

profile_t *proctab_profile(aproc_t *p)
{
    return snapshot_process(p->prof, p->rd, &p->info, p->finished);
}

uint32_t proctab_state(const aproc_t *p)
{
    return p->finished ? PF_STATE_EXITED : ulma_reader_state(p->rd);
}
