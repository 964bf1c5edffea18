/*
 * synth.h - a synthetic hooked process for agent tests: creates a segment
 * with the libulma producer API, writes a known CALL/RETURN stream with a
 * fake clock (1 tick = 1 us: header.cycles_per_sec = 1e6), then exits,
 * SIGKILLs itself, or serves control requests like a hooked process.
 */
#ifndef AGENT_SYNTH_H
#define AGENT_SYNTH_H

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "agent_test.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

enum { SYNTH_EXIT = 0, SYNTH_KILL = 1, SYNTH_SERVE = 2 };

/* The stream: <module> calls f(3 deep recursion) `reps` times; f's three
 * activations take 10 ticks of own time each.
 *   f: ncalls 3*reps, primitive reps, tottime 30*reps us, cumtime 30*reps us
 *   <module>: 1 call, tottime 5 us, cumtime 30*reps+5 us */
static inline void synth_stream(ulma_producer_t *pr, uint32_t reps)
{
    ulma_put_def_code(pr, ULMA_EV_DEF_CODE, 1, 1, "<module>", 8, "synth.py", 8);
    ulma_put_def_code(pr, ULMA_EV_DEF_CODE, 2, 3, "f", 1, "synth.py", 8);
    uint64_t t = 1000;
    ulma_put(pr, t, ULMA_EV_CALL, 1, 1);
    t += 5;
    for (uint32_t i = 0; i < reps; i++) {
        ulma_put(pr, t, ULMA_EV_CALL, 2, 2);
        ulma_put(pr, t + 5, ULMA_EV_CALL, 2, 3);
        ulma_put(pr, t + 10, ULMA_EV_CALL, 2, 4);
        ulma_put(pr, t + 20, ULMA_EV_RETURN, 2, 4);
        ulma_put(pr, t + 25, ULMA_EV_RETURN, 2, 3);
        ulma_put(pr, t + 30, ULMA_EV_RETURN, 2, 2);
        t += 30;
    }
    ulma_put(pr, t, ULMA_EV_RETURN, 1, 1);
}

/* Child body: never returns. */
static inline void synth_process(const char *dir, int32_t reader_pid, int how, uint32_t reps,
                                 int serve_ms)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 4;
    o.ring_bytes = 1u << 20;
    o.reader_pid = reader_pid;
    o.exe = "synth.py";
    o.job = "job42";
    ulma_segment_t *seg = NULL;
    if (ulma_segment_create(&o, &seg) != 0)
        _exit(3);
    ulma_seg_header_t *h = ulma_segment_header(seg);
    /* the fake clock: 1 MHz, no refinement pairs */
    atomic_store(&h->cycles_per_sec, 1000000u);
    atomic_store(&h->calib_ns1, 0u);
    atomic_store(&h->active_mode, ULMA_MODE_FAST);
    ulma_producer_t pr;
    if (ulma_producer_attach(seg, &pr, (int32_t)syscall(SYS_gettid), "MainThread") != 0)
        _exit(4);
    ulma_producer_set_blocking(&pr, 1); /* the stream must arrive whole */
    synth_stream(&pr, reps);
    if (how == SYNTH_KILL)
        raise(SIGKILL);
    if (how == SYNTH_SERVE) {
        /* apply control requests like a hooked process, for serve_ms */
        struct timespec ts = {0, 2000000};
        for (int i = 0; i < serve_ms / 2; i++) {
            uint32_t seq = atomic_load(&h->control_seq);
            if (seq != atomic_load(&h->applied_seq)) {
                uint32_t c = atomic_load(&h->control);
                atomic_store(&h->active_mode, c & (ULMA_CTL_MODE_MASK | ULMA_CTL_OBJECTS));
                atomic_store(&h->applied_seq, seq);
            }
            nanosleep(&ts, NULL);
        }
    }
    ulma_producer_detach(&pr);
    ulma_segment_destroy(&seg, 0);
    _exit(0);
}

/* Segment files left in dir. */
static inline int count_segments(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^ulma\\..*\\.seg$' > '%s/.count'", dir, dir);
    if (system(cmd) < 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "%s/.count", dir);
    char *s = slurp(cmd, NULL);
    int n = s ? atoi(s) : -1;
    free(s);
    unlink(cmd);
    return n;
}

#endif /* AGENT_SYNTH_H */
