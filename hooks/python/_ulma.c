/*
 * _ulma.c - the ulma._ulma CPython extension: the hooks.
 *
 * fast mode: a PEP 523 frame-evaluation function (set per interpreter, so
 *   it covers every thread). One CALL record when a frame is entered or a
 *   generator/coroutine resumed, one RETURN (return, yield, await) or UNWIND
 *   (left by an exception) when it is left. The evaluation that only creates
 *   a generator/coroutine object is passed through unrecorded, as cProfile
 *   does not count it.
 * full mode: the events cProfile sees: Python calls and returns, and
 *   calls of C functions, named the way cProfile names them. On 3.11 a C
 *   profile hook (Py_tracefunc) on every thread; on 3.12 and 3.13 a
 *   sys.monitoring tool of ulma's own with C callbacks for the events
 *   cProfile itself uses there (PY_START, PY_RESUME, PY_THROW, PY_RETURN,
 *   PY_YIELD, PY_UNWIND, CALL, C_RETURN, C_RAISE): the same records as the
 *   setprofile shim would give, without its frame object per frame, and
 *   the program's own profile function or cProfile take nothing from it.
 *
 * CPython 3.11, 3.12 and 3.13 from this one source: the internals that
 * differ are behind the accessors below and PY_VERSION_HEX; each version's
 * own ways around the eval-frame function (inline calls) are handled once
 * per process before fast mode goes in (3.11 __getitem__, 3.13 __init__).
 *
 * Per-event path (both modes): the thread state is one initial-exec TLS
 * access into libulma-rt; the code id is read from the code object's extra
 * slot; one rdtsc; one 16-byte store; one release store of head. Everything
 * else (attaching a thread, naming a code object, a mode change seen for the
 * first time, a C stack running low, frames full mode left open) is behind
 * one predictable branch each, in a noinline slow path.
 *
 * Code ids: a process-wide counter starting at 1, never reused, kept on the
 * code object (code-extra API) together with the definition generation
 * (ulma_rt_defgen) in which its DEF_CODE record was written: a dead code
 * object takes its id with it, a fork()ed child writes the definitions
 * again into its own segment, and so does a process whose new reader asked
 * for them (ULMA_CTL_REDEFINE).
 *
 * Mode changes run with the GIL held (from Python, or from libulma-rt's
 * watcher thread through on_control()); each bumps `g_epoch`. A thread sees
 * the new epoch on its next event and writes a MODE record carrying its
 * depth; frames stay open across mode changes (the records' contract is
 * under "per-thread sync" below).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <opcode.h>
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#if PY_VERSION_HEX >= 0x030D0000
#include "internal/pycore_ceval.h" /* _PyEval_SetProfile moved here in 3.13 */
#endif
#undef Py_BUILD_CORE

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ulma/clock.h"
#include "ulma/rt.h"
#include "segread.h"
#include "ulma_objects.h"

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error "ulma._ulma supports CPython 3.11 to 3.13 (frame and eval-frame internals)"
#endif

/* ------------------------------------------- CPython version differences */

/*
 * What differs between 3.11, 3.12 and 3.13 in the internals used here,
 * each behind one accessor:
 *  - the code object of an interpreter frame: f_code (3.11, 3.12),
 *    f_executable (3.13, a code object for every frame evaluated);
 *  - the frame's instruction: prev_instr, the last one started (3.11,
 *    3.12), instr_ptr, the one executing (3.13); either stays put while a
 *    call made by that instruction runs, which is all it is used for;
 *  - the thread's innermost frame: ts->cframe->current_frame (3.11, 3.12),
 *    ts->current_frame (3.13);
 *  - the code-extra functions: _PyCode_GetExtra & co. (3.11), renamed
 *    PyUnstable_Code_GetExtra & co. (3.12+, the old names deprecated).
 */
#if PY_VERSION_HEX >= 0x030D0000
#define FRAME_CODE(f) ((PyCodeObject *)(f)->f_executable)
#define FRAME_INSTR(f) ((const void *)(f)->instr_ptr)
#define TS_FRAME(ts) ((ts)->current_frame)
#else
#define FRAME_CODE(f) ((f)->f_code)
#define FRAME_INSTR(f) ((const void *)(f)->prev_instr)
#define TS_FRAME(ts) ((ts)->cframe ? (ts)->cframe->current_frame : NULL)
#endif
#if PY_VERSION_HEX >= 0x030D0000
#define py_finalizing Py_IsFinalizing /* public from 3.13 */
#else
#define py_finalizing _Py_IsFinalizing
#endif
#if PY_VERSION_HEX >= 0x030C0000
#define code_get_extra PyUnstable_Code_GetExtra
#define code_set_extra PyUnstable_Code_SetExtra
#define code_request_extra_index PyUnstable_Eval_RequestCodeExtraIndex
#else
#define code_get_extra _PyCode_GetExtra
#define code_set_extra _PyCode_SetExtra
#define code_request_extra_index _PyEval_RequestCodeExtraIndex
#endif

#define GEN_FLAGS (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)

/* Layout of co_extra in 3.11 to 3.13 (_PyCodeObjectExtra); checked at
 * import against the code-extra functions, with a fallback to them. */
typedef struct code_extra {
    Py_ssize_t ce_size;
    void *ce_extras[1];
} code_extra_t;

static Py_ssize_t g_extra_index = -1;
static int g_extra_direct;          /* the layout check passed */
static uint32_t g_epoch = 1;        /* bumped at every mode change (GIL held) */
static uint32_t g_mode;             /* ULMA_MODE_* in force */
static uint32_t g_objects;          /* ULMA_CTL_OBJECTS when the object wedges are in */
static const ulma_objects_api_t *g_obj; /* ulma._objects, once imported */
static uint32_t g_next_code_id = 1; /* GIL held */
static uint32_t g_next_cfunc_id = 1;
static PyObject *g_thread_boot;     /* the threading.setprofile callable */
static PyInterpreterState *g_interp;
static uint64_t g_codes_defined;
static uint64_t g_foreign_profile; /* threads whose own profile hook we left alone */

/* ------------------------------------------------------------ code ids */

/* co_extra through the code-extra functions (the layout check failed):
 * a failure is cleared without losing an exception in flight (a hook event
 * can come while one propagates: a return by unwinding, a resume by
 * throw()). */
static __attribute__((noinline)) uint64_t code_extra_get_checked(PyCodeObject *co)
{
    void *v = NULL;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
    if (code_get_extra((PyObject *)co, g_extra_index, &v) != 0) {
        PyErr_Clear();
        v = NULL;
    }
    PyErr_SetRaisedException(exc);
#else
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    if (code_get_extra((PyObject *)co, g_extra_index, &v) != 0) {
        PyErr_Clear();
        v = NULL;
    }
    PyErr_Restore(et, ev, etb);
#endif
    return (uint64_t)(uintptr_t)v;
}

static inline __attribute__((always_inline)) uint64_t code_extra_get(PyCodeObject *co,
                                                                     const int generic)
{
    if (!generic || g_extra_direct) {
        code_extra_t *ce = (code_extra_t *)co->co_extra;
        if (ce && ce->ce_size > g_extra_index)
            return (uint64_t)(uintptr_t)ce->ce_extras[g_extra_index];
        return 0;
    }
    return code_extra_get_checked(co);
}

/* Definition path of a code object: give it an id (once per process) and
 * write its DEF_CODE record (once per definition generation, ulma_rt_defgen)
 * into the calling thread's ring. Keeps any in-flight exception. */
static __attribute__((noinline)) uint32_t code_define(ulma_rt_thread_t *t, PyCodeObject *co,
                                                      uint64_t v, uint32_t gen)
{
    uint32_t id = (uint32_t)v;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    t->nesting++;
    if (id == 0)
        id = g_next_code_id++;
    Py_ssize_t nlen = 0, flen = 0;
    const char *name = PyUnicode_AsUTF8AndSize(co->co_qualname, &nlen);
    if (!name) {
        PyErr_Clear();
        name = "?", nlen = 1;
        ulma_rt_problem();
    }
    const char *file = PyUnicode_AsUTF8AndSize(co->co_filename, &flen);
    if (!file) {
        PyErr_Clear();
        file = "?", flen = 1;
        ulma_rt_problem();
    }
    if (t->prod.slot)
        ulma_put_def_code(&t->prod, ULMA_EV_DEF_CODE, id, (uint32_t)co->co_firstlineno, name,
                          (size_t)nlen, file, (size_t)flen);
    uint64_t nv = ((uint64_t)gen << 32) | id;
    if (code_set_extra((PyObject *)co, g_extra_index, (void *)(uintptr_t)nv) != 0) {
        PyErr_Clear();
        ulma_rt_problem();
    }
    g_codes_defined++;
    t->nesting--;
    PyErr_Restore(et, ev, etb);
    return id;
}

/* The code id of `co`. `generic` is a constant: 0 in the fast-mode wrapper
 * used while the direct co_extra read is known to work, 1 elsewhere. */
static inline __attribute__((always_inline)) uint32_t code_id(ulma_rt_thread_t *t,
                                                              PyCodeObject *co, const int generic)
{
    uint64_t v = code_extra_get(co, generic);
    uint32_t gen = ulma_load_relaxed(&ulma_rt_defgen);
    if (ULMA_UNLIKELY((uint32_t)(v >> 32) != gen))
        return code_define(t, co, v, gen);
    return (uint32_t)v;
}

/* ------------------------------------------------------ C function ids */

/* PyMethodDef address -> id, like cProfile's key for C functions. Open
 * addressing; grows (allocates) only on the definition path. */
typedef struct cfunc_ent {
    const void *key;
    uint32_t id;
    uint32_t gen; /* definition generation its DEF_CFUNC was written in */
} cfunc_ent_t;

static cfunc_ent_t *g_cf;
static size_t g_cf_cap, g_cf_len;

static inline size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static cfunc_ent_t *cf_find(const void *key)
{
    if (!g_cf)
        return NULL;
    size_t m = g_cf_cap - 1;
    for (size_t i = ptr_hash(key) & m;; i = (i + 1) & m) {
        if (g_cf[i].key == key)
            return &g_cf[i];
        if (!g_cf[i].key)
            return NULL;
    }
}

static cfunc_ent_t *cf_insert(const void *key)
{
    if ((g_cf_len + 1) * 2 > g_cf_cap) {
        size_t ncap = g_cf_cap ? g_cf_cap * 2 : 1024;
        cfunc_ent_t *n = PyMem_RawCalloc(ncap, sizeof(*n));
        if (!n)
            return NULL;
        for (size_t j = 0; j < g_cf_cap; j++) {
            if (!g_cf[j].key)
                continue;
            size_t i = ptr_hash(g_cf[j].key) & (ncap - 1);
            while (n[i].key)
                i = (i + 1) & (ncap - 1);
            n[i] = g_cf[j];
        }
        PyMem_RawFree(g_cf);
        g_cf = n;
        g_cf_cap = ncap;
    }
    size_t m = g_cf_cap - 1;
    size_t i = ptr_hash(key) & m;
    while (g_cf[i].key)
        i = (i + 1) & m;
    g_cf[i].key = key;
    g_cf_len++;
    return &g_cf[i];
}

/* cProfile's label of a C function object (Modules/_lsprof.c,
 * normalizeUserObj), and the module or type it belongs to. New reference
 * or NULL. */
static PyObject *cfunc_label(PyCFunctionObject *fn, PyObject **where)
{
    const char *mlname = fn->m_ml->ml_name;
    *where = NULL;
    if (fn->m_self == NULL) {
        PyObject *mod = fn->m_module, *modname = NULL;
        if (mod && PyUnicode_Check(mod)) {
            modname = Py_NewRef(mod);
        } else if (mod && PyModule_Check(mod)) {
            modname = PyModule_GetNameObject(mod);
            if (!modname)
                PyErr_Clear();
        }
        if (modname) {
            *where = modname;
            if (PyUnicode_CompareWithASCIIString(modname, "builtins") != 0)
                return PyUnicode_FromFormat("<%U.%s>", modname, mlname);
        }
        return PyUnicode_FromFormat("<%s>", mlname);
    }
    PyObject *name = PyUnicode_FromString(mlname);
    if (name) {
        PyObject *mo = _PyType_Lookup(Py_TYPE(fn->m_self), name);
        Py_XINCREF(mo);
        Py_DECREF(name);
        if (mo) {
            PyObject *res = PyObject_Repr(mo);
            Py_DECREF(mo);
            if (res) {
                *where = PyUnicode_FromString(Py_TYPE(fn->m_self)->tp_name);
                if (!*where)
                    PyErr_Clear();
                return res;
            }
        }
    }
    PyErr_Clear();
    PyObject *modname = fn->m_module;
    if (modname && PyUnicode_Check(modname)) {
        *where = Py_NewRef(modname);
        return PyUnicode_FromFormat("<built-in method %S.%s>", modname, mlname);
    }
    return PyUnicode_FromFormat("<built-in method %s>", mlname);
}

static __attribute__((noinline)) uint32_t cfunc_define(ulma_rt_thread_t *t, PyCFunctionObject *fn,
                                                       cfunc_ent_t *e, uint32_t gen)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    t->nesting++;
    uint32_t id = 0;
    if (!e) {
        e = cf_insert(fn->m_ml);
        if (!e) {
            ulma_rt_problem();
            goto out;
        }
        e->id = g_next_cfunc_id++;
    }
    id = e->id;
    e->gen = gen;
    PyObject *where = NULL;
    PyObject *label = cfunc_label(fn, &where);
    Py_ssize_t nlen = 0, wlen = 0;
    const char *n = label ? PyUnicode_AsUTF8AndSize(label, &nlen) : NULL;
    const char *w = where ? PyUnicode_AsUTF8AndSize(where, &wlen) : NULL;
    if (!n) {
        n = fn->m_ml->ml_name, nlen = (Py_ssize_t)strlen(n);
        ulma_rt_problem();
    }
    if (!w)
        w = "~", wlen = 1;
    PyErr_Clear();
    if (t->prod.slot)
        ulma_put_def_code(&t->prod, ULMA_EV_DEF_CFUNC, id, 0, n, (size_t)nlen, w, (size_t)wlen);
    Py_XDECREF(label);
    Py_XDECREF(where);
out:
    t->nesting--;
    PyErr_Restore(et, ev, etb);
    return id;
}

static inline uint32_t cfunc_id(ulma_rt_thread_t *t, PyCFunctionObject *fn)
{
    cfunc_ent_t *e = cf_find(fn->m_ml);
    uint32_t gen = ulma_load_relaxed(&ulma_rt_defgen);
    if (ULMA_UNLIKELY(!e || e->gen != gen))
        return cfunc_define(t, fn, e, gen);
    return e->id;
}

/* ------------------------------------------------------ per-thread sync */

/*
 * The records' contract (what a reader may rely on, per thread):
 *  - CALL / C_CALL carry the depth of the frame entered (1 + the frames
 *    recorded open), RETURN / UNWIND / C_RETURN the depth of the frame that
 *    leaves (its CALL's).
 *  - A mode change does not restart the depth. The thread's first event
 *    after one is preceded by a MODE record (id: the mode now in force,
 *    depth: the frames recorded open at that moment); frames stay open
 *    across it.
 *  - Every frame whose CALL was recorded gets its RETURN / UNWIND /
 *    C_RETURN when it leaves, whatever mode is in force then (off too), as
 *    long as the thread writes into the same ring (not in a fork()ed child,
 *    not after the runtime made a new segment). Frames entered while the
 *    thread was not recording are never recorded. So returns pair with
 *    calls like a stack.
 *
 * Fast mode keeps this by structure: a frame entered through the wrapper
 * leaves through it, also once the wrapper is uninstalled. The profile hook
 * of full mode is gone while off (or while the program's own profile
 * function holds the thread's hook), so it misses returns; it keeps the
 * frames it recorded open in a per-thread list (hook_state_t) and, at the
 * first event that can see the thread's frames again, writes the returns
 * of those that left meanwhile ("settling"), before anything else. Such a
 * return is a RETURN (or C_RETURN), never UNWIND, stamped with the last
 * time the frame was known to be open: the time the hook left the thread,
 * or later when fast mode saw the frame open (hook_state_t.floor); never
 * before a record of the thread's that came after it.
 */

/* A frame full mode recorded open, known by its frame (OPEN_FRAME below).
 * A C function is kept with its caller's frame and the caller's
 * instruction making the call. */
typedef struct open_frame {
    const void *fobj;  /* its frame (the caller's for C): OPEN_FRAME() */
    const void *key;   /* PyCodeObject, or PyMethodDef address | 1 for C */
    const void *instr; /* C only: the caller's instruction */
    uint32_t id, depth;
} open_frame_t;

#define OPEN_C(key) (((uintptr_t)(key)) & 1u)
/* How an open frame is known: 3.11, by its frame object (the profile hook
 * is handed one); 3.12+, by its interpreter frame (sys.monitoring's events
 * come without a frame object, and none is made). */
#if PY_VERSION_HEX >= 0x030C0000
#define OPEN_FRAME(p) ((const void *)(p))
#else
#define OPEN_FRAME(p) ((const void *)(p)->frame_obj)
#endif
/* ulma_rt_thread_t.hook_top, read by the fast-mode wrapper only: the depth
 * of the innermost open frame, or OPEN_NONE. Kept up to date outside full
 * mode (the profile hook's events do not maintain it: it is set again when
 * the hook leaves the thread and at every settling). */
#define OPEN_NONE UINT32_MAX

typedef struct hook_state {
    open_frame_t *s;  /* innermost last */
    uint32_t len, cap;
    uint32_t period;  /* 3.12+: the full-mode period the thread last synced in, 0: none */
    uint64_t gone;    /* when the profile hook last left the thread */
    uint64_t floor;   /* a time every frame in s was known open (fast mode) */
} hook_state_t;

#if PY_VERSION_HEX >= 0x030C0000
/* 3.12+: full mode's events are interpreter-wide (sys.monitoring), so they
 * leave every thread at once, when full mode ends: each such period is
 * numbered from 1, and its end time kept (the last MON_PERIODS of them). A
 * thread's `gone` is its last period's end, found when it is needed. */
#define MON_PERIODS 64u
static uint32_t g_mon_period;
static uint64_t g_mon_end[MON_PERIODS];

static void mon_gone(hook_state_t *hs)
{
    if (!hs->period)
        return;
    if (hs->period == g_mon_period && g_mode == ULMA_MODE_FULL) {
        hs->gone = ulma_clock_read(); /* still in it (the thread ends) */
        return;
    }
    /* its period's end (for one older than the last MON_PERIODS, a later
     * one's: an upper bound) */
    hs->gone = g_mon_end[hs->period % MON_PERIODS];
    hs->period = 0;
}
#endif

static hook_state_t *hook_state_of(ulma_rt_thread_t *t)
{
    hook_state_t *hs = t->hook_state;
    if (hs)
        return hs;
    hs = PyMem_RawCalloc(1, sizeof(*hs));
    if (hs)
        hs->s = PyMem_RawMalloc(64 * sizeof(open_frame_t));
    if (!hs || !hs->s) {
        PyMem_RawFree(hs);
        ulma_rt_problem();
        return NULL;
    }
    hs->cap = 64;
    t->hook_state = hs;
    return hs;
}

static void open_close(ulma_rt_thread_t *t, hook_state_t *hs, uint64_t tsc);
static inline uint64_t open_stamp(hook_state_t *hs);

/* The thread ends (its pthread key destructor: no Python frame is left, no
 * GIL): the frames still recorded open left while the profile hook was
 * away; their returns go before the thread's end record. */
static void hook_state_free(void *v)
{
    hook_state_t *hs = v;
    ulma_rt_thread_t *t = &ulma_rt_tls;
    if (t->hook_state == hs && t->prod.slot && t->hook_gen == t->generation)
        while (hs->len)
            open_close(t, hs, open_stamp(hs));
    PyMem_RawFree(hs->s);
    PyMem_RawFree(hs);
}

static __attribute__((noinline)) int hook_state_grow(hook_state_t *hs)
{
    open_frame_t *n = PyMem_RawRealloc(hs->s, (size_t)hs->cap * 2 * sizeof(*n));
    if (!n) {
        ulma_rt_problem();
        return -1;
    }
    hs->s = n;
    hs->cap *= 2;
    return 0;
}

static inline uint32_t open_top(const hook_state_t *hs)
{
    return hs->len ? hs->s[hs->len - 1].depth : OPEN_NONE;
}

/* Whether `e` is open, seen from `chain`, the innermost frame that is
 * still running. A C function is taken as running while its caller is in
 * the chain and still at the instruction that called it. */
static int open_alive(const open_frame_t *e, const _PyInterpreterFrame *chain)
{
    for (const _PyInterpreterFrame *p = chain; p; p = p->previous) {
        if (OPEN_FRAME(p) != e->fobj)
            continue;
        if (OPEN_C(e->key))
            return FRAME_INSTR(p) == e->instr;
        return (const void *)FRAME_CODE(p) == e->key;
    }
    return 0;
}

/* Write the return of the innermost open frame, stamped `tsc`. */
static void open_close(ulma_rt_thread_t *t, hook_state_t *hs, uint64_t tsc)
{
    const open_frame_t *e = &hs->s[hs->len - 1];
    ulma_put(&t->prod, tsc, OPEN_C(e->key) ? ULMA_EV_C_RETURN : ULMA_EV_RETURN, e->id,
             (uint16_t)e->depth);
    t->depth = e->depth - 1;
    hs->len--;
    t->hook_top = open_top(hs);
}

/* The hook paths' side of the open frames (3.11's profile hook, 3.12+'s
 * sys.monitoring callbacks): room for one more (0: none, counted: the frame
 * is then not recorded, so not returned either); a frame entered, recorded
 * at the thread's next depth and kept open as (fobj, key, instr); the
 * innermost frame leaving, its `ev` record written if it is the innermost
 * one recorded open (else it was entered while nothing recorded). */
static inline __attribute__((always_inline)) int open_room(hook_state_t *hs)
{
    return ULMA_LIKELY(hs->len < hs->cap) || hook_state_grow(hs) == 0;
}

static inline __attribute__((always_inline)) void
open_push(ulma_rt_thread_t *t, hook_state_t *hs, const void *fobj, const void *key,
          const void *instr, uint32_t id, uint16_t ev, const int with_clock)
{
    uint32_t d = ++t->depth;
    hs->s[hs->len++] = (open_frame_t){fobj, key, instr, id, d};
    ulma_put(&t->prod, with_clock ? ulma_clock_read() : 0, ev, id, (uint16_t)d);
}

static inline __attribute__((always_inline)) void
open_leave(ulma_rt_thread_t *t, hook_state_t *hs, const void *fobj, const void *key, uint16_t ev,
           const int with_clock)
{
    if (ULMA_UNLIKELY(!hs) || !hs->len)
        return;
    const open_frame_t *e = &hs->s[hs->len - 1];
    if (e->fobj != fobj || e->key != key)
        return;
    ulma_put(&t->prod, with_clock ? ulma_clock_read() : 0, ev, e->id, (uint16_t)e->depth);
    t->depth = e->depth - 1;
    hs->len--;
}

static inline uint64_t open_stamp(hook_state_t *hs)
{
#if PY_VERSION_HEX >= 0x030C0000
    mon_gone(hs);
#endif
    return hs->gone > hs->floor ? hs->gone : hs->floor;
}

/* Close the innermost open frames that left, seen from `chain`. A frame
 * with a recorded frame above it (entered through the fast-mode wrapper,
 * so running) is open. */
static void open_settle(ulma_rt_thread_t *t, hook_state_t *hs, const _PyInterpreterFrame *chain)
{
    while (hs->len) {
        const open_frame_t *e = &hs->s[hs->len - 1];
        if (e->depth != t->depth || open_alive(e, chain))
            break;
        open_close(t, hs, open_stamp(hs));
    }
    t->hook_top = open_top(hs);
}

/* What every hook does at a thread's first event, or ever: attach to a
 * ring; restart the depth when the ring is a new one (a fork()ed child, a
 * new segment). */
static void thread_attach(ulma_rt_thread_t *t)
{
    ulma_rt_thread();
    ulma_rt_stack_init(t);
    if (t->hook_gen != t->generation) {
        t->hook_gen = t->generation;
        t->depth = 0;
        if (t->hook_state)
            ((hook_state_t *)t->hook_state)->len = 0;
    }
    hook_state_t *hs = t->hook_state;
    t->hook_top = hs ? open_top(hs) : OPEN_NONE;
}

/* Say which mode is in force, with the depth (the epoch changed). The
 * frames recorded open are open now. */
static void thread_mode(ulma_rt_thread_t *t)
{
    t->hook_epoch = g_epoch;
    if (!t->prod.slot)
        return;
    uint64_t tsc = ulma_clock_read();
    ulma_put(&t->prod, tsc, ULMA_EV_MODE, g_mode, (uint16_t)t->depth);
    hook_state_t *hs = t->hook_state;
    if (hs)
        hs->floor = tsc;
}

/* Fast mode, on an attached thread: settle the frames the profile hook
 * recorded open and say the mode. A frame about to be evaluated is not
 * linked to its caller yet (the evaluation links it): `ts`'s current frame
 * is the innermost running. */
static void thread_sync(ulma_rt_thread_t *t, PyThreadState *ts)
{
    hook_state_t *hs = t->hook_state;
    if (hs && hs->len)
        open_settle(t, hs, TS_FRAME(ts));
    thread_mode(t);
}

/* Fast mode: the thread's first event under a new epoch (or ever): attach
 * it (a ring, the depth restarted for a new one), then sync. */
static __attribute__((noinline)) void thread_attach_sync(ulma_rt_thread_t *t,
                                                         PyThreadState *ts)
{
    thread_attach(t);
    thread_sync(t, ts);
}

/* Fast mode: a frame is entered from the level of the innermost frame the
 * profile hook recorded (t->depth == t->hook_top), which may have left. */
static __attribute__((noinline)) void fast_settle(ulma_rt_thread_t *t, PyThreadState *ts)
{
    hook_state_t *hs = t->hook_state;
    if (!hs) {
        t->hook_top = OPEN_NONE;
        return;
    }
    open_settle(t, hs, TS_FRAME(ts));
}

/* Fast mode: the frame at depth d returns at `tsc` with frames the profile
 * hook recorded above it (they left) or right below it (open until now). */
static __attribute__((noinline)) void fast_return_settle(ulma_rt_thread_t *t, uint32_t d,
                                                         uint64_t tsc)
{
    hook_state_t *hs = t->hook_state;
    if (!hs) {
        t->hook_top = OPEN_NONE;
        return;
    }
    while (hs->len && hs->s[hs->len - 1].depth > d)
        open_close(t, hs, open_stamp(hs));
    if (hs->len && hs->s[hs->len - 1].depth == d - 1)
        hs->floor = tsc;
    t->hook_top = open_top(hs);
}

/* ------------------------------------------------------------ fast mode */

/*
 * The frame's evaluation. 3.12 and 3.13 count every C-level entry into
 * _PyEval_EvalFrameDefault against the thread's C recursion budget
 * (c_recursion_remaining, a fixed few thousand whatever sys.setrecursionlimit
 * says), where the unprofiled interpreter runs a Python-to-Python call
 * inline at no C cost: through the wrapper, a program recursing deeper than
 * that would fail where it runs unprofiled. The entry's units
 * (PY_EVAL_C_STACK_UNITS of Python/ceval.c, 2 in 3.12 and 3.13) are given
 * back for the evaluation (the Python recursion limit still counts every frame;
 * the C stack is the wrapper's own concern, see "Deep recursion" below).
 */
#define EVAL_C_UNITS 2
static inline __attribute__((always_inline)) PyObject *
eval_default(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
#if PY_VERSION_HEX >= 0x030C0000
    ts->c_recursion_remaining += EVAL_C_UNITS;
    PyObject *r = _PyEval_EvalFrameDefault(ts, f, throwflag);
    ts->c_recursion_remaining -= EVAL_C_UNITS;
    return r;
#else
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
#endif
}

/* The fast-mode wrapper. `with_clock` and `generic` are constants in each
 * instance: with_clock is 0 only in the overhead benchmark's "records
 * without the clock" variant (bench_hooks.h); `generic` is 1 in the
 * instance used while the object wedges are in or when co_extra cannot be
 * read directly, so that the common instance checks neither. */
static inline __attribute__((always_inline)) PyObject *
fast_eval_body(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag, const int with_clock,
               const int generic)
{
    PyCodeObject *co = FRAME_CODE(f);
    /* the step that only creates a generator/coroutine object passes
     * through: cProfile does not count it (a resume, also by throw() or
     * close(), is a call) */
    if (ULMA_UNLIKELY((co->co_flags & GEN_FLAGS) && f->owner != FRAME_OWNED_BY_GENERATOR))
        return eval_default(ts, f, throwflag);
    ulma_rt_thread_t *t = &ulma_rt_tls;
    if (ULMA_UNLIKELY(t->hook_epoch != g_epoch))
        thread_attach_sync(t, ts);
    if (ULMA_UNLIKELY(t->depth == t->hook_top))
        fast_settle(t, ts);
    const uint32_t gen = t->generation;
    const uint32_t id = code_id(t, co, generic);
    const uint32_t d = ++t->depth;
    if (generic && g_objects)
        g_obj->flush(); /* constructions land before the next frame event */
    ulma_put(&t->prod, with_clock ? ulma_clock_read() : 0, ULMA_EV_CALL, id, (uint16_t)d);
    PyObject *r = eval_default(ts, f, throwflag);
    if (ULMA_LIKELY(t->generation == gen)) {
        if (generic && g_objects)
            g_obj->flush();
        const uint64_t tsc = with_clock ? ulma_clock_read() : 0;
        if (ULMA_UNLIKELY(t->hook_top + 1u >= d)) /* no-op unless full mode left frames */
            fast_return_settle(t, d, tsc);
        ulma_put(&t->prod, tsc, r ? ULMA_EV_RETURN : ULMA_EV_UNWIND, id, (uint16_t)d);
        t->depth = d - 1;
    }
    return r;
}

/* The C stack pointer, for the compare with the thread's stack limit. */
static inline __attribute__((always_inline)) uintptr_t stack_pointer(void)
{
#if defined(__x86_64__)
    uintptr_t sp;
    __asm__("movq %%rsp, %0" : "=r"(sp));
    return sp;
#else
    return (uintptr_t)__builtin_frame_address(0);
#endif
}

/*
 * Deep recursion. With an eval-frame function set, CPython 3.11 no longer
 * inlines Python-to-Python calls: each one nests a C call of the wrapper,
 * about half a kilobyte of C stack, where the unprofiled program used none.
 * So when a thread's C stack runs low (one compare per call), the frame is
 * evaluated on a fresh stack chunk (see ulma_rt_stack_call): the program
 * reaches the depths it reaches unprofiled, its RecursionError comes from
 * CPython's own limit at the same depth, and every call is still recorded.
 * Without memory for a chunk, the frame fails with MemoryError at its first
 * instruction, as CPython fails a frame it has no memory for (counted as a
 * problem).
 */
typedef struct deep_call {
    PyThreadState *ts;
    _PyInterpreterFrame *f;
    int throwflag, generic;
    PyObject *r;
} deep_call_t;

static PyObject *fast_eval(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag);
static PyObject *fast_eval_generic(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag);

static void deep_run(void *arg)
{
    deep_call_t *c = arg;
    c->r = c->generic ? fast_eval_generic(c->ts, c->f, c->throwflag)
                      : fast_eval(c->ts, c->f, c->throwflag);
}

static __attribute__((noinline)) PyObject *
fast_eval_deep(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag, int generic)
{
    deep_call_t c = {ts, f, throwflag, generic, NULL};
    if (ulma_rt_stack_call(deep_run, &c) == 0)
        return c.r;
    ulma_rt_problem();
    PyErr_SetString(PyExc_MemoryError, "no memory for the C stack of a deep call");
    return _PyEval_EvalFrameDefault(ts, f, 1);
}

static PyObject *fast_eval(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    if (ULMA_UNLIKELY(stack_pointer() < ulma_rt_tls.stack_limit))
        return fast_eval_deep(ts, f, throwflag, 0);
    return fast_eval_body(ts, f, throwflag, 1, 0);
}

static PyObject *fast_eval_generic(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    if (ULMA_UNLIKELY(stack_pointer() < ulma_rt_tls.stack_limit))
        return fast_eval_deep(ts, f, throwflag, 1);
    return fast_eval_body(ts, f, throwflag, 1, 1);
}

static _PyFrameEvalFunction g_fast_fn = fast_eval;

/* The eval-frame function fast mode installs now. */
static _PyFrameEvalFunction fast_fn(void)
{
    return g_fast_fn == fast_eval && (g_objects || !g_extra_direct) ? fast_eval_generic : g_fast_fn;
}

/* ------------------------------------------------------------ full mode */

#if PY_VERSION_HEX < 0x030C0000
/* 3.11: the profile hook (Py_tracefunc), per thread. */

/*
 * The profile hook is installed with a token as its object
 * (tstate->c_profileobj): one per installation on a thread, referenced by
 * that thread state alone, so that its deallocation says exactly when the
 * hook left the thread, whoever removed it (ulma, sys.setprofile, cProfile,
 * the thread's end). sys.getprofile() is wrapped so that a program never
 * sees one. A hook event whose object is not the token the thread last saw
 * is the first since an installation: the thread then settles its open
 * frames (see above).
 */
typedef struct hook_token {
    PyObject_HEAD
    PyThreadState *ts;      /* installed on */
    unsigned long tid;      /* its native thread id */
    ulma_rt_thread_t *t;    /* its runtime state, once it had an event */
    hook_state_t *hs;       /* its open frames, once it had an event */
} hook_token_t;

static PyTypeObject g_token_type;
static int g_uninstalling;  /* ulma removes its hooks itself (GIL held) */
static void hook_lost(PyThreadState *ts, unsigned long tid);

/* Whether thread `tid` is one of this process's: a fork()ed child's
 * CPython deletes the thread states of the parent's other threads, which
 * frees their tokens while their frames still look like running. */
static int thread_here(unsigned long tid)
{
    int saved = errno;
    int here = syscall(SYS_tgkill, getpid(), (pid_t)tid, 0) == 0 || errno != ESRCH;
    errno = saved;
    return here;
}

static void token_dealloc(PyObject *o)
{
    hook_token_t *k = (hook_token_t *)o;
    if (!py_finalizing()) { /* else threads may be gone */
        if (k->hs)
            k->hs->gone = ulma_clock_read();
        if (k->t && k->t->hook_token == o) {
            k->t->hook_token = NULL; /* a new token may get this address */
            k->t->hook_top = k->hs ? open_top(k->hs) : OPEN_NONE;
        }
        /* not ulma's doing, not the thread state's end (no frame running,
         * or the thread of a fork()ed child's parent) */
        if (!g_uninstalling && g_mode == ULMA_MODE_FULL && TS_FRAME(k->ts) &&
            thread_here(k->tid))
            hook_lost(k->ts, k->tid);
    }
    PyObject_Free(o);
}

static PyTypeObject g_token_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ulma._ulma.hook_token",
    .tp_basicsize = sizeof(hook_token_t),
    .tp_dealloc = token_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ulma's profile hook on one thread (internal)",
};

/* First event under a new installation or epoch (or ever). */
static __attribute__((noinline)) void hook_sync(ulma_rt_thread_t *t, PyObject *obj,
                                                PyFrameObject *frame, int what)
{
    thread_attach(t);
    hook_state_t *hs = hook_state_of(t);
    if (obj != t->hook_token) {
        t->hook_token = obj;
        if (obj && Py_IS_TYPE(obj, &g_token_type)) {
            ((hook_token_t *)obj)->t = t;
            ((hook_token_t *)obj)->hs = hs;
        }
        if (hs && hs->len)
            open_settle(t, hs,
                        what == PyTrace_CALL ? frame->f_frame->previous : frame->f_frame);
    }
    if (t->hook_epoch != g_epoch)
        thread_mode(t);
}

/* Whether a PyTrace_RETURN event with a value `arg` is a frame left by an
 * exception: 3.11 says so with arg NULL. */
static inline int prof_unwinding(const PyFrameObject *frame, const PyObject *arg)
{
    (void)frame;
    return arg == NULL;
}

/* The full-mode profile hook. `with_clock` is a constant: 0 only in the
 * overhead benchmark's "records without the clock" variant. A return is
 * recorded only for the innermost frame this hook recorded open: other
 * frames were entered while nothing recorded, or through the fast-mode
 * wrapper (which records their return). The token alone says whether the
 * thread must sync: a mode change leaves no token of ulma's installed. */
static inline __attribute__((always_inline)) int
prof_hook_body(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg, const int with_clock)
{
    ulma_rt_thread_t *t = &ulma_rt_tls;
    if (ULMA_UNLIKELY(obj != t->hook_token))
        hook_sync(t, obj, frame, what);
    if (ULMA_UNLIKELY(t->nesting))
        return 0;
    hook_state_t *hs = t->hook_state;
    if (ULMA_UNLIKELY(!hs))
        return 0;
    if (ULMA_UNLIKELY(g_objects))
        g_obj->flush();
    switch (what) {
    case PyTrace_CALL:
        if (open_room(hs)) {
            PyCodeObject *co = FRAME_CODE(frame->f_frame);
            open_push(t, hs, frame, co, NULL, code_id(t, co, 1), ULMA_EV_CALL, with_clock);
        }
        break;
    case PyTrace_RETURN:
        open_leave(t, hs, frame, FRAME_CODE(frame->f_frame),
                   prof_unwinding(frame, arg) ? ULMA_EV_UNWIND : ULMA_EV_RETURN, with_clock);
        break;
    case PyTrace_C_CALL:
        if (PyCFunction_Check(arg) && open_room(hs)) {
            PyCFunctionObject *fn = (PyCFunctionObject *)arg;
            open_push(t, hs, frame, (const void *)((uintptr_t)fn->m_ml | 1u),
                      FRAME_INSTR(frame->f_frame), cfunc_id(t, fn), ULMA_EV_C_CALL, with_clock);
        }
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (PyCFunction_Check(arg))
            open_leave(t, hs, frame,
                       (const void *)((uintptr_t)((PyCFunctionObject *)arg)->m_ml | 1u),
                       ULMA_EV_C_RETURN, with_clock);
        break;
    default:
        break;
    }
    return 0;
}

static int prof_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    return prof_hook_body(obj, frame, what, arg, 1);
}

/* The profile hook full mode installs (prof_hook but in the overhead
 * benchmark's stripped variants, bench_hooks.h). */
static Py_tracefunc g_prof_fn = prof_hook;

#else /* PY_VERSION_HEX >= 0x030C0000 */

/*
 * 3.12 and 3.13: sys.monitoring (PEP 669). Full mode is a tool of its own
 * (the first free of g_mon_tools), with C callbacks for the events
 * cProfile uses there: PY_START, PY_RESUME and PY_THROW give a CALL record;
 * PY_RETURN and PY_YIELD a RETURN, PY_UNWIND an UNWIND; CALL of a C function
 * (or of a method descriptor with its object, as a bound method) a C_CALL;
 * C_RETURN and C_RAISE its C_RETURN. The same events as the setprofile shim
 * CPython builds on the same machinery, without the frame object the shim
 * makes for every frame; and the program's own profile function
 * (sys.setprofile, threading.setprofile), debugger or coverage tool, and
 * cProfile (the profiler tool id) run beside full mode and take nothing from
 * it. The callbacks never return DISABLE: a call site can call a C function
 * on one run and a Python one on the next.
 *
 * The events are interpreter-wide: no per-thread installation, and full
 * mode ends on every thread at once (the period bookkeeping above). A
 * thread's first event in a period (the epoch changed) attaches and syncs
 * it: the frames it recorded open and that left while full mode was off get
 * their returns first.
 */
typedef struct mon_cb {
    PyObject_HEAD
    vectorcallfunc vectorcall;
} mon_cb_t;

static PyTypeObject g_mon_cb_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ulma._ulma.monitor_callback",
    .tp_basicsize = sizeof(mon_cb_t),
    .tp_vectorcall_offset = offsetof(mon_cb_t, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "one of ulma's full-mode sys.monitoring callbacks (internal)",
};

/* Tool ids full mode may take, in order of preference: those PEP 669 leaves
 * unnamed (0-2 are debugger, coverage, profiler; 5 the optimizer's). */
static const int g_mon_tools[] = {4, 3};
static int g_mon_tool = -1;       /* the one taken, -1: none yet */
static PyObject *g_monitoring;    /* sys.monitoring */
static PyObject *g_mon_missing;   /* sys.monitoring.MISSING (a call's absent arg0) */
static int g_mon_warned;

static inline _PyInterpreterFrame *mon_frame(void)
{
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    return ts ? TS_FRAME(ts) : NULL;
}

/* A thread's first event in a full-mode period (or ever). `chain`: the
 * innermost frame still running. */
static __attribute__((noinline)) void mon_sync(ulma_rt_thread_t *t,
                                               const _PyInterpreterFrame *chain)
{
    thread_attach(t);
    hook_state_t *hs = hook_state_of(t);
    if (!hs)
        return; /* counted; the next event tries again */
    if (hs->len)
        open_settle(t, hs, chain);
    hs->period = g_mon_period;
    thread_mode(t);
}

/* What every callback does first: the thread's runtime state, synced, or
 * NULL when the event is not to be recorded (the hook's own work nested,
 * no memory for the open frames). */
static inline __attribute__((always_inline)) hook_state_t *
mon_enter(ulma_rt_thread_t *t, const _PyInterpreterFrame *chain, PyObject *const *args)
{
    if (ULMA_UNLIKELY(t->hook_epoch != g_epoch))
        mon_sync(t, chain);
    if (ULMA_UNLIKELY(t->nesting))
        return NULL;
    hook_state_t *hs = t->hook_state;
    if (ULMA_LIKELY(hs) && ULMA_UNLIKELY(g_objects))
        g_obj->flush_made(args[1]); /* the event's offset: an int made for it */
    return hs;
}

/* PY_START, PY_RESUME, PY_THROW (code, offset[, exception]): the frame,
 * innermost now, is entered. */
static inline __attribute__((always_inline)) void mon_py_call_body(PyObject *const *args,
                                                                   const int with_clock)
{
    ulma_rt_thread_t *t = &ulma_rt_tls;
    _PyInterpreterFrame *f = mon_frame();
    hook_state_t *hs = mon_enter(t, f ? f->previous : NULL, args);
    if (ULMA_UNLIKELY(!hs || !f) || !open_room(hs))
        return;
    PyCodeObject *co = (PyCodeObject *)args[0];
    open_push(t, hs, f, co, NULL, code_id(t, co, 1), ULMA_EV_CALL, with_clock);
}

/* PY_RETURN, PY_YIELD, PY_UNWIND (code, offset, value or exception). */
static inline __attribute__((always_inline)) void
mon_py_return_body(PyObject *const *args, uint16_t ev, const int with_clock)
{
    ulma_rt_thread_t *t = &ulma_rt_tls;
    _PyInterpreterFrame *f = mon_frame();
    open_leave(t, mon_enter(t, f, args), f, args[0], ev, with_clock);
}

/* The C function a CALL, C_RETURN or C_RAISE event (code, offset,
 * callable, arg0) is about, as the setprofile shim and cProfile see it: a
 * builtin function or method, or a method descriptor called with its object
 * (as the bound method it makes); its PyMethodDef, or NULL. */
static inline const PyMethodDef *mon_cfunc(PyObject *const *args)
{
    PyObject *fn = args[2];
    if (PyCFunction_Check(fn))
        return ((PyCFunctionObject *)fn)->m_ml;
    if (Py_IS_TYPE(fn, &PyMethodDescr_Type) && args[3] != g_mon_missing)
        return ((PyMethodDescrObject *)fn)->d_method;
    return NULL;
}

/* A C function's id; its definition from the bound method a descriptor
 * makes (as the shim does), else none (0: not recorded). */
static __attribute__((noinline)) uint32_t mon_cfunc_define(ulma_rt_thread_t *t,
                                                           PyObject *const *args,
                                                           cfunc_ent_t *e, uint32_t gen)
{
    PyObject *fn = args[2];
    if (PyCFunction_Check(fn))
        return cfunc_define(t, (PyCFunctionObject *)fn, e, gen);
    PyObject *exc = PyErr_GetRaisedException();
    t->nesting++;
    PyObject *self = args[3];
    PyObject *m = Py_TYPE(fn)->tp_descr_get(fn, self, (PyObject *)Py_TYPE(self));
    uint32_t id = 0;
    if (m && PyCFunction_Check(m))
        id = cfunc_define(t, (PyCFunctionObject *)m, e, gen);
    else if (m)
        ulma_rt_problem();
    /* else the object is not one the descriptor applies to: the call
     * itself raises that TypeError, and nothing runs to be recorded */
    Py_XDECREF(m);
    PyErr_Clear();
    t->nesting--;
    PyErr_SetRaisedException(exc);
    return id;
}

/* What CALL, C_RETURN and C_RAISE do first: the C function's PyMethodDef
 * (mon_cfunc), or NULL (the event's offset then given back to the object
 * events); the innermost frame in *fp and the thread synced (*hsp, NULL:
 * not recorded). */
static inline __attribute__((always_inline)) const PyMethodDef *
mon_c_enter(ulma_rt_thread_t *t, PyObject *const *args, _PyInterpreterFrame **fp,
            hook_state_t **hsp)
{
    const PyMethodDef *ml = mon_cfunc(args);
    if (!ml) { /* a Python function (its PY_START follows), a class... */
        if (ULMA_UNLIKELY(g_objects))
            g_obj->flush_made(args[1]);
        return NULL;
    }
    *fp = mon_frame();
    *hsp = mon_enter(t, *fp, args);
    return ml;
}

/* CALL: a C function is called from the innermost frame. */
static inline __attribute__((always_inline)) void mon_call_body(PyObject *const *args,
                                                                const int with_clock)
{
    ulma_rt_thread_t *t = &ulma_rt_tls;
    _PyInterpreterFrame *f;
    hook_state_t *hs;
    const PyMethodDef *ml = mon_c_enter(t, args, &f, &hs);
    if (!ml || ULMA_UNLIKELY(!hs || !f) || !open_room(hs))
        return;
    cfunc_ent_t *ce = cf_find(ml);
    uint32_t gen = ulma_load_relaxed(&ulma_rt_defgen);
    uint32_t id = ULMA_LIKELY(ce && ce->gen == gen) ? ce->id : mon_cfunc_define(t, args, ce, gen);
    if (ULMA_LIKELY(id))
        open_push(t, hs, f, (const void *)((uintptr_t)ml | 1u), FRAME_INSTR(f), id,
                  ULMA_EV_C_CALL, with_clock);
}

/* C_RETURN, C_RAISE: the C function called from the innermost frame
 * returns. */
static inline __attribute__((always_inline)) void mon_c_return_body(PyObject *const *args,
                                                                    const int with_clock)
{
    ulma_rt_thread_t *t = &ulma_rt_tls;
    _PyInterpreterFrame *f;
    hook_state_t *hs;
    const PyMethodDef *ml = mon_c_enter(t, args, &f, &hs);
    if (ml)
        open_leave(t, hs, f, (const void *)((uintptr_t)ml | 1u), ULMA_EV_C_RETURN, with_clock);
}

/* The callbacks (vectorcall: callable, args, nargsf, kwnames). Each returns
 * None (immortal from 3.12), never DISABLE. */
#define MON_CALLBACK(name, body)                                                            \
    static PyObject *name(PyObject *cb, PyObject *const *args, size_t nargsf, PyObject *kw) \
    {                                                                                     \
        (void)cb, (void)nargsf, (void)kw;                                                 \
        body;                                                                             \
        Py_RETURN_NONE;                                                                   \
    }
MON_CALLBACK(mon_py_call, mon_py_call_body(args, 1))
MON_CALLBACK(mon_py_return, mon_py_return_body(args, ULMA_EV_RETURN, 1))
MON_CALLBACK(mon_py_unwind, mon_py_return_body(args, ULMA_EV_UNWIND, 1))
MON_CALLBACK(mon_call, mon_call_body(args, 1))
MON_CALLBACK(mon_c_return, mon_c_return_body(args, 1))

/* One set of callbacks, by event: enter (PY_START, PY_RESUME, PY_THROW),
 * return (PY_RETURN, PY_YIELD), unwind (PY_UNWIND), call (CALL), c_return
 * (C_RETURN, C_RAISE). */
typedef struct mon_set {
    vectorcallfunc enter, ret, unwind, call, c_return;
} mon_set_t;

static const mon_set_t g_mon_real = {mon_py_call, mon_py_return, mon_py_unwind, mon_call,
                                     mon_c_return};
static const mon_set_t *g_mon_set = &g_mon_real; /* the benchmark's variants (bench_hooks.h) */
static const mon_set_t *g_mon_registered;        /* the set registered now */

/* sys.monitoring.<name>(args...) from C; 0 or -1 (the error cleared). */
static int mon_call_method(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *fn = PyObject_GetAttrString(g_monitoring, name);
    PyObject *a = fn ? Py_VaBuildValue(fmt, ap) : NULL;
    va_end(ap);
    PyObject *r = a ? PyObject_CallObject(fn, a) : NULL;
    int rc = r ? 0 : -1;
    Py_XDECREF(r);
    Py_XDECREF(a);
    Py_XDECREF(fn);
    PyErr_Clear();
    return rc;
}

static int mon_register(int event_bit, vectorcallfunc f)
{
    mon_cb_t *cb = PyObject_New(mon_cb_t, &g_mon_cb_type);
    if (!cb)
        return -1;
    cb->vectorcall = f;
    int rc = mon_call_method("register_callback", "(iiO)", g_mon_tool, event_bit, (PyObject *)cb);
    Py_DECREF(cb);
    return rc;
}

/* The events full mode asks for, and their callbacks. */
static const struct {
    const char *name;
    size_t which; /* offset in mon_set_t */
} g_mon_events[] = {
    {"PY_START", offsetof(mon_set_t, enter)},   {"PY_RESUME", offsetof(mon_set_t, enter)},
    {"PY_THROW", offsetof(mon_set_t, enter)},   {"PY_RETURN", offsetof(mon_set_t, ret)},
    {"PY_YIELD", offsetof(mon_set_t, ret)},     {"PY_UNWIND", offsetof(mon_set_t, unwind)},
    {"CALL", offsetof(mon_set_t, call)},        {"C_RETURN", offsetof(mon_set_t, c_return)},
    {"C_RAISE", offsetof(mon_set_t, c_return)},
};
#define MON_NEVENTS (sizeof(g_mon_events) / sizeof(g_mon_events[0]))
static int g_mon_bit[MON_NEVENTS]; /* sys.monitoring.events.<name> */
static long g_mon_mask;            /* all of them, 0: not read */

/* Take a tool id and register the callbacks (once, and again for another
 * set). 0, or -1: full mode cannot run here (said once). GIL held. */
static int mon_ready(void)
{
    PyObject *exc = PyErr_GetRaisedException();
    ulma_rt_thread_t *me = &ulma_rt_tls;
    me->nesting++;
    int rc = -1;
    if (g_mon_tool >= 0) {
        /* still ours? (the program may have freed it, and taken it for itself) */
        PyObject *name = PyObject_CallMethod(g_monitoring, "get_tool", "i", g_mon_tool);
        int ours = name && PyUnicode_Check(name) &&
                   PyUnicode_CompareWithASCIIString(name, "ulma") == 0;
        Py_XDECREF(name);
        PyErr_Clear();
        if (ours && g_mon_registered == g_mon_set) {
            rc = 0;
            goto out;
        }
        if (!ours)
            g_mon_tool = -1, g_mon_registered = NULL;
    }
    if (!g_monitoring) {
        PyObject *sys = PyImport_ImportModule("sys");
        g_monitoring = sys ? PyObject_GetAttrString(sys, "monitoring") : NULL;
        Py_XDECREF(sys);
        g_mon_missing = g_monitoring ? PyObject_GetAttrString(g_monitoring, "MISSING") : NULL;
        PyObject *evs = g_monitoring ? PyObject_GetAttrString(g_monitoring, "events") : NULL;
        for (size_t i = 0; evs && i < MON_NEVENTS; i++) {
            PyObject *v = PyObject_GetAttrString(evs, g_mon_events[i].name);
            long bit = v ? PyLong_AsLong(v) : -1;
            Py_XDECREF(v);
            if (bit <= 0 || bit > INT_MAX) {
                g_mon_mask = 0;
                break;
            }
            g_mon_bit[i] = (int)bit;
            g_mon_mask |= bit;
        }
        Py_XDECREF(evs);
        PyErr_Clear();
    }
    if (!g_monitoring || !g_mon_missing || !g_mon_mask)
        goto out;
    for (size_t i = 0; g_mon_tool < 0 && i < sizeof(g_mon_tools) / sizeof(g_mon_tools[0]); i++)
        if (mon_call_method("use_tool_id", "(is)", g_mon_tools[i], "ulma") == 0)
            g_mon_tool = g_mon_tools[i];
    if (g_mon_tool < 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < MON_NEVENTS; i++) {
        vectorcallfunc f =
            *(const vectorcallfunc *)((const char *)g_mon_set + g_mon_events[i].which);
        if (mon_register(g_mon_bit[i], f) != 0)
            rc = -1;
    }
    g_mon_registered = rc == 0 ? g_mon_set : NULL;
out:
    if (rc != 0 && !g_mon_warned) {
        g_mon_warned = 1;
        PySys_WriteStderr("ulma: full mode is not available in this process: sys.monitoring "
                          "tool ids 4 and 3 are both in use by the program (or its "
                          "monitoring failed); fast mode instead\n");
    }
    if (rc != 0)
        ulma_rt_problem();
    me->nesting--;
    PyErr_SetRaisedException(exc);
    return rc;
}

/* Full mode's events on or off, interpreter-wide. GIL held. */
static void mon_events(int on)
{
    PyObject *exc = PyErr_GetRaisedException();
    if (g_mon_tool >= 0 && mon_call_method("set_events", "(il)", g_mon_tool,
                                           on ? g_mon_mask : 0L) != 0)
        ulma_rt_problem();
    PyErr_SetRaisedException(exc);
}
#endif /* PY_VERSION_HEX */

/* ------------------------------------- inline __getitem__ calls (3.11) */

/*
 * CPython 3.11 before 3.11.4 (gh-104405) specialises `container[sub]` on a
 * class whose __getitem__ is a Python function into BINARY_SUBSCR_GETITEM,
 * which pushes that function's frame inline without calling the eval-frame
 * function: fast mode would not see those calls (every other inline push of
 * 3.11's ceval.c, in CALL, CALL_PY_EXACT_ARGS and CALL_PY_WITH_DEFAULTS,
 * checks for an eval-frame function; the profile hook of full mode makes
 * the interpreter run the generic instruction, so full mode is not
 * concerned).
 *
 * The specialiser (Python/specialize.c) gives up when the function's
 * version (func_version, handed out lazily from a per-process counter by
 * _PyFunction_GetVersionForCurrentState) does not fit the 16 bits of the
 * instruction's cache, and the specialised instruction deoptimises when the
 * function's version is no longer the cached one. So, once per process,
 * before fast mode first goes in:
 *   1. drive that counter past 0xffff: a private probe makes the specialiser
 *      hand out versions to a private function until one does not fit, so
 *      no function gets a 16-bit version any more;
 *   2. give every function that holds a 16-bit version (and has the two
 *      parameters the specialiser requires) a fresh version taken from the
 *      same counter through the same probe: instructions specialised on it
 *      deoptimise, and it is never specialised again.
 * Versions still come from CPython's counter, each used for one function
 * state only, which is what the call-site caches rely on. Nothing on the
 * per-event path. The price: in this process, subscripts of such classes
 * stay on the generic path (which calls through the eval-frame function),
 * also once fast mode is off again.
 */
static int g_getitem_state; /* 0: to do, 1: done (or not needed), -1: failed, retried */
static uint64_t g_getitem_bumps, g_getitem_reversioned;

#if PY_VERSION_HEX < 0x030C0000

typedef struct getitem_probe {
    PyObject *fn;          /* def probe(c): return c[0] */
    PyObject *obj;         /* an instance of a class whose __getitem__ is item */
    PyFunctionObject *item;
    _Py_CODEUNIT *instr;   /* probe's subscript instruction, then its cache */
} getitem_probe_t;

static getitem_probe_t g_probe;

/* Build the probe and let the interpreter quicken it. 0 or -1 (exception
 * set). */
static int probe_make(getitem_probe_t *p)
{
    static const char src[] = "class P:\n"
                              "    def __getitem__(self, i):\n"
                              "        return i\n"
                              "def probe(c):\n"
                              "    return c[0]\n";
    int rc = -1;
    PyObject *g = PyDict_New(), *cls = NULL, *code = NULL;
    if (!g || PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins()) != 0)
        goto out;
    PyObject *r = PyRun_String(src, Py_file_input, g, g);
    if (!r)
        goto out;
    Py_DECREF(r);
    cls = PyDict_GetItemString(g, "P"); /* borrowed */
    p->fn = Py_XNewRef(PyDict_GetItemString(g, "probe"));
    if (!cls || !p->fn || !PyFunction_Check(p->fn))
        goto bad;
    p->item = (PyFunctionObject *)PyObject_GetAttrString(cls, "__getitem__");
    p->obj = PyObject_CallNoArgs(cls);
    if (!p->item || !p->obj)
        goto out;
    if (!PyFunction_Check((PyObject *)p->item))
        goto bad;
    /* the subscript's place, from the deoptimised code (caches read 0) */
    PyCodeObject *co = (PyCodeObject *)PyFunction_GET_CODE(p->fn);
    code = PyObject_GetAttrString((PyObject *)co, "co_code");
    if (!code || !PyBytes_Check(code))
        goto bad;
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(code);
    Py_ssize_t n = PyBytes_GET_SIZE(code) / 2, i;
    for (i = 0; i < n && b[2 * i] != BINARY_SUBSCR; i++)
        ;
    if (i + 1 >= n)
        goto bad;
    p->instr = _PyCode_CODE(co) + i;
    /* quickening happens after a few calls */
    for (int k = 0; k < 64 && _Py_OPCODE(p->instr[0]) == BINARY_SUBSCR; k++) {
        r = PyObject_CallOneArg(p->fn, p->obj);
        if (!r)
            goto out;
        Py_DECREF(r);
    }
    if (_Py_OPCODE(p->instr[0]) == BINARY_SUBSCR)
        goto bad;
    rc = 0;
    goto out;
bad:
    PyErr_SetString(PyExc_RuntimeError, "ulma: __getitem__ probe has an unexpected shape");
out:
    Py_XDECREF(code);
    Py_XDECREF(g);
    if (rc != 0) {
        Py_CLEAR(p->fn);
        Py_CLEAR(p->obj);
        Py_CLEAR(p->item);
    }
    return rc;
}

/* Have the specialiser hand a new version to the probe's function and
 * return it: 0 if none was handed out (exception set, or nothing
 * specialised). */
static uint32_t probe_version(getitem_probe_t *p)
{
    p->item->func_version = 0;
    _Py_SET_OPCODE(p->instr[0], BINARY_SUBSCR_ADAPTIVE);
    p->instr[1] = 0; /* the cache's counter: specialise at the next execution */
    PyObject *r = PyObject_CallOneArg(p->fn, p->obj);
    if (!r)
        return 0;
    Py_DECREF(r);
    return p->item->func_version;
}

/* Steps 1 and 2 above. GIL held; nothing of ours installed. Returns 0 or
 * -1 with an exception set. */
static int getitem_reversion(void)
{
    getitem_probe_t *p = &g_probe;
    if (!p->fn && probe_make(p) != 0)
        return -1;
    uint32_t v;
    do {
        v = probe_version(p);
        g_getitem_bumps++;
    } while (v != 0 && v <= 0xffffu && g_getitem_bumps < 0x20000u);
    if (v <= 0xffffu) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "ulma: function versions not handed out");
        return -1;
    }
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *all = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    Py_XDECREF(gc);
    if (!all || !PyList_Check(all)) {
        Py_XDECREF(all);
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all) && rc == 0; i++) {
        PyObject *o = PyList_GET_ITEM(all, i);
        if (!PyFunction_Check(o) || o == (PyObject *)p->item)
            continue;
        PyFunctionObject *f = (PyFunctionObject *)o;
        if (f->func_version == 0 || f->func_version > 0xffffu ||
            ((PyCodeObject *)f->func_code)->co_argcount != 2)
            continue;
        v = probe_version(p);
        if (v <= 0xffffu) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "ulma: function versions not handed out");
            rc = -1;
            break;
        }
        f->func_version = v;
        g_getitem_reversioned++;
    }
    p->item->func_version = 0;
    Py_DECREF(all);
    return rc;
}

/* Before fast mode goes in (GIL held). Hides the probe from any profile or
 * trace function of the calling thread; keeps the caller's exception. A
 * failure is counted as a problem and the work tried again next time. */
static void getitem_prepare(void)
{
    if (g_getitem_state == 1)
        return;
    if (Py_Version >= 0x030B0400u) { /* gh-104405 fixed: the check is CPython's */
        g_getitem_state = 1;
        return;
    }
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyThreadState *ts = PyThreadState_Get();
    uint8_t tracing = ts->cframe->use_tracing;
    ts->cframe->use_tracing = 0;
    ulma_rt_thread_t *t = &ulma_rt_tls;
    t->nesting++;
    int rc = getitem_reversion();
    t->nesting--;
    ts->cframe->use_tracing = tracing;
    g_getitem_state = rc == 0 ? 1 : -1;
    if (rc != 0) {
        PyErr_Clear();
        ulma_rt_problem();
    }
    PyErr_Restore(et, ev, etb);
}

#else
/* 3.12 and 3.13: BINARY_SUBSCR_GETITEM, like the other inline pushes of a
 * Python frame (the CALL and LOAD_ATTR specialisations, FOR_ITER_GEN,
 * SEND_GEN), first checks that no eval-frame function is set: nothing to
 * do (but for 3.13's __init__, below). */
static void getitem_prepare(void)
{
    g_getitem_state = 1;
}
#endif

/* ----------------------------------- inline __init__ calls (3.13) */

/*
 * CPython 3.13 specialises `Cls(args)` on a class of metaclass `type` with
 * object's tp_new, PyType_GenericAlloc as its tp_alloc and a simple Python
 * __init__ into CALL_ALLOC_AND_ENTER_INIT, which pushes the __init__ frame
 * inline without checking for an eval-frame function (neither does the
 * specialiser): fast mode would not see those calls. The instruction is
 * guarded by the class's version tag only, and the specialiser gives up on
 * a class whose tp_alloc is not PyType_GenericAlloc. So, once per process,
 * before fast mode first goes in: every such class alive gets a tp_alloc
 * that calls PyType_GenericAlloc (init_alloc) and a new version tag
 * (PyType_Modified: its specialised calls deoptimise and are never
 * specialised again), and `type`'s tp_new is wrapped so that every class
 * created later gets the same. The price: in this process, instantiating
 * such a class takes the generic call path (which calls through the
 * eval-frame function) and one more C call, also once fast mode is off.
 * Nothing on the per-event path. A class made by PyType_FromSpec with a
 * Python __init__ is not covered.
 */
#if PY_VERSION_HEX >= 0x030D0000
static int g_init_state; /* 0: to do, 1: done */
static uint64_t g_init_patched;
static newfunc g_orig_type_new;

static PyObject *init_alloc(PyTypeObject *tp, Py_ssize_t nitems)
{
    return PyType_GenericAlloc(tp, nitems);
}

static void init_patch(PyTypeObject *tp)
{
    if (Py_IS_TYPE(tp, &PyType_Type) && (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
        tp->tp_alloc == PyType_GenericAlloc && tp->tp_new == PyBaseObject_Type.tp_new) {
        tp->tp_alloc = init_alloc;
        PyType_Modified(tp);
        g_init_patched++;
    }
}

static PyObject *init_type_new(PyTypeObject *meta, PyObject *args, PyObject *kw)
{
    PyObject *r = g_orig_type_new(meta, args, kw);
    if (r && PyType_Check(r))
        init_patch((PyTypeObject *)r);
    return r;
}

/* Every class alive, through tp_subclasses (GIL held). Errors cleared. */
static void init_walk(PyTypeObject *tp, int depth)
{
    init_patch(tp);
    if (depth > 1000)
        return;
    PyObject *subs = PyObject_CallMethod((PyObject *)tp, "__subclasses__", NULL);
    if (!subs || !PyList_Check(subs)) {
        Py_XDECREF(subs);
        PyErr_Clear();
        return;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subs); i++) {
        PyObject *c = PyList_GET_ITEM(subs, i);
        if (PyType_Check(c))
            init_walk((PyTypeObject *)c, depth + 1);
    }
    Py_DECREF(subs);
}

static void init_prepare(void)
{
    if (g_init_state == 1)
        return;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    ulma_rt_thread_t *t = &ulma_rt_tls;
    t->nesting++;
    g_orig_type_new = PyType_Type.tp_new;
    PyType_Type.tp_new = init_type_new;
    init_walk(&PyBaseObject_Type, 0);
    t->nesting--;
    g_init_state = 1;
    PyErr_Restore(et, ev, etb);
}
#else
static void init_prepare(void)
{
}
#endif

/* --------------------------------------------------------- mode changes */

/* Name every thread the threading module knows (GIL held). */
static void name_threads(void)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *threading = mods ? PyDict_GetItemString(mods, "threading") : NULL; /* borrowed */
    PyObject *list = threading ? PyObject_CallMethod(threading, "enumerate", NULL) : NULL;
    if (list && PyList_Check(list)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
            PyObject *th = PyList_GET_ITEM(list, i);
            PyObject *tid = PyObject_GetAttrString(th, "native_id");
            PyObject *name = PyObject_GetAttrString(th, "name");
            long t = tid && PyLong_Check(tid) ? PyLong_AsLong(tid) : -1;
            const char *s = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
            if (t > 0 && s)
                ulma_rt_name_thread((int32_t)t, s);
            Py_XDECREF(tid);
            Py_XDECREF(name);
        }
    }
    Py_XDECREF(list);
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
}

/* threading.setprofile(x) where threading is loaded; only replaces None or
 * our own callable (a program's own hook is left alone). */
static void threading_setprofile(PyObject *fn)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *threading = mods ? PyDict_GetItemString(mods, "threading") : NULL;
    if (threading) {
        PyObject *cur = PyObject_GetAttrString(threading, "_profile_hook");
        if (cur && (cur == Py_None || cur == g_thread_boot)) {
            PyObject *r = PyObject_CallMethod(threading, "setprofile", "O", fn);
            Py_XDECREF(r);
        }
        Py_XDECREF(cur);
    }
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
}

#if PY_VERSION_HEX < 0x030C0000
/* --------------------------------------- full mode: the program's hook */

/*
 * Only one profile hook exists per thread. When the program installs its
 * own (sys.setprofile, threading.setprofile for new threads, cProfile,
 * any C profiler), full mode is paused on that thread: said once on
 * standard error, shown to the agent in header.hook_status
 * (ULMA_HOOK_DISPLACED while at least one thread is so, and a count), and
 * ended when the program removes its function: at once through
 * sys.setprofile (wrapped while full mode is on), within a watcher period
 * (ULMA_RT_WATCH_MS) otherwise. The thread then settles its open frames.
 * Everything here runs with the GIL held.
 */
typedef struct displaced {
    PyThreadState *ts;
    unsigned long tid; /* its native id (a thread state's address can be reused) */
} displaced_t;

#define DISPLACED_MAX 256
static displaced_t g_displaced[DISPLACED_MAX];
static uint32_t g_ndisplaced;
static _Atomic uint32_t g_hook_check;   /* the watcher should look (a hook went away) */
static uint32_t g_displacements;        /* times a thread's hook was taken */
static unsigned long g_warned[64];      /* threads already told about */
static uint32_t g_nwarned;
static PyObject *g_sys_setprofile, *g_sys_getprofile; /* the originals */
static PyObject *g_setprofile_fn, *g_getprofile_fn;   /* ours */

static void hook_status_publish(void)
{
    ulma_segment_t *seg = ulma_rt_segment();
    if (!seg)
        return;
    uint32_t now = g_ndisplaced ? ULMA_HOOK_DISPLACED : 0;
    uint32_t n = g_displacements > 0xffffu ? 0xffffu : g_displacements;
    ulma_store_relaxed(&ulma_segment_header(seg)->hook_status,
                       now | (n << ULMA_HOOK_COUNT_SHIFT));
}

static displaced_t *displaced_find(PyThreadState *ts)
{
    for (uint32_t i = 0; i < g_ndisplaced; i++)
        if (g_displaced[i].ts == ts)
            return &g_displaced[i];
    return NULL;
}

static void displaced_drop(displaced_t *d)
{
    *d = g_displaced[--g_ndisplaced];
}

/* The thread's name as the threading module knows it, else "?". */
static void thread_label(PyThreadState *ts, char *buf, size_t len)
{
    snprintf(buf, len, "?");
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *threading = mods ? PyDict_GetItemString(mods, "threading") : NULL;
    PyObject *active = threading ? PyObject_GetAttrString(threading, "_active") : NULL;
    PyObject *key = PyLong_FromUnsignedLong(ts->thread_id);
    PyObject *th = active && key && PyDict_Check(active) ? PyDict_GetItem(active, key) : NULL;
    PyObject *name = th ? PyObject_GetAttrString(th, "name") : NULL;
    const char *s = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    if (s)
        snprintf(buf, len, "%s", s);
    Py_XDECREF(name);
    Py_XDECREF(key);
    Py_XDECREF(active);
    PyErr_Clear();
}

/* The program's own profile function holds `ts`'s hook: note it, say it
 * (once per thread). */
static void displaced_confirm(PyThreadState *ts, unsigned long tid)
{
    if (displaced_find(ts))
        return;
    if (g_ndisplaced == DISPLACED_MAX) {
        ulma_rt_problem();
        return;
    }
    g_displaced[g_ndisplaced++] = (displaced_t){ts, tid};
    g_displacements++;
    hook_status_publish();
    for (uint32_t i = 0; i < g_nwarned; i++)
        if (g_warned[i] == tid)
            return;
    if (g_nwarned == sizeof(g_warned) / sizeof(g_warned[0]))
        return;
    g_warned[g_nwarned++] = tid;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    ulma_rt_thread_t *me = &ulma_rt_tls;
    me->nesting++;
    char name[64];
    thread_label(ts, name, sizeof(name));
    PySys_FormatStderr("ulma: full-mode profiling is paused on thread '%s' (native id %lu): "
                       "the program installed its own profile function (sys.setprofile, "
                       "cProfile, ...), which takes the thread's only profile hook; ulma "
                       "takes it back when the program removes it. Calls meanwhile are "
                       "not in the profile.\n",
                       name, tid);
    me->nesting--;
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
}

static PyThreadState *g_setprofile_ts; /* in sys.setprofile (ours) on that thread */

/* From a token's deallocation: our hook leaves `ts`, not by ulma's doing.
 * Through sys.setprofile, which function follows is seen once it returns;
 * otherwise it is a profiler's C code (cProfile...) installing its own,
 * whose removal the watcher will see. */
static void hook_lost(PyThreadState *ts, unsigned long tid)
{
    if (ts == g_setprofile_ts)
        return;
    displaced_confirm(ts, tid);
    atomic_store(&g_hook_check, 1u);
}

/* Install the hook on `ts` with a new token. 0 or -1 (counted). */
static int hook_install(PyThreadState *ts)
{
    hook_token_t *k = PyObject_New(hook_token_t, &g_token_type);
    if (!k) {
        PyErr_Clear();
        ulma_rt_problem();
        return -1;
    }
    k->ts = ts;
    k->tid = ts->native_thread_id;
    k->t = NULL;
    k->hs = NULL;
    int rc = _PyEval_SetProfile(ts, g_prof_fn, (PyObject *)k);
    Py_DECREF(k);
    if (rc != 0) {
        PyErr_Clear();
        ulma_rt_problem();
    }
    return rc;
}

/* Look at `ts` after its profile function may have changed: take the hook
 * back if the program let it go, note the program's function otherwise. */
static void hook_review(PyThreadState *ts)
{
    displaced_t *d = displaced_find(ts);
    if (ts->c_profilefunc == g_prof_fn) {
        if (d)
            displaced_drop(d);
    } else if (ts->c_profilefunc == NULL) {
        if (d)
            displaced_drop(d);
        hook_install(ts);
    } else {
        displaced_confirm(ts, ts->native_thread_id);
    }
}

/* The watcher's tick: in full mode, when a hook went away or a thread is
 * held by the program's function, review those threads. */
static void on_tick(void *ctx)
{
    (void)ctx;
    if (g_mode != ULMA_MODE_FULL || py_finalizing())
        return;
    if (!atomic_exchange(&g_hook_check, 0u) && !__atomic_load_n(&g_ndisplaced, __ATOMIC_RELAXED))
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    if (g_mode == ULMA_MODE_FULL) {
        for (uint32_t i = g_ndisplaced; i-- > 0;) {
            displaced_t *d = &g_displaced[i];
            PyThreadState *ts = PyInterpreterState_ThreadHead(g_interp);
            while (ts && (ts != d->ts || ts->native_thread_id != d->tid))
                ts = PyThreadState_Next(ts);
            if (!ts)
                displaced_drop(d); /* the thread ended */
            else
                hook_review(ts);
        }
        hook_status_publish();
    }
    PyGILState_Release(g);
}

static void thread_boot_here(void);

/* sys.setprofile while full mode is on. */
static PyObject *py_sys_setprofile(PyObject *self, PyObject *fn)
{
    (void)self;
    PyThreadState *ts = PyThreadState_Get();
    if (fn == g_thread_boot && g_mode == ULMA_MODE_FULL && ts->c_profilefunc == NULL) {
        thread_boot_here(); /* a new thread (threading.setprofile): the hook itself */
        Py_RETURN_NONE;
    }
    PyThreadState *outer = g_setprofile_ts;
    g_setprofile_ts = ts;
    PyObject *r = PyObject_CallOneArg(g_sys_setprofile, fn);
    g_setprofile_ts = outer;
    if (!r)
        return NULL;
    Py_DECREF(r);
    if (g_mode == ULMA_MODE_FULL) {
        hook_review(ts);
        hook_status_publish();
    }
    Py_RETURN_NONE;
}

/* sys.getprofile while full mode is on: ulma's hook is not the program's. */
static PyObject *py_sys_getprofile(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    PyObject *o = PyThreadState_Get()->c_profileobj;
    if (!o || Py_IS_TYPE(o, &g_token_type))
        Py_RETURN_NONE;
    return Py_NewRef(o);
}

static PyMethodDef g_setprofile_def = {
    "setprofile", py_sys_setprofile, METH_O,
    "setprofile(function)\n\nSet the profiling function (ulma keeps its own full-mode hook "
    "underneath: see the ulma package)."};
static PyMethodDef g_getprofile_def = {"getprofile", py_sys_getprofile, METH_NOARGS,
                                       "Return the profiling function set with "
                                       "sys.setprofile."};

#endif /* 3.11 */

/* threading.setprofile while full mode is on: new threads keep getting
 * ulma's hook when the program sets none. */
static PyObject *py_threading_setprofile(PyObject *self, PyObject *fn)
{
    (void)self;
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *threading = mods ? PyDict_GetItemString(mods, "threading") : NULL;
    if (!threading) {
        PyErr_SetString(PyExc_RuntimeError, "threading is not loaded");
        return NULL;
    }
    PyObject *v = fn == Py_None && g_mode == ULMA_MODE_FULL ? g_thread_boot : fn;
    if (PyObject_SetAttrString(threading, "_profile_hook", v) != 0)
        return NULL;
    Py_RETURN_NONE;
}

/* threading.getprofile while full mode is on. */
static PyObject *py_threading_getprofile(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *threading = mods ? PyDict_GetItemString(mods, "threading") : NULL;
    PyObject *v = threading ? PyObject_GetAttrString(threading, "_profile_hook") : NULL;
    if (!v)
        return NULL;
    if (v == g_thread_boot) {
        Py_DECREF(v);
        Py_RETURN_NONE;
    }
    return v;
}

static PyMethodDef g_tsetprofile_def = {"setprofile", py_threading_setprofile, METH_O,
                                        "Set a profile function for all threads started "
                                        "from the threading module."};
static PyMethodDef g_tgetprofile_def = {"getprofile", py_threading_getprofile, METH_NOARGS,
                                        "Get the profiler function as set by "
                                        "threading.setprofile()."};


/* A module's function `name` (its original saved in *orig, ours made from
 * `def` in *ours the first time): ours in (on), or the original back; only
 * ours is replaced by the original, only the original by ours. */
static void wrap_attr(PyObject *mod, const char *modname, const char *name, PyMethodDef *def,
                      PyObject **orig, PyObject **ours, int on)
{
    if (!mod)
        return;
    if (on && !*ours) {
        PyObject *mn = PyUnicode_FromString(modname);
        *orig = PyObject_GetAttrString(mod, name);
        if (mn && *orig)
            *ours = PyCFunction_NewEx(def, mod, mn);
        Py_XDECREF(mn);
    }
    if (!*ours || !*orig)
        return;
    PyObject *cur = PyObject_GetAttrString(mod, name);
    if (on ? cur == *orig : cur == *ours)
        PyObject_SetAttrString(mod, name, on ? *ours : *orig);
    Py_XDECREF(cur);
}

#if PY_VERSION_HEX >= 0x030C0000
/* os.fork and os.forkpty: CPython 3.12+ warns when a process forks while it
 * has other OS threads ("This process is multi-threaded, use of fork() may
 * lead to deadlocks in the child"), and the runtime's watcher would count;
 * it is fork-safe (rt.c's atfork handlers) and not the program's. Ours call
 * the originals with the watcher paused, so that the warning is the one
 * the program gets without us; C functions, so that it still names the
 * program's line. */
static PyObject *g_os_fork, *g_os_forkpty;

static PyObject *fork_paused(PyObject *orig)
{
    Py_BEGIN_ALLOW_THREADS /* a control handler may be waiting for the GIL */
    ulma_rt_watcher_pause();
    Py_END_ALLOW_THREADS
    PyObject *r = PyObject_CallNoArgs(orig);
    ulma_rt_watcher_resume(); /* in the child: its watcher runs already */
    return r;
}

static PyObject *py_os_fork(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return fork_paused(g_os_fork);
}

static PyObject *py_os_forkpty(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return fork_paused(g_os_forkpty);
}

/* the originals' signatures and documentation (Modules/posixmodule.c) */
static PyMethodDef g_fork_def = {"fork", py_os_fork, METH_NOARGS,
                                 "fork($module, /)\n--\n\nFork a child process.\n\nReturn 0 "
                                 "to child process and PID of child to parent process."};
static PyMethodDef g_forkpty_def = {
    "forkpty", py_os_forkpty, METH_NOARGS,
    "forkpty($module, /)\n--\n\nFork a new process with a new pseudo-terminal as controlling "
    "tty.\n\nReturns a tuple of (pid, master_fd).\nLike fork(), return pid of 0 to the child "
    "process,\nand pid of child to the parent process.\nTo both, return fd of newly opened "
    "pseudo-terminal."};

static void fork_wrap(void)
{
    static PyObject *fork_ours, *forkpty_ours;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *os = mods ? PyDict_GetItemString(mods, "os") : NULL;
    wrap_attr(os, "posix", "fork", &g_fork_def, &g_os_fork, &fork_ours, 1);
    if (os && PyObject_HasAttrString(os, "forkpty"))
        wrap_attr(os, "posix", "forkpty", &g_forkpty_def, &g_os_forkpty, &forkpty_ours, 1);
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
}
#endif

/* threading.setprofile / getprofile (and on 3.11 sys.setprofile /
 * getprofile): ours while full mode is on, the originals back after. */
static void sys_wrap(int on)
{
    static PyObject *t_set, *t_get, *t_set_ours, *t_get_ours;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *threading = mods ? PyDict_GetItemString(mods, "threading") : NULL;
#if PY_VERSION_HEX < 0x030C0000
    PyObject *sys = mods ? PyDict_GetItemString(mods, "sys") : NULL;
    wrap_attr(sys, "sys", "setprofile", &g_setprofile_def, &g_sys_setprofile, &g_setprofile_fn,
              on);
    wrap_attr(sys, "sys", "getprofile", &g_getprofile_def, &g_sys_getprofile, &g_getprofile_fn,
              on);
#endif
    wrap_attr(threading, "threading", "setprofile", &g_tsetprofile_def, &t_set, &t_set_ours, on);
    wrap_attr(threading, "threading", "getprofile", &g_tgetprofile_def, &t_get, &t_get_ours, on);
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
}

#if PY_VERSION_HEX < 0x030C0000
static void profile_all(int on)
{
    PyThreadState *ts = PyInterpreterState_ThreadHead(g_interp);
    if (!on)
        g_uninstalling = 1;
    for (; ts; ts = PyThreadState_Next(ts)) {
        if (on) {
            if (ts->c_profilefunc == NULL)
                hook_install(ts);
            else if (ts->c_profilefunc != g_prof_fn)
                g_foreign_profile++, displaced_confirm(ts, ts->native_thread_id);
        } else if (ts->c_profilefunc == g_prof_fn) {
            _PyEval_SetProfile(ts, NULL, NULL);
        }
    }
    if (!on) {
        g_uninstalling = 0;
        g_ndisplaced = 0; /* nothing to take back while full mode is off */
        atomic_store(&g_hook_check, 0u);
    }
    PyErr_Clear();
    hook_status_publish();
}

#endif

/* Apply `mode` process-wide. GIL held. */
static void apply_mode(uint32_t mode)
{
    if (mode > ULMA_MODE_FULL)
        mode = ULMA_MODE_OFF;
#if PY_VERSION_HEX >= 0x030C0000
    if (mode == ULMA_MODE_FULL && mon_ready() != 0)
        mode = ULMA_MODE_FAST; /* said */
#endif
    if (mode == g_mode)
        return;
    g_epoch++;
    if (g_mode == ULMA_MODE_FAST) {
        _PyInterpreterState_SetEvalFrameFunc(g_interp, _PyEval_EvalFrameDefault);
    } else if (g_mode == ULMA_MODE_FULL) {
#if PY_VERSION_HEX >= 0x030C0000
        mon_events(0);
        g_mon_end[g_mon_period % MON_PERIODS] = ulma_clock_read();
#else
        profile_all(0);
#endif
        sys_wrap(0);
    }
    g_mode = mode;
    /* Python-level bookkeeping first, so that it is not profiled itself */
    if (mode != ULMA_MODE_OFF) {
        threading_setprofile(g_thread_boot);
        name_threads();
    } else {
        threading_setprofile(Py_None);
    }
    if (mode == ULMA_MODE_FAST) {
        getitem_prepare();
        init_prepare();
        _PyInterpreterState_SetEvalFrameFunc(g_interp, fast_fn());
    } else if (mode == ULMA_MODE_FULL) {
#if PY_VERSION_HEX >= 0x030C0000
        g_mon_period++;
        if (!g_mon_period) /* 0 is "none" */
            g_mon_period = 1;
        sys_wrap(1);
        mon_events(1);
#else
        sys_wrap(1);
        profile_all(1);
#endif
    }
}

/* Object wedges (ulma._objects) in or out. GIL held. Returns the
 * ULMA_CTL_OBJECTS bit now in force. */
static uint32_t set_objects(int on)
{
    if (on && !g_obj) {
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        /* PyCapsule_Import only walks attributes: import the submodule */
        PyObject *mod = PyImport_ImportModule("ulma._objects");
        Py_XDECREF(mod);
        const ulma_objects_api_t *api = mod ? PyCapsule_Import(ULMA_OBJECTS_CAPSULE, 0) : NULL;
        if (api && api->abi == ULMA_OBJECTS_ABI)
            g_obj = api;
        else
            ulma_rt_problem();
        PyErr_Clear();
        PyErr_Restore(et, ev, etb);
    }
    if (on && g_obj && g_obj->install() == 0) {
        g_objects = ULMA_CTL_OBJECTS;
    } else {
        g_objects = 0;
        if (g_obj)
            g_obj->uninstall();
    }
    if (g_mode == ULMA_MODE_FAST) /* the wrapper that flushes them, or not */
        _PyInterpreterState_SetEvalFrameFunc(g_interp, fast_fn());
    return g_objects;
}

/* The runtime's watcher asks for a new control word. */
static void on_control(uint32_t control, uint32_t seq, void *ctx)
{
    (void)ctx;
    if (py_finalizing())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    apply_mode(control & ULMA_CTL_MODE_MASK);
    ulma_rt_set_blocking((control & ULMA_CTL_BLOCKING) != 0);
    set_objects(g_mode != ULMA_MODE_OFF && (control & ULMA_CTL_OBJECTS));
    ulma_rt_applied(g_mode | g_objects, seq);
    PyGILState_Release(g);
}

/* ------------------------------------------------------------ Python API */

static PyObject *py_start(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"exe", "reader_pid", "control", NULL};
    const char *exe = NULL;
    int reader = 0;
    unsigned int control = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|ziI", kwlist, &exe, &reader, &control))
        return NULL;
    int rc = ulma_rt_start_control(exe, reader, control);
    if (rc != 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    ulma_rt_set_control_handler(on_control, NULL);
#if PY_VERSION_HEX >= 0x030C0000
    fork_wrap();
#else
    ulma_rt_set_tick_handler(on_tick, NULL);
#endif
    ulma_segment_t *seg = ulma_rt_segment();
    return PyUnicode_FromString(seg ? ulma_segment_path(seg) : "");
}

static PyObject *py_stop(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    apply_mode(ULMA_MODE_OFF);
    set_objects(0);
    /* the calling thread's frames full mode left open and that are gone
     * (at exit: the launcher's own call that switched it off) get their
     * returns before the segment is marked exited */
    ulma_rt_thread_t *t = &ulma_rt_tls;
    hook_state_t *hs = t->hook_state;
    if (hs && hs->len && t->prod.slot && t->hook_gen == t->generation)
        open_settle(t, hs, TS_FRAME(PyThreadState_Get()));
    Py_BEGIN_ALLOW_THREADS
    ulma_rt_set_control_handler(NULL, NULL);
    ulma_rt_set_tick_handler(NULL, NULL);
    ulma_rt_stop();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_detach_handler(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    Py_BEGIN_ALLOW_THREADS
    ulma_rt_set_control_handler(NULL, NULL);
    ulma_rt_set_tick_handler(NULL, NULL);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_set_mode(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned int mode;
    int blocking = -1;
    if (!PyArg_ParseTuple(args, "I|i", &mode, &blocking))
        return NULL;
    if (mode > ULMA_MODE_FULL) {
        PyErr_SetString(PyExc_ValueError, "mode must be 0 (off), 1 (fast) or 2 (full)");
        return NULL;
    }
    if (mode != ULMA_MODE_OFF && !ulma_rt_segment()) {
        PyErr_SetString(PyExc_RuntimeError, "ulma runtime not started");
        return NULL;
    }
    if (blocking >= 0)
        ulma_rt_set_blocking(blocking);
    uint32_t old = g_mode;
    apply_mode(mode);
    if (g_mode == ULMA_MODE_OFF && g_objects)
        set_objects(0); /* off means off: the wedges go too */
    ulma_rt_applied(g_mode | g_objects, 0);
    /* the calling thread says so at once (others on their next event) */
    if (old != g_mode && mode == ULMA_MODE_OFF && ulma_rt_thread())
        thread_mode(&ulma_rt_tls);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_set_objects(PyObject *self, PyObject *args)
{
    (void)self;
    int on;
    if (!PyArg_ParseTuple(args, "p", &on))
        return NULL;
    if (on && !ulma_rt_segment()) {
        PyErr_SetString(PyExc_RuntimeError, "ulma runtime not started");
        return NULL;
    }
    set_objects(on);
    ulma_rt_applied(g_mode | g_objects, 0);
    return PyBool_FromLong(g_objects != 0);
}

/* A new thread of the threading module starts (its profile function is
 * g_thread_boot): name it, then the hook of the mode in force. */
static void thread_boot_here(void)
{
    PyObject *mods = PyImport_GetModuleDict();
    PyObject *threading = mods ? PyDict_GetItemString(mods, "threading") : NULL;
    PyObject *cur = threading ? PyObject_CallMethod(threading, "current_thread", NULL) : NULL;
    PyObject *name = cur ? PyObject_GetAttrString(cur, "name") : NULL;
    const char *s = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    if (s && g_mode != ULMA_MODE_OFF)
        ulma_rt_name_thread(0, s);
    Py_XDECREF(name);
    Py_XDECREF(cur);
    PyErr_Clear();
    PyThreadState *ts = PyThreadState_Get();
#if PY_VERSION_HEX < 0x030C0000
    if (g_mode == ULMA_MODE_FULL)
        hook_install(ts);
    else
#endif
        _PyEval_SetProfile(ts, NULL, NULL);
    PyErr_Clear();
}

static PyObject *py_thread_boot(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    thread_boot_here();
    Py_RETURN_NONE;
}

static PyObject *py_name_thread(PyObject *self, PyObject *args)
{
    (void)self;
    int tid;
    const char *name;
    if (!PyArg_ParseTuple(args, "is", &tid, &name))
        return NULL;
    ulma_rt_name_thread(tid, name);
    Py_RETURN_NONE;
}

static PyObject *py_status(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    ulma_segment_t *seg = ulma_rt_segment();
    ulma_seg_header_t *h = seg ? ulma_segment_header(seg) : NULL;
    PyObject *fp = PyLong_FromVoidPtr((void *)_PyInterpreterState_GetEvalFrameFunc(g_interp));
    PyObject *d = Py_BuildValue(
        "{s:I,s:s,s:i,s:i,s:K,s:K,s:I,s:I,s:K,s:K,s:I,s:I,s:O,s:i}", "mode", g_mode, "segment",
        seg ? ulma_segment_path(seg) : "", "pid", (int)getpid(), "reader_pid",
        ulma_rt_reader_pid(), "dropped", (unsigned long long)ulma_rt_dropped(), "problems",
        (unsigned long long)(h ? ulma_load_relaxed(&h->problems) : 0), "threads_lost",
        h ? ulma_load_relaxed(&h->threads_lost) : 0u, "generation",
        ulma_load_relaxed(&ulma_rt_generation), "codes_defined",
        (unsigned long long)g_codes_defined, "foreign_profile",
        (unsigned long long)g_foreign_profile, "active",
        ulma_load_relaxed(&ulma_rt_active), "control",
        h ? ulma_load_relaxed(&h->control) : 0u, "eval_frame", fp, "blocking",
        ulma_rt_blocking());
    Py_XDECREF(fp);
    if (d) {
        PyObject *ob = PyBool_FromLong(g_objects != 0);
        PyDict_SetItemString(d, "objects", ob);
        Py_DECREF(ob);
        PyObject *wp = PyLong_FromUnsignedLongLong(ulma_rt_warmed_pages());
        if (wp)
            PyDict_SetItemString(d, "warmed_pages", wp);
        Py_XDECREF(wp);
        uint32_t hst = h ? ulma_load_relaxed(&h->hook_status) : 0u;
#if PY_VERSION_HEX >= 0x030C0000
        uint32_t displaced = 0; /* nothing displaces full mode's sys.monitoring tool */
#else
        uint32_t displaced = g_ndisplaced;
#endif
        PyObject *v = Py_BuildValue("{s:I,s:I,s:K}", "hook_status", hst, "displaced",
                                    displaced, "stack_chunks",
                                    (unsigned long long)ulma_rt_stack_chunks());
        if (v) {
            PyDict_Update(d, v);
            Py_DECREF(v);
        }
        /* inline __getitem__ calls: see getitem_prepare() */
        PyObject *gi = Py_BuildValue("{s:i,s:K,s:K}", "state", g_getitem_state, "bumps",
                                     (unsigned long long)g_getitem_bumps, "reversioned",
                                     (unsigned long long)g_getitem_reversioned);
        if (gi) {
            PyDict_SetItemString(d, "getitem", gi);
            Py_DECREF(gi);
        }
#if PY_VERSION_HEX >= 0x030D0000
        /* inline __init__ calls: see init_prepare() */
        PyObject *ii = Py_BuildValue("{s:i,s:K}", "state", g_init_state, "patched",
                                     (unsigned long long)g_init_patched);
        if (ii) {
            PyDict_SetItemString(d, "init", ii);
            Py_DECREF(ii);
        }
#endif
        PyErr_Clear();
    }
    return d;
}

static PyObject *py_eval_frame_is_default(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return PyBool_FromLong(_PyInterpreterState_GetEvalFrameFunc(g_interp) ==
                           _PyEval_EvalFrameDefault);
}

static PyObject *py_profile_is_ours(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
#if PY_VERSION_HEX >= 0x030C0000
    return PyBool_FromLong(g_mode == ULMA_MODE_FULL && g_mon_registered);
#else
    return PyBool_FromLong(PyThreadState_Get()->c_profilefunc == g_prof_fn);
#endif
}

#ifdef ULMA_BENCH_HOOKS
#include "bench_hooks.h"
#endif

static PyMethodDef methods[] = {
    {"start", (PyCFunction)(void (*)(void))py_start, METH_VARARGS | METH_KEYWORDS,
     "start(exe=None, reader_pid=0, control=0) -> segment path\n"
     "Create this process's segment (idempotent) and start the control watcher."},
    {"stop", py_stop, METH_NOARGS, "Switch the hooks off and mark the segment exited."},
    {"detach_handler", py_detach_handler, METH_NOARGS,
     "Stop applying control requests (before the interpreter shuts down)."},
    {"set_objects", py_set_objects, METH_VARARGS,
     "set_objects(on): install or remove the object wedges; returns whether they are in."},
    {"set_mode", py_set_mode, METH_VARARGS,
     "set_mode(mode, blocking=-1): 0 off, 1 fast, 2 full, process-wide."},
    {"thread_boot", py_thread_boot, METH_VARARGS,
     "Installed with threading.setprofile: names a new thread, then installs the C hook\n"
     "(full mode) or removes itself."},
    {"name_thread", py_name_thread, METH_VARARGS, "name_thread(tid, name)"},
    {"status", py_status, METH_NOARGS, "Runtime status as a dict."},
#ifdef ULMA_BENCH_HOOKS
    BENCH_HOOKS_METHODS
#endif
    {"_eval_frame_is_default", py_eval_frame_is_default, METH_NOARGS, NULL},
    {"_profile_is_ours", py_profile_is_ours, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "ulma._ulma", "ULMA hooks (C part of the ulma package).", -1,
    methods, NULL, NULL, NULL, NULL,
};

/* Check that co_extra has the layout code_extra_get() reads directly. */
static int check_extra_layout(void)
{
    PyObject *co = (PyObject *)PyCode_NewEmpty("<ulma>", "<ulma>", 1);
    if (!co)
        return -1;
    int ok = 0;
    if (code_set_extra(co, g_extra_index, (void *)(uintptr_t)0x1234567800000042ull) == 0) {
        g_extra_direct = 1;
        ok = code_extra_get((PyCodeObject *)co, 1) == 0x1234567800000042ull;
        void *v = NULL;
        ok = ok && code_get_extra(co, g_extra_index, &v) == 0 &&
             (uintptr_t)v == 0x1234567800000042ull;
    }
    g_extra_direct = ok;
    Py_DECREF(co);
    PyErr_Clear();
    return 0;
}

PyMODINIT_FUNC PyInit__ulma(void); /* the module entry point */
PyMODINIT_FUNC PyInit__ulma(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m || PyModule_AddFunctions(m, segread_ulma_methods) != 0) {
        Py_XDECREF(m);
        return NULL;
    }
    g_interp = PyInterpreterState_Get();
    g_extra_index = code_request_extra_index(NULL);
    if (g_extra_index < 0 || check_extra_layout() != 0) {
        Py_DECREF(m);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (PyType_Ready(&g_mon_cb_type) != 0) {
#else
    if (PyType_Ready(&g_token_type) != 0) {
#endif
        Py_DECREF(m);
        return NULL;
    }
    ulma_rt_set_thread_end(hook_state_free);
    g_thread_boot = PyObject_GetAttrString(m, "thread_boot");
    if (!g_thread_boot) {
        Py_DECREF(m);
        return NULL;
    }
#ifdef ULMA_BENCH_HOOKS
    if (bench_hooks_from_env() != 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    PyModule_AddIntConstant(m, "MODE_OFF", ULMA_MODE_OFF);
    PyModule_AddIntConstant(m, "MODE_FAST", ULMA_MODE_FAST);
    PyModule_AddIntConstant(m, "MODE_FULL", ULMA_MODE_FULL);
    PyModule_AddIntConstant(m, "CTL_OBJECTS", ULMA_CTL_OBJECTS);
    PyModule_AddIntConstant(m, "CTL_BLOCKING", ULMA_CTL_BLOCKING);
    PyModule_AddIntConstant(m, "CTL_VALID", (long)ULMA_CTL_VALID);
    PyModule_AddIntConstant(m, "EV_CALL", ULMA_EV_CALL);
    PyModule_AddIntConstant(m, "EV_RETURN", ULMA_EV_RETURN);
    PyModule_AddIntConstant(m, "EV_UNWIND", ULMA_EV_UNWIND);
    PyModule_AddIntConstant(m, "EV_C_CALL", ULMA_EV_C_CALL);
    PyModule_AddIntConstant(m, "EV_C_RETURN", ULMA_EV_C_RETURN);
    PyModule_AddIntConstant(m, "EV_DROP", ULMA_EV_DROP);
    PyModule_AddIntConstant(m, "EV_MODE", ULMA_EV_MODE);
    PyModule_AddIntConstant(m, "EV_THREAD_END", ULMA_EV_THREAD_END);
    PyModule_AddIntConstant(m, "EV_DEF_CODE", ULMA_EV_DEF_CODE);
    PyModule_AddIntConstant(m, "EV_DEF_CFUNC", ULMA_EV_DEF_CFUNC);
    PyModule_AddIntConstant(m, "EV_DEF_THREAD", ULMA_EV_DEF_THREAD);
    PyModule_AddIntConstant(m, "SEG_EXITED", ULMA_SEG_EXITED);
    PyModule_AddIntConstant(m, "HOOK_DISPLACED", ULMA_HOOK_DISPLACED);
    PyModule_AddIntConstant(m, "HOOK_COUNT_SHIFT", ULMA_HOOK_COUNT_SHIFT);
    return m;
}
