/*
 * rt.c - libulma-rt: the process's segment, the per-thread producers, the
 * control watcher, fork handling. See ulma/rt.h for the contract.
 *
 * Locking: `g_lock` guards the segment pointer, the registry of attached
 * threads and the pending thread names; it is taken on a thread's first
 * event (attach), at thread exit, on start/stop and by the watcher, never
 * on a per-event path. `g_handler_lock` serialises handler calls with
 * handler removal.
 *
 * The segment's mapping is never unmapped while the process runs: a thread
 * may still be inside a hook when profiling stops, and its producer points
 * into the mapping. ulma_rt_stop() marks the segment exited and forgets it;
 * the pages stay mapped (and cost nothing once the agent unlinks the file).
 */
#define _GNU_SOURCE
#include "ulma/rt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ulma/clock.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

_Atomic uint32_t ulma_rt_active;
_Atomic uint32_t ulma_rt_generation;
_Atomic uint32_t ulma_rt_defgen;
__thread ulma_rt_thread_t ulma_rt_tls __attribute__((tls_model("initial-exec")));

#define PENDING_NAMES 128

typedef struct pending_name {
    int32_t tid;
    char name[ULMA_THREAD_NAME_MAX];
} pending_name_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static ulma_segment_t *_Atomic g_seg;
static char g_exe[ULMA_EXE_MAX];
static int32_t g_reader_pid;
static _Atomic int g_blocking;
static ulma_rt_thread_t *g_threads[ULMA_MAX_SLOTS]; /* attached threads (registry) */
static uint32_t g_nthreads;
static pending_name_t g_names[PENDING_NAMES];
static uint32_t g_nnames;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* watcher */
static pthread_mutex_t g_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_watch_cond = PTHREAD_COND_INITIALIZER;
static pthread_t g_watcher;
static int g_watcher_running;
static int g_watcher_stop;
static _Atomic pid_t g_watcher_tid;
/* ulma_rt_watcher_pause() nesting (forks in several threads at once) */
static pthread_mutex_t g_pause_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_pauses;
static int g_pause_restart; /* the watcher ran when the first pause began */

/* control and tick handlers */
static pthread_mutex_t g_handler_lock = PTHREAD_MUTEX_INITIALIZER;
static ulma_rt_control_fn g_handler;
static void *g_handler_ctx;
static void (*g_tick)(void *);
static void *g_tick_ctx;
static void (*_Atomic g_thread_end)(void *);

static int32_t gettid_(void) { return (int32_t)syscall(SYS_gettid); }

/* ---------------------------------------------------------------- identity */

static const char *env_first(const char *const *names)
{
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (v && *v)
            return v;
    }
    return NULL;
}

static int32_t env_int(const char *const *names, int32_t dflt)
{
    const char *v = env_first(names);
    if (!v)
        return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end != '\0' || x < 0 || x > INT32_MAX)
        return dflt;
    return (int32_t)x;
}

static void identity_from_env(ulma_segment_opts_t *o)
{
    static const char *const rank[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK",
                                       "SLURM_PROCID", NULL};
    static const char *const size[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS",
                                       "SLURM_NPROCS", NULL};
    static const char *const job[] = {"OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid",
                                      "PMIX_NAMESPACE", "SLURM_JOB_ID", NULL};
    o->mpi_rank = env_int(rank, -1);
    o->mpi_size = env_int(size, 0);
    o->job = env_first(job);
}

/* ------------------------------------------------------------------ threads */

static void registry_remove(ulma_rt_thread_t *t)
{
    for (uint32_t i = 0; i < g_nthreads; i++) {
        if (g_threads[i] == t) {
            g_threads[i] = g_threads[--g_nthreads];
            return;
        }
    }
}

static void stack_free_chunks(ulma_rt_thread_t *t);

/* pthread key destructor: the thread ends. */
static void thread_exit(void *arg)
{
    ulma_rt_thread_t *t = arg;
    stack_free_chunks(t);
    void (*end)(void *) = atomic_load(&g_thread_end);
    if (end && t->hook_state)
        end(t->hook_state);
    t->hook_state = NULL;
    pthread_mutex_lock(&g_lock);
    registry_remove(t);
    if (t->prod.slot && t->generation == ulma_load_relaxed(&ulma_rt_generation) &&
        ulma_load_relaxed(&g_seg))
        ulma_producer_detach(&t->prod);
    t->prod.slot = NULL;
    t->prod.limit = 0;
    t->attached = 1; /* no re-attach from this dying thread */
    pthread_mutex_unlock(&g_lock);
}

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);
static void at_exit(void);

static void init_once(void)
{
    pthread_key_create(&g_key, thread_exit);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    atexit(at_exit);
}

static const char *pending_lookup(int32_t tid)
{
    for (uint32_t i = 0; i < g_nnames; i++)
        if (g_names[i].tid == tid)
            return g_names[i].name;
    return NULL;
}

/* Write a DEF_THREAD record into `t`'s ring. */
static void put_def_thread(ulma_rt_thread_t *t, int32_t tid, const char *name)
{
    if (!t->prod.slot)
        return;
    ulma_put_payload(&t->prod, ulma_clock_read(), ULMA_EV_DEF_THREAD, (uint32_t)tid,
                     (uint16_t)t->depth, name, (uint32_t)strnlen(name, ULMA_THREAD_NAME_MAX - 1));
}

/* Attach the calling thread; g_lock held. */
static ulma_rt_thread_t *attach_locked(ulma_rt_thread_t *t)
{
    ulma_segment_t *seg = ulma_load_relaxed(&g_seg);
    if (!seg)
        return NULL;
    uint32_t gen = ulma_load_relaxed(&ulma_rt_generation);
    if (t->attached && t->generation == gen)
        return t->prod.slot ? t : NULL;
    if (t->attached && t->generation != gen)
        registry_remove(t); /* attached to a segment that was stopped */
    int32_t tid = gettid_();
    char name[ULMA_THREAD_NAME_MAX] = "";
    const char *pn = pending_lookup(tid);
    if (pn)
        snprintf(name, sizeof(name), "%s", pn);
    else
        pthread_getname_np(pthread_self(), name, sizeof(name));
    memset(&t->prod, 0, sizeof(t->prod));
    t->attached = 1;
    t->generation = gen;
    t->tid = tid;
    pthread_setspecific(g_key, t);
    if (ulma_producer_attach(seg, &t->prod, tid, name) != 0)
        return NULL; /* counted in threads_lost */
    if (atomic_load(&g_blocking))
        ulma_producer_set_blocking(&t->prod, 1);
    /* a new ring to warm (see warm_rings); without g_watch_lock, which is
     * taken before g_lock (atfork_prepare): a wake lost while the watcher
     * is between waits only makes it warm at its next one */
    pthread_cond_signal(&g_watch_cond);
    if (g_nthreads < ULMA_MAX_SLOTS)
        g_threads[g_nthreads++] = t;
    if (pn)
        put_def_thread(t, tid, name);
    return t;
}

ulma_rt_thread_t *ulma_rt_thread(void)
{
    ulma_rt_thread_t *t = &ulma_rt_tls;
    if (ULMA_LIKELY(t->attached && t->generation == ulma_load_relaxed(&ulma_rt_generation)))
        return t->prod.slot ? t : NULL;
    pthread_mutex_lock(&g_lock);
    ulma_rt_thread_t *r = attach_locked(t);
    pthread_mutex_unlock(&g_lock);
    return r;
}

void ulma_rt_name_thread(int32_t tid, const char *name)
{
    if (!name)
        return;
    int32_t self = gettid_();
    if (tid == 0)
        tid = self;
    pthread_mutex_lock(&g_lock);
    pending_name_t *pn = NULL;
    for (uint32_t i = 0; i < g_nnames; i++)
        if (g_names[i].tid == tid)
            pn = &g_names[i];
    if (!pn) {
        /* a full table forgets its oldest entry: names only matter at attach */
        if (g_nnames == PENDING_NAMES) {
            memmove(g_names, g_names + 1, sizeof(g_names) - sizeof(g_names[0]));
            g_nnames--;
        }
        pn = &g_names[g_nnames++];
        pn->tid = tid;
    }
    snprintf(pn->name, sizeof(pn->name), "%s", name);
    /* a thread already attached: rename its slot (readers copy the name) */
    for (uint32_t i = 0; i < g_nthreads; i++) {
        ulma_rt_thread_t *o = g_threads[i];
        if (o->tid == tid && o->prod.slot) {
            ulma_slot_header_t *sh = o->prod.slot;
            size_t n = strnlen(name, ULMA_THREAD_NAME_MAX - 1);
            memset(sh->name, 0, sizeof(sh->name));
            memcpy(sh->name, name, n);
        }
    }
    /* the DEF_THREAD record goes into the caller's ring; a caller that has
     * none (the watcher) does not take a slot for it: the named thread
     * writes it itself when it attaches */
    ulma_rt_thread_t *me = NULL;
    if (ulma_rt_tls.attached || tid == self)
        me = attach_locked(&ulma_rt_tls);
    if (me)
        put_def_thread(me, tid, pn->name);
    pthread_mutex_unlock(&g_lock);
}

void ulma_rt_set_blocking(int on)
{
    pthread_mutex_lock(&g_lock);
    atomic_store(&g_blocking, on ? 1 : 0);
    /* `blocking` is read only in the producer's slow path; a plain word
     * store is seen there at the latest on the next slow path */
    for (uint32_t i = 0; i < g_nthreads; i++)
        __atomic_store_n(&g_threads[i]->prod.blocking, on ? 1u : 0u, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_lock);
}

int ulma_rt_blocking(void) { return atomic_load(&g_blocking); }

/* ------------------------------------------------------------- C stacks */

/*
 * A chunk is one private mapping: a PROT_NONE guard page at the bottom, the
 * stack above it, and this header at the very top. Chunks of a thread form
 * a chain in the order they are entered (stack_chunks is the first); a
 * chunk stays mapped when left, for the next time that depth is reached.
 */
typedef struct stack_chunk {
    struct stack_chunk *deeper; /* the next chunk of the chain, or NULL */
    uintptr_t low;              /* lowest usable address (above the guard) */
    uintptr_t top;              /* initial stack pointer, 16-byte aligned */
    size_t size;                /* bytes of the mapping */
} stack_chunk_t;

static _Atomic uint64_t g_stack_chunks;

uint64_t ulma_rt_stack_chunks(void) { return atomic_load(&g_stack_chunks); }

void ulma_rt_stack_init(ulma_rt_thread_t *t)
{
    if (t->stack_known)
        return;
    t->stack_known = 1;
    /* the key's destructor runs when the thread ends: chunks and
     * hook_state are released there (attaching sets the same value) */
    pthread_once(&g_once, init_once);
    pthread_setspecific(g_key, t);
    pthread_attr_t a;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0) {
        ulma_rt_problem();
        return;
    }
    int rc = pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    if (rc != 0 || !addr) {
        ulma_rt_problem();
        return;
    }
    /* the main thread's stack grows on demand, but not into the kernel's
     * guard gap above the mapping below it (1 MiB by default), which
     * pthread_getattr_np() does not subtract */
    uintptr_t margin = ULMA_RT_STACK_MARGIN;
    if (gettid_() == getpid())
        margin += 1u << 20;
    /* on a chunk already (a fork()ed child keeps the chunk's limit) */
    if (!t->stack_chunk)
        t->stack_limit = (uintptr_t)addr + margin;
}

static stack_chunk_t *stack_chunk_new(void)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t size = ULMA_RT_STACK_CHUNK;
    uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m, page, PROT_NONE) != 0) {
        munmap(m, size);
        return NULL;
    }
    stack_chunk_t *c = (stack_chunk_t *)(void *)(m + size - sizeof(stack_chunk_t));
    c->deeper = NULL;
    c->low = (uintptr_t)m + page;
    c->top = ((uintptr_t)c - 64u) & ~(uintptr_t)15u;
    c->size = size;
    atomic_fetch_add(&g_stack_chunks, 1);
    return c;
}

static void stack_free_chunks(ulma_rt_thread_t *t)
{
    /* a thread ends on its own stack: no chunk of its chain is in use */
    stack_chunk_t *c = t->stack_chunks;
    t->stack_chunks = NULL;
    while (c) {
        stack_chunk_t *next = c->deeper;
        munmap((uint8_t *)(c + 1) - c->size, c->size);
        c = next;
    }
}

typedef struct stack_job {
    void (*fn)(void *);
    void *arg;
#if defined(__SANITIZE_ADDRESS__)
    void *fake;
    const void *old_bottom;
    size_t old_size;
#endif
} stack_job_t;

/* Runs on the chunk: the job, with the sanitizer told about the switch. */
static void stack_thunk(void *vjob)
{
    stack_job_t *j = vjob;
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(j->fake, &j->old_bottom, &j->old_size);
#endif
    j->fn(j->arg);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(&j->fake, j->old_bottom, j->old_size);
#endif
}

#if defined(__x86_64__)
/* stack_switch(arg, fn, top): call fn(arg) with the stack pointer at `top`
 * (16-byte aligned), then return on the caller's stack. The frame pointer
 * and the CFI chain lead unwinders (debuggers, perf) back to the caller. */
void ulma_rt_stack_switch_(void *arg, void (*fn)(void *), uintptr_t top)
    __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".p2align 4\n"
        ".globl ulma_rt_stack_switch_\n"
        ".hidden ulma_rt_stack_switch_\n"
        ".type ulma_rt_stack_switch_, @function\n"
        "ulma_rt_stack_switch_:\n"
        ".cfi_startproc\n"
        "endbr64\n"
        "pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "movq %rdx, %rsp\n"
        "callq *%rsi\n"
        "movq %rbp, %rsp\n"
        "popq %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size ulma_rt_stack_switch_, .-ulma_rt_stack_switch_\n");
#endif

int ulma_rt_stack_call(void (*fn)(void *), void *arg)
{
#if defined(__x86_64__)
    ulma_rt_thread_t *t = &ulma_rt_tls;
    stack_chunk_t *cur = t->stack_chunk;
    stack_chunk_t *next = cur ? cur->deeper : t->stack_chunks;
    if (!next) {
        next = stack_chunk_new();
        if (!next)
            return -ENOMEM;
        if (cur)
            cur->deeper = next;
        else
            t->stack_chunks = next;
        pthread_once(&g_once, init_once);
        pthread_setspecific(g_key, t);
    }
    uintptr_t saved_limit = t->stack_limit;
    t->stack_chunk = next;
    t->stack_limit = next->low + ULMA_RT_STACK_MARGIN;
    stack_job_t job = {.fn = fn, .arg = arg};
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(&job.fake, (const void *)next->low, next->top - next->low);
#endif
    ulma_rt_stack_switch_(&job, stack_thunk, next->top);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(job.fake, NULL, NULL);
#endif
    /* the thread state is reloaded: fn may have run anything */
    t = &ulma_rt_tls;
    t->stack_chunk = cur;
    t->stack_limit = saved_limit;
    return 0;
#else
    (void)fn, (void)arg;
    return -ENOSYS;
#endif
}

/* ------------------------------------------------------------------ watcher */

/* The clock rate is refined for the first ULMA_CALIB_REFINE_NS, then
 * fixed (ulma_segment_calib_refresh): a finished function's time never
 * changes afterwards, and every sum of reports equals the agent's table.
 * The watcher and the exit take the pair: one at a time. */
static pthread_mutex_t g_calib_lock = PTHREAD_MUTEX_INITIALIZER;

static void calib_refresh(ulma_seg_header_t *h)
{
    pthread_mutex_lock(&g_calib_lock);
    ulma_segment_calib_refresh(h);
    pthread_mutex_unlock(&g_calib_lock);
}

static void refresh(ulma_seg_header_t *h, int calib)
{
    ulma_store_relaxed(&h->heartbeat_ns, ulma_clock_mono_ns());
    if (calib)
        calib_refresh(h);
}

static void poll_control(void)
{
    ulma_segment_t *seg = ulma_load_relaxed(&g_seg);
    if (!seg)
        return;
    ulma_seg_header_t *h = ulma_segment_header(seg);
    /* acquire: the control word written before control_seq is seen */
    uint32_t seq = ulma_load_acquire(&h->control_seq);
    if (seq == ulma_load_relaxed(&h->applied_seq))
        return;
    uint32_t control = ulma_load_relaxed(&h->control);
    if (control & ULMA_CTL_REDEFINE) /* a new reader wants the names again */
        atomic_fetch_add(&ulma_rt_defgen, 1);
    pthread_mutex_lock(&g_handler_lock);
    if (g_handler) {
        g_handler(control, seq, g_handler_ctx);
    } else {
        ulma_rt_set_blocking((control & ULMA_CTL_BLOCKING) != 0);
        ulma_rt_applied(control & (ULMA_CTL_MODE_MASK | ULMA_CTL_OBJECTS), seq);
    }
    pthread_mutex_unlock(&g_handler_lock);
}

static void tick(void)
{
    pthread_mutex_lock(&g_handler_lock);
    if (g_tick)
        g_tick(g_tick_ctx);
    pthread_mutex_unlock(&g_handler_lock);
}

/*
 * Warming the rings. The first write into a page of a thread's ring costs
 * that thread a page fault, which on a virtual machine is the dearest part
 * of a record (about 11 us a 4 KiB page here: 45 ms for a 16 MiB ring's
 * first lap). The watcher takes that cost off the hooked threads: on each
 * wake, and when a thread takes a slot, it writes into the pages from
 * WARM_GAP beyond each ring's head on, during the ring's first lap only
 * (afterwards every page is in): as far again as the thread has written,
 * at least WARM_MIN, at most WARM_AHEAD, so that a thread that writes
 * little costs few pages, and a ring nothing was written into none. The
 * write is an atomic add of zero: it changes no byte, whatever the ring's
 * writer does to the same line meanwhile.
 */
#define WARM_GAP (64u << 10)
#define WARM_MIN (256u << 10)
#define WARM_AHEAD (4u << 20)
#define WARM_PAGE 4096u
static uint32_t g_warm[ULMA_MAX_SLOTS]; /* bytes of each ring warmed (first lap) */
static const ulma_segment_t *g_warm_seg;
static uint32_t g_warm_gen;             /* ulma_rt_generation it was for */
static _Atomic uint64_t g_warmed_pages; /* ulma_rt_warmed_pages() */

static void warm_rings(ulma_segment_t *seg)
{
    /* a new segment (a fork()ed child's, a restart: its handle may sit
     * where the last one did) */
    uint32_t gen = ulma_load_relaxed(&ulma_rt_generation);
    if (g_warm_seg != seg || g_warm_gen != gen) {
        memset(g_warm, 0, sizeof(g_warm));
        g_warm_seg = seg, g_warm_gen = gen;
    }
    const uint64_t cap = ulma_segment_ring_bytes(seg);
    uint32_t used = ulma_load_acquire(&ulma_segment_header(seg)->slots_used);
    uint8_t *slot;
    for (uint32_t i = 0; i < used && i < ULMA_MAX_SLOTS && (slot = ulma_segment_slot(seg, i)); i++) {
        if (g_warm[i] >= cap)
            continue;
        ulma_slot_header_t *sh = (ulma_slot_header_t *)(void *)slot;
        uint8_t *data = slot + ULMA_SLOT_HEADER_BYTES;
        if (ulma_load_relaxed(&sh->state) != ULMA_SLOT_ACTIVE)
            continue;
        uint64_t head = ulma_load_relaxed(&sh->head), at = g_warm[i];
        if (head == 0)
            continue; /* nothing written yet */
        for (unsigned n = 0;; n++) {
            if (head >= cap) { /* round once: the writer touched every page */
                at = cap;
                break;
            }
            if (at < head + WARM_GAP) /* it passed us: go on ahead of it */
                at = (head + WARM_GAP + WARM_PAGE - 1) & ~(uint64_t)(WARM_PAGE - 1);
            uint64_t ahead = head < WARM_MIN ? WARM_MIN : head > WARM_AHEAD ? WARM_AHEAD : head;
            if (at >= cap || at >= head + WARM_GAP + ahead)
                break;
            __atomic_fetch_add(data + at, (uint8_t)0, __ATOMIC_RELAXED);
            at += WARM_PAGE;
            atomic_fetch_add_explicit(&g_warmed_pages, 1, memory_order_relaxed);
            if (n % 16 == 15)
                head = ulma_load_relaxed(&sh->head);
        }
        g_warm[i] = (uint32_t)(at < cap ? at : cap);
    }
}

uint64_t ulma_rt_warmed_pages(void) { return atomic_load_explicit(&g_warmed_pages, memory_order_relaxed); }

static void *watcher_main(void *arg)
{
    (void)arg;
    unsigned ticks = 0;
    atomic_store(&g_watcher_tid, (pid_t)syscall(SYS_gettid));
    pthread_mutex_lock(&g_watch_lock);
    while (!g_watcher_stop) {
        ulma_segment_t *wseg = ulma_load_relaxed(&g_seg);
        if (wseg) {
            pthread_mutex_unlock(&g_watch_lock);
            warm_rings(wseg);
            pthread_mutex_lock(&g_watch_lock);
            if (g_watcher_stop)
                break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)ULMA_RT_WATCH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_watch_cond, &g_watch_lock, &ts);
        if (g_watcher_stop)
            break;
        pthread_mutex_unlock(&g_watch_lock);
        ulma_segment_t *seg = ulma_load_relaxed(&g_seg);
        if (seg)
            /* the rate: every tick for the first second (the estimate
             * made at creation is replaced at once), then every second */
            refresh(ulma_segment_header(seg),
                    ++ticks <= 1000u / ULMA_RT_WATCH_MS || ticks % (1000u / ULMA_RT_WATCH_MS) == 0);
        poll_control();
        tick();
        pthread_mutex_lock(&g_watch_lock);
    }
    pthread_mutex_unlock(&g_watch_lock);
    return NULL;
}

static void watcher_start(void)
{
    if (g_watcher_running)
        return;
    sigset_t all, old;
    sigfillset(&all);
    /* the watcher takes no signals: they stay with the program's threads */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    g_watcher_stop = 0;
    if (pthread_create(&g_watcher, NULL, watcher_main, NULL) == 0) {
        g_watcher_running = 1;
        pthread_setname_np(g_watcher, "ulma-watcher");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void watcher_stop(void)
{
    if (!g_watcher_running)
        return;
    pthread_mutex_lock(&g_watch_lock);
    g_watcher_stop = 1;
    pthread_cond_signal(&g_watch_cond);
    pthread_mutex_unlock(&g_watch_lock);
    if (!pthread_equal(pthread_self(), g_watcher))
        pthread_join(g_watcher, NULL);
    else
        pthread_detach(g_watcher);
    g_watcher_running = 0;
}

/* The watcher stopped until ulma_rt_watcher_resume(), and gone from the
 * kernel's count of this process's threads (a joined thread is counted
 * until it is reaped: at most ~100 ms are waited for that). */
void ulma_rt_watcher_pause(void)
{
    pthread_mutex_lock(&g_pause_lock);
    if (g_pauses++ == 0 && (g_pause_restart = g_watcher_running)) {
        watcher_stop();
        char task[64];
        snprintf(task, sizeof(task), "/proc/self/task/%d", (int)atomic_load(&g_watcher_tid));
        for (int i = 0; i < 2000 && access(task, F_OK) == 0; i++)
            usleep(50);
    }
    pthread_mutex_unlock(&g_pause_lock);
}

void ulma_rt_watcher_resume(void)
{
    pthread_mutex_lock(&g_pause_lock);
    if (g_pauses && --g_pauses == 0 && g_pause_restart && ulma_load_relaxed(&g_seg)) {
        pthread_mutex_lock(&g_watch_lock);
        watcher_start();
        pthread_mutex_unlock(&g_watch_lock);
    }
    pthread_mutex_unlock(&g_pause_lock);
}

void ulma_rt_set_control_handler(ulma_rt_control_fn fn, void *ctx)
{
    pthread_mutex_lock(&g_handler_lock);
    g_handler = fn;
    g_handler_ctx = ctx;
    pthread_mutex_unlock(&g_handler_lock);
}

void ulma_rt_set_tick_handler(void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&g_handler_lock);
    g_tick = fn;
    g_tick_ctx = ctx;
    pthread_mutex_unlock(&g_handler_lock);
}

void ulma_rt_set_thread_end(void (*fn)(void *hook_state)) { atomic_store(&g_thread_end, fn); }

void ulma_rt_applied(uint32_t active, uint32_t seq)
{
    atomic_store_explicit(&ulma_rt_active, active, memory_order_relaxed);
    ulma_segment_t *seg = ulma_load_relaxed(&g_seg);
    if (!seg)
        return;
    ulma_seg_header_t *h = ulma_segment_header(seg);
    ulma_store_relaxed(&h->active_mode, active);
    if (seq)
        ulma_store_release(&h->applied_seq, seq); /* the mode above is seen with it */
}

void ulma_rt_problem(void)
{
    ulma_segment_t *seg = ulma_load_relaxed(&g_seg);
    if (seg)
        atomic_fetch_add_explicit(&ulma_segment_header(seg)->problems, 1, memory_order_relaxed);
}

int32_t ulma_rt_reader_pid(void) { return g_reader_pid; }

uint64_t ulma_rt_dropped(void)
{
    uint64_t n = 0;
    pthread_mutex_lock(&g_lock);
    ulma_segment_t *seg = ulma_load_relaxed(&g_seg);
    if (seg) {
        /* only slots a thread ever claimed (no page of the others touched) */
        uint32_t used = ulma_load_acquire(&ulma_segment_header(seg)->slots_used);
        uint8_t *slot;
        for (uint32_t i = 0; i < used && (slot = ulma_segment_slot(seg, i)); i++)
            n += ulma_load_relaxed(&((ulma_slot_header_t *)(void *)slot)->dropped);
    }
    pthread_mutex_unlock(&g_lock);
    return n;
}

/* ------------------------------------------------------------ start / stop */

static int create_locked(uint64_t calib_window_ns, uint32_t control)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    identity_from_env(&o);
    o.exe = g_exe[0] ? g_exe : NULL;
    o.reader_pid = g_reader_pid;
    o.calib_window_ns = calib_window_ns;
    ulma_segment_t *seg = NULL;
    int rc = ulma_segment_create(&o, &seg);
    if (rc != 0)
        return rc;
    ulma_seg_header_t *h = ulma_segment_header(seg);
    ulma_store_relaxed(&h->control, control);
    ulma_store_relaxed(&h->active_mode, ulma_load_relaxed(&ulma_rt_active));
    atomic_fetch_add(&ulma_rt_generation, 1);
    atomic_fetch_add(&ulma_rt_defgen, 1);
    atomic_store(&g_seg, seg);
    return 0;
}

int ulma_rt_start_control(const char *exe, int32_t reader_pid, uint32_t control)
{
    pthread_once(&g_once, init_once);
    pthread_mutex_lock(&g_lock);
    int rc = 0;
    if (!ulma_load_relaxed(&g_seg)) {
        snprintf(g_exe, sizeof(g_exe), "%s", exe ? exe : "");
        g_reader_pid = reader_pid;
        rc = create_locked(0, control);
    }
    pthread_mutex_unlock(&g_lock);
    if (rc == 0) {
        pthread_mutex_lock(&g_watch_lock);
        watcher_start();
        pthread_mutex_unlock(&g_watch_lock);
    }
    return rc;
}

int ulma_rt_start(const char *exe, int32_t reader_pid)
{
    return ulma_rt_start_control(exe, reader_pid, 0);
}

ulma_segment_t *ulma_rt_segment(void) { return ulma_load_relaxed(&g_seg); }

void ulma_rt_stop(void)
{
    watcher_stop();
    pthread_mutex_lock(&g_lock);
    ulma_segment_t *seg = ulma_load_relaxed(&g_seg);
    if (seg) {
        atomic_store(&ulma_rt_active, 0);
        ulma_seg_header_t *h = ulma_segment_header(seg);
        ulma_store_relaxed(&h->active_mode, 0u);
        calib_refresh(h); /* a short run's rate from its whole length */
        /* everything written before is visible to a reader that sees EXITED;
         * the mapping stays (see the top of this file) */
        ulma_store_release(&h->state, (uint32_t)ULMA_SEG_EXITED);
        atomic_store(&g_seg, (ulma_segment_t *)NULL);
        g_nthreads = 0;
    }
    pthread_mutex_unlock(&g_lock);
}

static void at_exit(void)
{
    /* no join here: the watcher may wait for an interpreter that is gone */
    pthread_mutex_lock(&g_watch_lock);
    g_watcher_stop = 1;
    pthread_cond_signal(&g_watch_cond);
    pthread_mutex_unlock(&g_watch_lock);
    ulma_segment_t *seg = atomic_exchange(&g_seg, (ulma_segment_t *)NULL);
    if (seg) {
        calib_refresh(ulma_segment_header(seg));
        ulma_store_release(&ulma_segment_header(seg)->state, (uint32_t)ULMA_SEG_EXITED);
    }
}

/* -------------------------------------------------------------------- fork */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&g_watch_lock);
    pthread_mutex_lock(&g_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_watch_lock);
}

/* The child: only the forking thread lives on. It abandons the parent's
 * mapping, forgets every thread state, makes its own segment (same reader,
 * same mode) and restarts the watcher. */
static void atfork_child(void)
{
    pthread_mutex_init(&g_lock, NULL);
    pthread_mutex_init(&g_watch_lock, NULL);
    pthread_mutex_init(&g_pause_lock, NULL);
    g_pauses = 0; /* the child's watcher runs (below): nothing to resume */
    pthread_cond_init(&g_watch_cond, NULL);
    pthread_mutex_init(&g_handler_lock, NULL);
    g_watcher_running = 0;
    g_nthreads = 0;
    g_nnames = 0;
    /* the forking thread goes on on the same stack (maybe a chunk), with
     * the same Python frames */
    ulma_rt_thread_t keep = ulma_rt_tls;
    memset(&ulma_rt_tls, 0, sizeof(ulma_rt_tls));
    ulma_rt_tls.stack_limit = keep.stack_limit;
    ulma_rt_tls.stack_chunk = keep.stack_chunk;
    ulma_rt_tls.stack_chunks = keep.stack_chunks;
    ulma_rt_tls.stack_known = keep.stack_known;
    ulma_rt_tls.hook_state = keep.hook_state;
    ulma_segment_t *seg = atomic_exchange(&g_seg, (ulma_segment_t *)NULL);
    if (!seg)
        return;
    uint32_t control = ulma_load_relaxed(&ulma_segment_header(seg)->control);
    ulma_segment_abandon(&seg);
    pthread_mutex_init(&g_calib_lock, NULL);
    if (create_locked(0, control) == 0)
        watcher_start();
}
