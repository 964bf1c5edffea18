/*
 * objects.c - the ulma._objects CPython extension: object construction and
 * destruction events ("wedges"), installed and removed at run time.
 *
 * What is wedged while installed (every pointer is put back exactly by
 * uninstall(); nothing of this module runs while it is off):
 *
 *   the object allocator   PyMem_SetAllocator(PYMEM_DOMAIN_OBJ) wraps the
 *                          allocator in force. Builtins of the eight tracked
 *                          types (int float str bytes list dict tuple set)
 *                          are seen here: every one of them is born in a
 *                          fresh PyObject_Malloc block (see "free lists") and
 *                          int/float/str/bytes die in PyObject_Free, whatever
 *                          path freed them (the 3.11 specialised instructions
 *                          call _PyFloat_ExactDealloc, _PyUnicode_ExactDealloc
 *                          or PyObject_Free directly, bypassing tp_dealloc).
 *   tp_dealloc of list, dict, tuple, set
 *                          destruction of the GC'd builtins, and the free-list
 *                          guard (below). The wedge runs CPython's trashcan
 *                          itself, since _PyTrash_cond() compares tp_dealloc.
 *   tp_alloc / tp_free of every user class (heap type) alive at install, and
 *                          of every class created later (tp_new of `type` and
 *                          of metaclasses that inherited it).
 *   tp_dealloc of `type`   forgets a dying class (its address may be reused).
 *
 * Free lists: CPython 3.11 recycles dead floats, lists, dicts and small
 * tuples without the allocator. At install the lists are emptied; the float
 * list is then disabled by setting its count to "full" (float_dealloc and
 * _PyFloat_ExactDealloc then call PyObject_Free), and a list/dict/tuple that
 * its dealloc pushed back is popped again by the wedge and freed. So while
 * the wedges are on every construction of a tracked builtin allocates.
 *
 * Allocation events are deferred: the allocator sees a block before the
 * object's type is written. The block (and the frame depth at that moment)
 * is kept per thread and classified at the thread's next allocator call or
 * wedge, or by flush() (the C API), which the frame hooks call before their
 * own records so that each OBJ_NEW precedes the record that follows it.
 *
 * Event path: no allocation, no Python exception, no recursion (the
 * thread's `nesting` guard of libulma-rt: objects the hooks make for
 * themselves are not reported as constructions).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#if PY_VERSION_HEX < 0x030D0000 || !defined(Py_GIL_DISABLED)
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
#undef _PyGC_FINALIZED /* the public header's alias of what the internal one defines */
#endif
#define Py_BUILD_CORE 1
#include "internal/pycore_interp.h" /* the float free list, the GC head */
#undef Py_BUILD_CORE
#endif

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ulma/clock.h"
#include "ulma/rt.h"
#include "segread.h"
#include "ulma_objects.h"

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error "ulma._objects builds for CPython 3.11 to 3.13"
#endif
/* Two mechanisms, one interface and one record stream:
 *   3.11, 3.12  the wedges above (the free-list layouts, the float
 *         free-list rule and the GC pre-header are the same in both; 3.12's
 *         immortal objects are never freed, and its specialised float
 *         arithmetic that reuses an operand in place makes no object).
 *   3.13  CPython's reference tracer (PyRefTracer_SetTracer) for every
 *         construction and for the destruction of every tracked type but
 *         int, float and str, whose deaths some specialised instructions
 *         make without it: those are seen in the object allocator, as on
 *         3.11, with the float free list switched off. No slot is touched.
 * On 3.13.0 to 3.13.2 (a reference tracer blind to the interpreter loop's
 * destructions) and on a free-threaded build the module builds with the
 * same interface but install() refuses (ENOTSUP, said once on standard
 * error): see OBJECTS.md. */
#if PY_VERSION_HEX < 0x030D0000
#define OBJECTS_WEDGES 1
#define OBJECTS_TRACER 0
#elif PY_VERSION_HEX >= 0x030D0000 && !defined(Py_GIL_DISABLED)
#define OBJECTS_WEDGES 0
#define OBJECTS_TRACER 1
#else
#define OBJECTS_WEDGES 0
#define OBJECTS_TRACER 0
#endif
#define OBJECTS_ON (OBJECTS_WEDGES || OBJECTS_TRACER)

/* ------------------------------------------------------------ type ids */

typedef struct type_ent {
    PyTypeObject *tp;  /* NULL: empty slot, TOMB: deleted */
    uint32_t id;
    uint32_t defgen;   /* definition generation (ulma_rt_defgen) + 1 of the last DEF_TYPE written */
    char *name;        /* "module.QualName" (PyMem_Raw, or static) */
    uint32_t name_len;
    uint32_t is_static;
} type_ent_t;

#define TOMB ((PyTypeObject *)(uintptr_t)1)

/* The builtins, fixed ids 1..8. 0..3 are not GC'd (object at block start),
 * 4..7 are (object after the 16-byte PyGC_Head). */
enum { B_INT, B_FLOAT, B_STR, B_BYTES, B_LIST, B_DICT, B_TUPLE, B_SET, B_N };
static type_ent_t g_builtin[B_N] = {
    {&PyLong_Type, 1, 0, "builtins.int", 12, 1},
    {&PyFloat_Type, 2, 0, "builtins.float", 14, 1},
    {&PyUnicode_Type, 3, 0, "builtins.str", 12, 1},
    {&PyBytes_Type, 4, 0, "builtins.bytes", 14, 1},
    {&PyList_Type, 5, 0, "builtins.list", 13, 1},
    {&PyDict_Type, 6, 0, "builtins.dict", 13, 1},
    {&PyTuple_Type, 7, 0, "builtins.tuple", 14, 1},
    {&PySet_Type, 8, 0, "builtins.set", 12, 1},
};
#define FIRST_CLASS_ID 16u

#if OBJECTS_ON

static type_ent_t *g_reg;  /* user classes: open addressing on the type pointer */
static size_t g_reg_cap, g_reg_used; /* used counts tombstones too */
static uint32_t g_next_id = FIRST_CLASS_ID;

static inline size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static type_ent_t *reg_find(PyTypeObject *tp)
{
    if (!g_reg)
        return NULL;
    size_t m = g_reg_cap - 1;
    for (size_t i = ptr_hash(tp) & m;; i = (i + 1) & m) {
        if (g_reg[i].tp == tp)
            return &g_reg[i];
        if (!g_reg[i].tp)
            return NULL;
    }
}

static int reg_grow(void)
{
    size_t ncap = g_reg_cap ? g_reg_cap * 2 : 256;
    type_ent_t *n = PyMem_RawCalloc(ncap, sizeof(*n));
    if (!n)
        return -ENOMEM;
    size_t used = 0;
    for (size_t j = 0; j < g_reg_cap; j++) {
        if (!g_reg[j].tp || g_reg[j].tp == TOMB)
            continue;
        size_t i = ptr_hash(g_reg[j].tp) & (ncap - 1);
        while (n[i].tp)
            i = (i + 1) & (ncap - 1);
        n[i] = g_reg[j];
        used++;
    }
    PyMem_RawFree(g_reg);
    g_reg = n;
    g_reg_cap = ncap;
    g_reg_used = used;
    return 0;
}

static void reg_remove(PyTypeObject *tp)
{
    type_ent_t *e = reg_find(tp);
    if (!e)
        return;
    PyMem_RawFree(e->name);
    e->name = NULL;
    e->tp = TOMB;
}

static void reg_clear(void)
{
    for (size_t i = 0; i < g_reg_cap; i++)
        if (g_reg[i].tp && g_reg[i].tp != TOMB)
            PyMem_RawFree(g_reg[i].name);
    PyMem_RawFree(g_reg);
    g_reg = NULL;
    g_reg_cap = g_reg_used = 0;
}

/* "module.QualName" of a class into a new PyMem_Raw buffer. Not on the
 * event path (may run Python code through str conversions); keeps any
 * in-flight exception. */
static char *class_name(PyTypeObject *tp, uint32_t *len)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    const char *mod = NULL, *qual = NULL;
    Py_ssize_t ml = 0, ql = 0;
    PyObject *m = tp->tp_dict ? PyDict_GetItemString(tp->tp_dict, "__module__") : NULL;
    if (m && PyUnicode_Check(m))
        mod = PyUnicode_AsUTF8AndSize(m, &ml);
    PyObject *q = (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) ? ((PyHeapTypeObject *)tp)->ht_qualname
                                                        : NULL;
    if (q && PyUnicode_Check(q))
        qual = PyUnicode_AsUTF8AndSize(q, &ql);
    if (!qual)
        qual = tp->tp_name, ql = (Py_ssize_t)strlen(tp->tp_name);
    if (!mod)
        mod = "?", ml = 1;
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
    size_t n = (size_t)ml + 1 + (size_t)ql;
    if (n > ULMA_MAX_PAYLOAD)
        n = ULMA_MAX_PAYLOAD;
    char *s = PyMem_RawMalloc(n + 1);
    if (!s)
        return NULL;
    snprintf(s, n + 1, "%.*s.%.*s", (int)ml, mod, (int)ql, qual);
    *len = (uint32_t)strlen(s);
    return s;
}

static type_ent_t *reg_add(PyTypeObject *tp)
{
    type_ent_t *e = reg_find(tp);
    if (e)
        return e;
    if ((g_reg_used + 1) * 2 > g_reg_cap && reg_grow() != 0)
        return NULL;
    uint32_t len = 0;
    char *name = class_name(tp, &len);
    if (!name)
        return NULL;
    size_t m = g_reg_cap - 1;
    size_t i = ptr_hash(tp) & m;
    while (g_reg[i].tp && g_reg[i].tp != TOMB)
        i = (i + 1) & m;
    if (!g_reg[i].tp)
        g_reg_used++;
    g_reg[i] = (type_ent_t){tp, g_next_id++, 0, name, len, 0};
    return &g_reg[i];
}

/* --------------------------------------------------------------- state */

static int g_installed;
static uint32_t g_epoch = 1;         /* bumped at install and uninstall */
static PyInterpreterState *g_interp;
static PyMemAllocatorEx g_orig_obj;  /* the OBJ allocator we wrap */
static PyMemAllocatorEx g_hook_obj;
static uint64_t g_news, g_frees, g_pend_lost, g_classes, g_problems;

#define FLOAT_FREELIST_OFF (1 << 30) /* numfree "full": floats go to PyObject_Free */
#define GC_HEAD ((size_t)sizeof(PyGC_Head))

/* The float free list of the interpreter: switched off while installed, so
 * that every float dies in PyObject_Free and is born in a fresh block. A
 * full collection (gc.collect(), or generation 2) clears the free lists and
 * sets the count back to 0: the allocator hook switches it off again at its
 * next call. */
#if OBJECTS_WEDGES
#define FLOATS_NUMFREE(in) ((in)->float_state.numfree)
#define FLOATS_HEAD(in) ((in)->float_state.free_list)
#else
#define FLOATS_NUMFREE(in) ((in)->object_state.freelists.floats.numfree)
#define FLOATS_HEAD(in) ((in)->object_state.freelists.floats.items)
#endif

static void floats_drain_off(PyInterpreterState *in)
{
    PyFloatObject *f = FLOATS_HEAD(in);
    while (f) {
        PyFloatObject *next = (PyFloatObject *)Py_TYPE(f);
        g_orig_obj.free(g_orig_obj.ctx, f);
        f = next;
    }
    FLOATS_HEAD(in) = NULL;
    FLOATS_NUMFREE(in) = FLOAT_FREELIST_OFF;
}

static inline void floats_keep_off(void)
{
    PyInterpreterState *in = g_interp;
    if (ULMA_UNLIKELY(in && g_installed && FLOATS_NUMFREE(in) != FLOAT_FREELIST_OFF))
        floats_drain_off(in);
}

/* ---------------------------------------------------------- the events */

#if PY_VERSION_HEX >= 0x030C0000
/* an int's digit count: 3.12 keeps it in lv_tag above the sign bits */
static inline Py_ssize_t long_digits(PyObject *o)
{
    return (Py_ssize_t)(((PyLongObject *)o)->long_value.lv_tag >> _PyLong_NON_SIZE_BITS);
}
#endif

static uint64_t builtin_size(PyObject *o, int b)
{
    Py_ssize_t n;
    switch (b) {
    case B_INT:
#if PY_VERSION_HEX >= 0x030C0000
        n = long_digits(o);
        return offsetof(PyLongObject, long_value.ob_digit) + (uint64_t)(n ? n : 1) * sizeof(digit);
#else
        n = Py_SIZE(o);
        n = n < 0 ? -n : n;
        return offsetof(PyLongObject, ob_digit) + (uint64_t)(n ? n : 1) * sizeof(digit);
#endif
    case B_FLOAT:
        return sizeof(PyFloatObject);
    case B_STR:
        n = ((PyASCIIObject *)o)->length;
        if (((PyASCIIObject *)o)->state.compact) {
            if (((PyASCIIObject *)o)->state.ascii)
                return sizeof(PyASCIIObject) + (uint64_t)n + 1;
            return sizeof(PyCompactUnicodeObject) +
                   ((uint64_t)n + 1) * ((PyASCIIObject *)o)->state.kind;
        }
        return sizeof(PyUnicodeObject);
    case B_BYTES:
        return offsetof(PyBytesObject, ob_sval) + (uint64_t)Py_SIZE(o) + 1;
    case B_LIST:
        return sizeof(PyListObject);
    case B_DICT:
        return sizeof(PyDictObject);
    case B_TUPLE:
        return sizeof(PyTupleObject) - sizeof(PyObject *) + (uint64_t)Py_SIZE(o) * sizeof(PyObject *);
    default:
        return sizeof(PySetObject);
    }
}

static uint64_t class_size(PyObject *o, PyTypeObject *tp)
{
    uint64_t s = (uint64_t)tp->tp_basicsize;
    if (tp->tp_itemsize) {
#if PY_VERSION_HEX >= 0x030C0000
        Py_ssize_t n = PyLong_Check(o) ? long_digits(o) : Py_SIZE(o);
#else
        Py_ssize_t n = Py_SIZE(o);
#endif
        s += (uint64_t)(n < 0 ? -n : n) * (uint64_t)tp->tp_itemsize;
    }
    return s;
}

static void emit(unsigned kind, type_ent_t *e, const void *addr, uint64_t size, uint32_t depth)
{
    ulma_rt_thread_t *t = ulma_rt_thread();
    if (!t)
        return;
    uint64_t tsc = ulma_clock_read();
    uint32_t gen = ulma_load_relaxed(&ulma_rt_defgen) + 1u;
    if (ULMA_UNLIKELY(e->defgen != gen)) {
        e->defgen = gen;
        ulma_put_payload(&t->prod, tsc, ULMA_EV_DEF_TYPE, e->id, 0, e->name, e->name_len);
    }
    ulma_obj_payload_t pl = {size, (uint64_t)(uintptr_t)addr};
    ulma_put_payload(&t->prod, tsc, kind, e->id, (uint16_t)depth, &pl, sizeof(pl));
    if (kind == ULMA_EV_OBJ_NEW)
        g_news++;
    else
        g_frees++;
}

static inline int nongc_index(PyTypeObject *tp)
{
    if (tp == &PyLong_Type)
        return B_INT;
    if (tp == &PyFloat_Type)
        return B_FLOAT;
    if (tp == &PyUnicode_Type)
        return B_STR;
    if (tp == &PyBytes_Type)
        return B_BYTES;
    return -1;
}

static inline int gc_index(PyTypeObject *tp)
{
    if (tp == &PyList_Type)
        return B_LIST;
    if (tp == &PyDict_Type)
        return B_DICT;
    if (tp == &PyTuple_Type)
        return B_TUPLE;
    if (tp == &PySet_Type)
        return B_SET;
    return -1;
}

static inline uintptr_t word_at(uintptr_t mem, size_t off)
{
    uintptr_t w;
    memcpy(&w, (const void *)(mem + off), sizeof(w));
    return w;
}

/* The object allocator hook. Each mechanism has its own h_* functions
 * (below); putting them in and taking them out is the same for both. */
static void *h_malloc(void *ctx, size_t n);
static void *h_calloc(void *ctx, size_t nelem, size_t elsize);
static void *h_realloc(void *ctx, void *ptr, size_t n);
static void h_free(void *ctx, void *ptr);

static void alloc_hook_set(void)
{
    g_hook_obj = (PyMemAllocatorEx){NULL, h_malloc, h_calloc, h_realloc, h_free};
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &g_hook_obj);
}

/* The allocator we wrapped back, unless someone wrapped us since: their
 * chain is left alone and counted as a problem. */
static void alloc_hook_remove(void)
{
    PyMemAllocatorEx cur;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &cur);
    if (cur.malloc == h_malloc && cur.free == h_free)
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &g_orig_obj);
    else
        g_problems++, ulma_rt_problem();
}

/* Floats may use their free list again (nothing was pushed meanwhile). */
static void floats_back_on(void)
{
    if (FLOATS_HEAD(g_interp) == NULL)
        FLOATS_NUMFREE(g_interp) = 0;
}

/* _PyTuple_Resize() of an untracked tuple reallocates its block (GC head
 * first, whose first word is 0): the tuple in the new block `r` of `n`
 * bytes, whose first bytes are the old ones (ob_size still the old), or
 * NULL when `r` holds no live tuple. */
static PyObject *tuple_resized(void *r, size_t n)
{
    if (n < 48 || word_at((uintptr_t)r, 0) != 0)
        return NULL;
    PyObject *g = (PyObject *)((char *)r + GC_HEAD);
    return Py_TYPE(g) == &PyTuple_Type && Py_REFCNT(g) >= 1 ? g : NULL;
}

/* The block of an object CPython made for a hook call (sys.monitoring's
 * offset int) whose construction was dropped (flush_made): its free is not
 * a death. made_freed(): whether `ptr` is that block (then forgotten). */
static __thread uintptr_t tl_made;

static inline int made_freed(const void *ptr)
{
    if (ULMA_LIKELY((uintptr_t)ptr != tl_made) || !ptr)
        return 0;
    tl_made = 0;
    return 1;
}

#endif /* OBJECTS_ON */

#if OBJECTS_WEDGES

static destructor g_orig_dealloc[B_N];
static newfunc g_orig_type_new;
static destructor g_orig_type_dealloc;

/* ------------------------------------------------ deferred constructions */

#define PEND_MAX 16

typedef struct pend {
    uintptr_t mem;  /* block from the allocator */
    size_t size;    /* bytes asked for */
    uint32_t depth; /* frame depth when it was allocated */
} pend_t;

typedef struct pend_list {
    uint32_t n;
    uint32_t epoch;
    pend_t e[PEND_MAX];
} pend_list_t;

static __thread pend_list_t tl_pend;

/* Take `mem`'s entry out of the deferred blocks (into *out): 1, or 0 when
 * it is not among them. */
static int pend_take(pend_list_t *s, uintptr_t mem, pend_t *out)
{
    if (!s->n || s->epoch != g_epoch)
        return 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->e[i].mem == mem) {
            *out = s->e[i];
            memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(s->e[0]));
            s->n--;
            return 1;
        }
    }
    return 0;
}


/* 1: done with (reported, or not a tracked object); 0: not initialised yet */
static int pend_classify(const pend_t *p)
{
    PyObject *o = (PyObject *)p->mem;
    int b = nongc_index(Py_TYPE(o));
    if (b >= 0) {
        if (Py_REFCNT(o) >= 1)
            emit(ULMA_EV_OBJ_NEW, &g_builtin[b], o, builtin_size(o, b), p->depth);
        return 1;
    }
    if (p->size >= 32) {
        PyObject *g = (PyObject *)(p->mem + GC_HEAD);
        b = gc_index(Py_TYPE(g));
        if (b >= 0) {
            if (Py_REFCNT(g) >= 1)
                emit(ULMA_EV_OBJ_NEW, &g_builtin[b], g, builtin_size(g, b), p->depth);
            return 1;
        }
        return word_at(p->mem, 8) != 0 || word_at(p->mem, 24) != 0;
    }
    return word_at(p->mem, 8) != 0;
}

/* Classify every deferred block of this thread (in allocation order) but
 * `except`. A block whose type is not written yet stays only while a GC
 * collection runs: in 3.11 gc_alloc() may collect between the allocation
 * and the object's initialisation. */
static void pend_flush(pend_list_t *s, uintptr_t except)
{
    if (ULMA_UNLIKELY(s->epoch != g_epoch)) {
        s->n = 0;
        s->epoch = g_epoch;
        return;
    }
    uint32_t k = 0;
    int collecting = -1;
    for (uint32_t i = 0; i < s->n; i++) {
        pend_t *p = &s->e[i];
        if (p->mem == except || !pend_classify(p)) {
            if (p->mem != except) {
                if (collecting < 0)
                    collecting = g_interp && g_interp->gc.collecting;
                if (!collecting)
                    continue;
            }
            s->e[k++] = *p;
        }
    }
    s->n = k;
}

static void pend_push(pend_list_t *s, void *mem, size_t n)
{
    if (ULMA_UNLIKELY(s->epoch != g_epoch)) {
        s->n = 0;
        s->epoch = g_epoch;
    }
    /* the words classification reads start at zero: whatever a reused
     * block held before cannot be taken for a type */
    memset((char *)mem + 8, 0, 8);
    if (n >= 32)
        memset((char *)mem + 24, 0, 8);
    if (s->n == PEND_MAX) {
        /* keep the oldest (an allocation that triggered a collection) */
        s->n--;
        g_pend_lost++;
        ulma_rt_problem();
    }
    s->e[s->n++] = (pend_t){(uintptr_t)mem, n, ulma_rt_tls.depth};
}

/* ------------------------------------------------------ allocator hook */

static void *h_malloc(void *ctx, size_t n)
{
    (void)ctx;
    floats_keep_off();
    pend_list_t *s = &tl_pend;
    if (s->n)
        pend_flush(s, 0);
    void *r = g_orig_obj.malloc(g_orig_obj.ctx, n);
    if (r && n >= 16 && ulma_rt_tls.nesting == 0)
        pend_push(s, r, n);
    return r;
}

static void *h_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    pend_list_t *s = &tl_pend;
    if (s->n)
        pend_flush(s, 0);
    void *r = g_orig_obj.calloc(g_orig_obj.ctx, nelem, elsize);
    size_t n = nelem * elsize;
    if (r && n >= 16 && ulma_rt_tls.nesting == 0)
        pend_push(s, r, n);
    return r;
}

static void *h_realloc(void *ctx, void *ptr, size_t n)
{
    if (!ptr)
        return h_malloc(ctx, n);
    pend_list_t *s = &tl_pend;
    pend_t was = {0, 0, 0};
    int was_pending = pend_take(s, (uintptr_t)ptr, &was);
    if (s->n)
        pend_flush(s, 0);
    /* a live int/float/str/bytes being resized (unicode writer, bytes
     * resize): its type word is readable in any block */
    int b = -1;
    uint64_t osize = 0;
    if (!was_pending) {
        b = nongc_index(Py_TYPE((PyObject *)ptr));
        if (b >= 0 && Py_REFCNT((PyObject *)ptr) >= 1)
            osize = builtin_size((PyObject *)ptr, b);
        else
            b = -1;
    }
    void *r = g_orig_obj.realloc(g_orig_obj.ctx, ptr, n);
    if (was_pending) {
        /* still to be classified, at its new address (one entry was taken
         * out above, so there is room) */
        s->e[s->n++] = (pend_t){(uintptr_t)(r ? r : ptr), r ? n : was.size, was.depth};
        return r;
    }
    if (!r)
        return NULL;
    if (r == ptr || ulma_rt_tls.nesting)
        return r;
    if (b >= 0) {
        /* moved: the old address dies, the new one is born */
        emit(ULMA_EV_OBJ_FREE, &g_builtin[b], ptr, osize, ulma_rt_tls.depth);
        emit(ULMA_EV_OBJ_NEW, &g_builtin[b], r, builtin_size((PyObject *)r, b),
             ulma_rt_tls.depth);
    } else {
        PyObject *g = tuple_resized(r, n);
        if (g) {
            emit(ULMA_EV_OBJ_FREE, &g_builtin[B_TUPLE], (char *)ptr + GC_HEAD,
                 builtin_size(g, B_TUPLE), ulma_rt_tls.depth);
            uint64_t ns = n - GC_HEAD;
            emit(ULMA_EV_OBJ_NEW, &g_builtin[B_TUPLE], g, ns, ulma_rt_tls.depth);
        }
    }
    return r;
}

static void h_free(void *ctx, void *ptr)
{
    (void)ctx;
    floats_keep_off();
    pend_list_t *s = &tl_pend;
    if (s->n)
        pend_flush(s, 0);
    if (ptr && !made_freed(ptr)) {
        PyObject *o = ptr;
        int b = nongc_index(Py_TYPE(o));
        if (b >= 0 && Py_REFCNT(o) == 0 && ulma_rt_tls.nesting == 0)
            emit(ULMA_EV_OBJ_FREE, &g_builtin[b], o, builtin_size(o, b), ulma_rt_tls.depth);
    }
    g_orig_obj.free(g_orig_obj.ctx, ptr);
}

static void objects_flush(void)
{
    pend_list_t *s = &tl_pend;
    if (s->n)
        pend_flush(s, 0);
}

static void objects_flush_made(const void *made)
{
    pend_list_t *s = &tl_pend;
    pend_t was = {0, 0, 0};
    if (pend_take(s, (uintptr_t)made, &was))
        tl_made = (uintptr_t)made;
    if (s->n)
        pend_flush(s, 0);
}

/* ------------------------------------------- GC'd builtins: tp_dealloc */

/* After the type's own dealloc: if it put `op` on its free list, take it
 * back and free it, so that the next construction allocates. */
static void freelist_reclaim(PyObject *op, int b, Py_ssize_t tsize)
{
    PyInterpreterState *in = g_interp;
    if (!in)
        return;
    switch (b) {
    case B_LIST: {
        struct _Py_list_state *st = &in->list;
        if (st->numfree > 0 && (PyObject *)st->free_list[st->numfree - 1] == op) {
            st->numfree--;
            PyObject_GC_Del(op);
        }
        break;
    }
    case B_DICT: {
        struct _Py_dict_state *st = &in->dict_state;
        if (st->numfree > 0 && (PyObject *)st->free_list[st->numfree - 1] == op) {
            st->numfree--;
            PyObject_GC_Del(op);
        }
        break;
    }
    case B_TUPLE: {
        struct _Py_tuple_state *st = &in->tuple;
        /* 3.11 keeps tuples of size n in free_list[n - 1] */
        Py_ssize_t i = tsize - 1;
        if (i >= 0 && i < PyTuple_NFREELISTS && (PyObject *)st->free_list[i] == op) {
            st->free_list[i] = (PyTupleObject *)((PyTupleObject *)op)->ob_item[0];
            st->numfree[i]--;
            PyObject_GC_Del(op);
        }
        break;
    }
    default:
        break;
    }
}

#define DEALLOC_WEDGE(fn, b)                                                                     \
    static void fn(PyObject *op)                                                                 \
    {                                                                                            \
        /* the type's own dealloc untracks first too; the trashcan needs it */                  \
        PyObject_GC_UnTrack(op);                                                                 \
        Py_TRASHCAN_BEGIN(op, fn)                                                                \
        int exact = Py_IS_TYPE(op, g_builtin[b].tp);                                             \
        Py_ssize_t tsize = Py_SIZE(op);                                                          \
        if (exact && ulma_rt_tls.nesting == 0) {                                                 \
            pend_list_t *s = &tl_pend;                                                           \
            if (s->n)                                                                            \
                pend_flush(s, 0);                                                                \
            emit(ULMA_EV_OBJ_FREE, &g_builtin[b], op, builtin_size(op, b), ulma_rt_tls.depth);  \
        }                                                                                        \
        g_orig_dealloc[b](op);                                                                   \
        if (exact)                                                                               \
            freelist_reclaim(op, b, tsize);                                                      \
        Py_TRASHCAN_END                                                                          \
    }

DEALLOC_WEDGE(w_list_dealloc, B_LIST)
DEALLOC_WEDGE(w_dict_dealloc, B_DICT)
DEALLOC_WEDGE(w_tuple_dealloc, B_TUPLE)
DEALLOC_WEDGE(w_set_dealloc, B_SET)

static const destructor g_wedge_dealloc[B_N] = {
    NULL, NULL, NULL, NULL, w_list_dealloc, w_dict_dealloc, w_tuple_dealloc, w_set_dealloc,
};

/* ---------------------------------------------------------- user classes */

static PyObject *w_alloc(PyTypeObject *tp, Py_ssize_t nitems)
{
    PyObject *o = PyType_GenericAlloc(tp, nitems);
    if (o && ulma_rt_tls.nesting == 0) {
        objects_flush();
        type_ent_t *e = reg_find(tp);
        if (e)
            emit(ULMA_EV_OBJ_NEW, e, o, class_size(o, tp), ulma_rt_tls.depth);
    }
    return o;
}

static void class_freed(PyObject *o)
{
    objects_flush();
    type_ent_t *e = reg_find(Py_TYPE(o));
    if (e && ulma_rt_tls.nesting == 0)
        emit(ULMA_EV_OBJ_FREE, e, o, class_size(o, Py_TYPE(o)), ulma_rt_tls.depth);
}

static void w_free_gc(void *p)
{
    class_freed(p);
    PyObject_GC_Del(p);
}

static void w_free_plain(void *p)
{
    class_freed(p);
    PyObject_Free(p);
}

/* Wedge one class (GIL held, not on the event path). */
static void class_patch(PyTypeObject *tp)
{
    if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return;
    if (tp->tp_alloc != PyType_GenericAlloc && tp->tp_alloc != w_alloc)
        return;
    freefunc f = tp->tp_free;
    if (f == PyObject_GC_Del)
        f = w_free_gc;
    else if (f == PyObject_Free)
        f = w_free_plain;
    else if (f != w_free_gc && f != w_free_plain)
        return; /* a class with its own allocator: left alone */
    if (!reg_add(tp)) {
        g_problems++;
        ulma_rt_problem();
        return;
    }
    tp->tp_alloc = w_alloc;
    tp->tp_free = f;
    g_classes++;
}

static void class_unpatch(PyTypeObject *tp)
{
    if (tp->tp_alloc == w_alloc)
        tp->tp_alloc = PyType_GenericAlloc;
    if (tp->tp_free == w_free_gc)
        tp->tp_free = PyObject_GC_Del;
    else if (tp->tp_free == w_free_plain)
        tp->tp_free = PyObject_Free;
}

static PyObject *w_type_new(PyTypeObject *meta, PyObject *args, PyObject *kw)
{
    PyObject *r = g_orig_type_new(meta, args, kw);
    if (r && g_installed && PyType_Check(r)) {
        ulma_rt_tls.nesting++;
        class_patch((PyTypeObject *)r);
        ulma_rt_tls.nesting--;
    }
    return r;
}

static void w_type_dealloc(PyObject *o)
{
    reg_remove((PyTypeObject *)o);
    g_orig_type_dealloc(o);
}

/* Visit `tp` and its subclasses, depth first (each class once: a class
 * with several bases is met several times, the operations are idempotent). */
static int walk_classes(PyTypeObject *tp, int on, int depth)
{
    if (depth > 1000)
        return 0;
    if (on) {
        class_patch(tp);
        if (PyType_IsSubtype(tp, &PyType_Type) && tp->tp_new == g_orig_type_new)
            tp->tp_new = w_type_new;
    } else {
        class_unpatch(tp);
        if (tp->tp_new == w_type_new)
            tp->tp_new = g_orig_type_new;
    }
    PyObject *subs = PyObject_CallMethod((PyObject *)tp, "__subclasses__", NULL);
    if (!subs || !PyList_Check(subs)) {
        Py_XDECREF(subs);
        PyErr_Clear();
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subs); i++) {
        PyObject *c = PyList_GET_ITEM(subs, i);
        if (PyType_Check(c))
            walk_classes((PyTypeObject *)c, on, depth + 1);
    }
    Py_DECREF(subs);
    return 0;
}

/* ------------------------------------------------------ install / remove */

static void freelists_drain(PyInterpreterState *in)
{
    floats_drain_off(in);
    while (in->list.numfree > 0)
        PyObject_GC_Del(in->list.free_list[--in->list.numfree]);
    while (in->dict_state.numfree > 0)
        PyObject_GC_Del(in->dict_state.free_list[--in->dict_state.numfree]);
    for (int i = 0; i < PyTuple_NFREELISTS; i++) {
        PyTupleObject *t = in->tuple.free_list[i];
        while (t) {
            PyTupleObject *next = (PyTupleObject *)t->ob_item[0];
            PyObject_GC_Del(t);
            t = next;
        }
        in->tuple.free_list[i] = NULL;
        in->tuple.numfree[i] = 0;
    }
}

static int objects_install(void)
{
    if (g_installed)
        return 0;
    PyInterpreterState *in = PyInterpreterState_Get();
    if (in != PyInterpreterState_Main())
        return -ENOTSUP; /* the free-list guard is per interpreter: main only */
    g_interp = in;
    ulma_rt_tls.nesting++;
    g_epoch++;
    g_orig_type_new = PyType_Type.tp_new;
    g_orig_type_dealloc = PyType_Type.tp_dealloc;
    /* classes first (runs Python-level calls: nothing of it is reported) */
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    walk_classes(&PyBaseObject_Type, 1, 0);
    PyErr_Restore(et, ev, etb);
    /* no Python code runs from here to the allocator hook */
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &g_orig_obj);
    freelists_drain(in);
    g_installed = 1; /* from here on w_type_new wedges new classes */
    PyType_Type.tp_dealloc = w_type_dealloc;
    PyType_Type.tp_new = w_type_new;
    for (int b = B_LIST; b < B_N; b++) {
        g_orig_dealloc[b] = g_builtin[b].tp->tp_dealloc;
        g_builtin[b].tp->tp_dealloc = g_wedge_dealloc[b];
    }
    alloc_hook_set();
    ulma_rt_tls.nesting--;
    return 0;
}

static void objects_uninstall(void)
{
    if (!g_installed)
        return;
    ulma_rt_tls.nesting++;
    objects_flush();
    alloc_hook_remove();
    g_epoch++;
    for (int b = B_LIST; b < B_N; b++)
        if (g_builtin[b].tp->tp_dealloc == g_wedge_dealloc[b])
            g_builtin[b].tp->tp_dealloc = g_orig_dealloc[b];
    if (PyType_Type.tp_new == w_type_new)
        PyType_Type.tp_new = g_orig_type_new;
    if (PyType_Type.tp_dealloc == w_type_dealloc)
        PyType_Type.tp_dealloc = g_orig_type_dealloc;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    walk_classes(&PyBaseObject_Type, 0, 0);
    PyErr_Restore(et, ev, etb);
    floats_back_on();
    reg_clear();
    g_installed = 0;
    ulma_rt_tls.nesting--;
}

#elif OBJECTS_TRACER

/*
 * CPython 3.13: the reference tracer sees every object that
 * _Py_NewReference() makes live, of every type, after its type is set (also
 * those reused from a free list, and the result of a resize), and every
 * object _Py_Dealloc() destroys, before its deallocator runs. What it does
 * not see: the deaths of int, float and str that the specialised
 * instructions make through _Py_DECREF_SPECIALIZED (3.13.0), which calls the
 * type's destructor directly. So those three die in the allocator hook (in
 * PyObject_Free, with the float free list off: every route ends there), and
 * their tracer deaths are ignored. A resize (str, bytes, tuple) reallocates
 * a live object and makes it live again: the old one's FREE is written by
 * the realloc hook, the new one's NEW by the tracer.
 *
 * Sizes: when the tracer sees a construction, a str's length and kind are
 * not written yet (PyUnicode_New sets them after _PyObject_Init). The size
 * is that of the block the thread allocated last when the object is at its
 * start (after the GC head for the GC'd types): the bytes asked for, which
 * are the object's size as defined for 3.11 (OBJECTS.md); an object reused
 * from a free list (list, dict, tuple) has its fields set already.
 */

static PyRefTracer g_prev_tracer; /* NULL: none (install refuses otherwise) */

/* The first 3.13 whose interpreter loop calls the tracer for the objects it
 * destroys (Py_Version of 3.13.3 final) */
#define TRACER_DESTROY_EXACT 0x030D03F0UL

typedef struct last_block {
    uintptr_t mem;
    size_t size;
} last_block_t;

static __thread last_block_t tl_last;

static inline void last_set(void *mem, size_t n)
{
    tl_last.mem = (uintptr_t)mem;
    tl_last.size = n;
}

static inline int tracked_index(PyTypeObject *tp)
{
    int b = nongc_index(tp);
    return b >= 0 ? b : gc_index(tp);
}

/* the object's size (see above) */
static uint64_t new_size(PyObject *op, int b)
{
    uintptr_t at = (uintptr_t)op - (b >= B_LIST ? GC_HEAD : 0);
    if (tl_last.mem == at && tl_last.size > (b >= B_LIST ? GC_HEAD : 0)) {
        tl_last.mem = 0;
        return tl_last.size - (b >= B_LIST ? GC_HEAD : 0);
    }
    return builtin_size(op, b);
}

/* An int's construction is held back until the thread's next object event
 * or flush: from 3.12 on, sys.monitoring makes an int for an event's offset
 * right before it calls the hooks, and full mode's hook drops it
 * (flush_made); its free is then not reported either (tl_made). */
typedef struct held_int {
    PyObject *op;
    uint64_t size;
    uint32_t depth, epoch;
} held_int_t;

static __thread held_int_t tl_held;

static inline void held_flush(void)
{
    if (ULMA_UNLIKELY(tl_held.op != NULL)) {
        PyObject *op = tl_held.op;
        tl_held.op = NULL;
        if (tl_held.epoch == g_epoch)
            emit(ULMA_EV_OBJ_NEW, &g_builtin[B_INT], op, tl_held.size, tl_held.depth);
    }
}

static int ref_tracer(PyObject *op, PyRefTracerEvent ev, void *data)
{
    (void)data;
    held_flush();
    if (ulma_rt_tls.nesting)
        return 0;
    PyTypeObject *tp = Py_TYPE(op);
    int b = tracked_index(tp);
    if (b >= 0) {
        if (ev == PyRefTracer_CREATE && b == B_INT)
            tl_held = (held_int_t){op, new_size(op, b), ulma_rt_tls.depth, g_epoch};
        else if (ev == PyRefTracer_CREATE)
            emit(ULMA_EV_OBJ_NEW, &g_builtin[b], op, new_size(op, b), ulma_rt_tls.depth);
        else if (b != B_INT && b != B_FLOAT && b != B_STR) /* those: h_free */
            emit(ULMA_EV_OBJ_FREE, &g_builtin[b], op, builtin_size(op, b), ulma_rt_tls.depth);
        return 0;
    }
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        type_ent_t *e;
        if (ev == PyRefTracer_CREATE) {
            e = reg_find(tp);
            if (!e) {
                ulma_rt_tls.nesting++; /* the name lookup makes objects */
                e = reg_add(tp);
                ulma_rt_tls.nesting--;
                if (e)
                    g_classes++;
                else
                    g_problems++, ulma_rt_problem();
            }
            if (e)
                emit(ULMA_EV_OBJ_NEW, e, op, class_size(op, tp), ulma_rt_tls.depth);
        } else if ((e = reg_find(tp)) != NULL) {
            emit(ULMA_EV_OBJ_FREE, e, op, class_size(op, tp), ulma_rt_tls.depth);
        }
    }
    /* a dying class is forgotten: its address may be reused */
    if (ev == PyRefTracer_DESTROY && (tp->tp_flags & Py_TPFLAGS_TYPE_SUBCLASS))
        reg_remove((PyTypeObject *)op);
    return 0;
}

/* ------------------------------------------------------ allocator hook */

static void *h_malloc(void *ctx, size_t n)
{
    (void)ctx;
    floats_keep_off();
    void *r = g_orig_obj.malloc(g_orig_obj.ctx, n);
    last_set(r, n);
    return r;
}

static void *h_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    floats_keep_off();
    void *r = g_orig_obj.calloc(g_orig_obj.ctx, nelem, elsize);
    last_set(r, nelem * elsize);
    return r;
}

/* A live str or bytes (block start) or tuple (after the GC head) being
 * resized: its FREE here, its NEW from the tracer when the resize makes it
 * live again. */
static void *h_realloc(void *ctx, void *ptr, size_t n)
{
    if (!ptr)
        return h_malloc(ctx, n);
    floats_keep_off();
    int b = -1;
    uint64_t osize = 0;
    if (ulma_rt_tls.nesting == 0) {
        b = nongc_index(Py_TYPE((PyObject *)ptr));
        if (b >= 0 && Py_REFCNT((PyObject *)ptr) >= 1)
            osize = builtin_size((PyObject *)ptr, b);
        else
            b = -1;
    }
    void *r = g_orig_obj.realloc(g_orig_obj.ctx, ptr, n);
    if (!r)
        return NULL;
    last_set(r, n);
    if (ulma_rt_tls.nesting)
        return r;
    held_flush();
    if (b >= 0) {
        emit(ULMA_EV_OBJ_FREE, &g_builtin[b], ptr, osize, ulma_rt_tls.depth);
    } else {
        PyObject *g = tuple_resized(r, n);
        if (g)
            emit(ULMA_EV_OBJ_FREE, &g_builtin[B_TUPLE], (char *)ptr + GC_HEAD,
                 builtin_size(g, B_TUPLE), ulma_rt_tls.depth);
    }
    return r;
}

static void h_free(void *ctx, void *ptr)
{
    (void)ctx;
    floats_keep_off();
    if (ptr && tl_last.mem == (uintptr_t)ptr)
        tl_last.mem = 0;
    if (ptr && !made_freed(ptr)) {
        held_flush();
        PyObject *o = ptr;
        PyTypeObject *tp = Py_TYPE(o);
        if ((tp == &PyLong_Type || tp == &PyFloat_Type || tp == &PyUnicode_Type) &&
            Py_REFCNT(o) == 0 && ulma_rt_tls.nesting == 0) {
            int b = nongc_index(tp);
            emit(ULMA_EV_OBJ_FREE, &g_builtin[b], o, builtin_size(o, b), ulma_rt_tls.depth);
        }
    }
    g_orig_obj.free(g_orig_obj.ctx, ptr);
}

/* ------------------------------------------------------ install / remove */

static int g_refused_said;

static int objects_install(void)
{
    if (g_installed)
        return 0;
    if (Py_Version < TRACER_DESTROY_EXACT) {
        /* 3.13.0 to 3.13.2: the interpreter loop destroys objects without
         * telling the tracer (CPython gh-130382, fixed in 3.13.3) */
        if (!g_refused_said) {
            g_refused_said = 1;
            PySys_FormatStderr("ulma: object mode is not supported on CPython %d.%d.%d: it "
                               "needs 3.13.3 or later, whose reference tracer sees every "
                               "object's destruction; no object records; calls are profiled "
                               "as usual\n",
                               (int)(Py_Version >> 24 & 0xff), (int)(Py_Version >> 16 & 0xff),
                               (int)(Py_Version >> 8 & 0xff));
        }
        return -ENOTSUP;
    }
    PyInterpreterState *in = PyInterpreterState_Get();
    if (in != PyInterpreterState_Main())
        return -ENOTSUP; /* one tracer per runtime, the free list per interpreter */
    void *pdata = NULL;
    g_prev_tracer = PyRefTracer_GetTracer(&pdata);
    if (g_prev_tracer) {
        /* tracemalloc, or a program's own tracer: one at a time */
        if (!g_refused_said) {
            g_refused_said = 1;
            PySys_WriteStderr("ulma: object mode needs CPython's reference tracer, which is in "
                              "use (tracemalloc?): no object records; calls are profiled as "
                              "usual\n");
        }
        return -EBUSY;
    }
    g_interp = in;
    ulma_rt_tls.nesting++;
    g_epoch++;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &g_orig_obj);
    floats_drain_off(in);
    g_installed = 1;
    alloc_hook_set();
    if (PyRefTracer_SetTracer(ref_tracer, NULL) != 0) {
        PyErr_Clear();
        alloc_hook_remove();
        floats_back_on();
        g_installed = 0;
        ulma_rt_tls.nesting--;
        return -EIO;
    }
    ulma_rt_tls.nesting--;
    return 0;
}

static void objects_uninstall(void)
{
    if (!g_installed)
        return;
    held_flush();
    ulma_rt_tls.nesting++;
    void *pdata = NULL;
    if (PyRefTracer_GetTracer(&pdata) == ref_tracer)
        PyRefTracer_SetTracer(NULL, NULL);
    else
        g_problems++, ulma_rt_problem(); /* replaced by someone else's: theirs stays */
    alloc_hook_remove();
    g_epoch++;
    g_installed = 0;
    floats_back_on();
    reg_clear();
    ulma_rt_tls.nesting--;
}

static void objects_flush(void)
{
    held_flush(); /* else every record is written when it happens */
}

static void objects_flush_made(const void *made)
{
    if (tl_held.op && tl_held.op == (PyObject *)made) {
        tl_held.op = NULL;
        tl_made = (uintptr_t)made;
        return;
    }
    held_flush();
}

#else /* !OBJECTS_ON */

#ifdef Py_GIL_DISABLED
#define BUILD_KIND " free-threaded"
#else
#define BUILD_KIND ""
#endif

static int g_installed; /* never set */
static uint64_t g_news, g_frees, g_pend_lost, g_classes, g_problems;
static int g_refused_said;

static int objects_install(void)
{
    if (!g_refused_said) {
        g_refused_said = 1;
        PySys_FormatStderr("ulma: object mode is not supported on CPython %d.%d%s (3.11, 3.12, "
                           "and 3.13.3 or later): "
                           "no object records; calls are profiled as usual\n",
                           PY_MAJOR_VERSION, PY_MINOR_VERSION, BUILD_KIND);
    }
    return -ENOTSUP;
}

static void objects_uninstall(void)
{
}

static void objects_flush(void)
{
}

static void objects_flush_made(const void *made)
{
    (void)made;
}

#endif /* OBJECTS_WEDGES, OBJECTS_TRACER */

static int objects_installed(void)
{
    return g_installed;
}

static const ulma_objects_api_t g_api = {
    ULMA_OBJECTS_ABI, sizeof(ulma_objects_api_t), objects_install, objects_uninstall,
    objects_installed, objects_flush, objects_flush_made,
};

/* ------------------------------------------------------------ Python API */

static PyObject *py_install(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    int rc = objects_install();
    if (rc != 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *py_uninstall(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    objects_uninstall();
    Py_RETURN_NONE;
}

static PyObject *py_installed(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return PyBool_FromLong(g_installed);
}

static PyObject *py_flush(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    objects_flush();
    Py_RETURN_NONE;
}

static PyObject *py_status(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return Py_BuildValue("{s:O,s:K,s:K,s:K,s:K,s:K}", "installed",
                         g_installed ? Py_True : Py_False, "news",
                         (unsigned long long)g_news, "frees", (unsigned long long)g_frees,
                         "pending_lost", (unsigned long long)g_pend_lost, "classes",
                         (unsigned long long)g_classes, "problems",
                         (unsigned long long)g_problems);
}

/* The slot pointers the wedges touch, as integers (tests: "off" restores
 * every one of them exactly). */
static PyObject *py_slots(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *tp;
    if (!PyArg_ParseTuple(args, "O!", &PyType_Type, &tp))
        return NULL;
    PyTypeObject *t = (PyTypeObject *)tp;
    return Py_BuildValue("(KKKKK)", (unsigned long long)(uintptr_t)t->tp_alloc,
                         (unsigned long long)(uintptr_t)t->tp_free,
                         (unsigned long long)(uintptr_t)t->tp_dealloc,
                         (unsigned long long)(uintptr_t)t->tp_new,
                         (unsigned long long)(uintptr_t)t->tp_vectorcall);
}

static PyObject *py_allocator(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    PyMemAllocatorEx a;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &a);
    return Py_BuildValue("(KKKKK)", (unsigned long long)(uintptr_t)a.ctx,
                         (unsigned long long)(uintptr_t)a.malloc,
                         (unsigned long long)(uintptr_t)a.calloc,
                         (unsigned long long)(uintptr_t)a.realloc,
                         (unsigned long long)(uintptr_t)a.free);
}

static PyMethodDef methods[] = {
    {"install", py_install, METH_NOARGS,
     "install(): put the object wedges in (idempotent). GIL held."},
    {"uninstall", py_uninstall, METH_NOARGS,
     "uninstall(): restore every wedged pointer exactly (idempotent)."},
    {"installed", py_installed, METH_NOARGS, "installed() -> bool"},
    {"flush", py_flush, METH_NOARGS, "Write this thread's deferred constructions now."},
    {"status", py_status, METH_NOARGS, "Counters of the wedges, as a dict."},
    {"_slots", py_slots, METH_VARARGS,
     "_slots(type) -> (tp_alloc, tp_free, tp_dealloc, tp_new, tp_vectorcall)"},
    {"_allocator", py_allocator, METH_NOARGS, "_allocator() -> the OBJ allocator in force"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "ulma._objects",
    "ULMA object wedges: construction/destruction events of builtins and user classes.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__objects(void); /* the module entry point */
PyMODINIT_FUNC PyInit__objects(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m || PyModule_AddFunctions(m, segread_objects_methods) != 0) {
        Py_XDECREF(m);
        return NULL;
    }
    PyObject *cap = PyCapsule_New((void *)&g_api, ULMA_OBJECTS_CAPSULE, NULL);
    if (!cap || PyModule_AddObject(m, "_C_API", cap) != 0) {
        Py_XDECREF(cap);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "EV_OBJ_NEW", ULMA_EV_OBJ_NEW);
    PyModule_AddIntConstant(m, "EV_OBJ_FREE", ULMA_EV_OBJ_FREE);
    PyModule_AddIntConstant(m, "EV_DEF_TYPE", ULMA_EV_DEF_TYPE);
    PyModule_AddIntConstant(m, "FIRST_CLASS_ID", FIRST_CLASS_ID);
    PyModule_AddStringConstant(m, "MECHANISM", OBJECTS_WEDGES   ? "wedges"
                                               : OBJECTS_TRACER ? "reftracer"
                                                                : "none");
    PyObject *ids = PyDict_New();
    for (int b = 0; ids && b < B_N; b++) {
        PyObject *v = PyLong_FromUnsignedLong(g_builtin[b].id);
        if (v)
            PyDict_SetItemString(ids, g_builtin[b].tp->tp_name, v);
        Py_XDECREF(v);
    }
    if (!ids || PyModule_AddObject(m, "BUILTIN_IDS", ids) != 0) {
        Py_XDECREF(ids);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
