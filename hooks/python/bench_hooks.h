/*
 * bench_hooks.h - stripped-down hooks for the overhead benchmark
 * (tests/bench/bench_overhead), built only with -DULMA_BENCH_HOOKS=ON
 * (tests/bench/run turns it on). Included by _ulma.c before its method
 * table: each variant is one of the real hook bodies with a part taken out,
 * or a floor (what the mechanism costs with nothing in it), so the
 * benchmark can say what each part of a hook costs. A production build
 * holds none of this.
 */
#ifndef ULMA_BENCH_HOOKS_H
#define ULMA_BENCH_HOOKS_H

/* Stripped-down wrappers, for the overhead benchmark only (what each part
 * of fast_eval costs): 1 = pass-through, 2 = records without the clock,
 * 3 = the two clock reads without records or bookkeeping. */
static PyObject *fast_eval_empty(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
}

static PyObject *fast_eval_noclock(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    return fast_eval_body(ts, f, throwflag, 0, 0);
}

static PyObject *fast_eval_clockonly(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    uint64_t c = ulma_clock_read();
    __asm__ volatile("" : "+r"(c)); /* keep the read */
    PyObject *r = _PyEval_EvalFrameDefault(ts, f, throwflag);
    c = ulma_clock_read();
    __asm__ volatile("" : "+r"(c), "+r"(r));
    return r;
}

#if PY_VERSION_HEX >= 0x030C0000
/* Stripped-down sys.monitoring callbacks, for the overhead benchmark only:
 * 1 = callbacks doing nothing (the floor of the mechanism), 2 = records
 * without the clock, 3 = one clock read per event and nothing else. */
static PyObject *mon_empty(PyObject *cb, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    (void)cb, (void)args, (void)nargsf, (void)kw;
    Py_RETURN_NONE;
}

static PyObject *mon_clockonly(PyObject *cb, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    (void)cb, (void)args, (void)nargsf, (void)kw;
    uint64_t c = ulma_clock_read();
    __asm__ volatile("" : "+r"(c)); /* keep the read */
    Py_RETURN_NONE;
}

MON_CALLBACK(mon_py_call_noclock, mon_py_call_body(args, 0))
MON_CALLBACK(mon_py_return_noclock, mon_py_return_body(args, ULMA_EV_RETURN, 0))
MON_CALLBACK(mon_py_unwind_noclock, mon_py_return_body(args, ULMA_EV_UNWIND, 0))
MON_CALLBACK(mon_call_noclock, mon_call_body(args, 0))
MON_CALLBACK(mon_c_return_noclock, mon_c_return_body(args, 0))

static const mon_set_t g_mon_empty = {mon_empty, mon_empty, mon_empty, mon_empty, mon_empty};
static const mon_set_t g_mon_noclock = {mon_py_call_noclock, mon_py_return_noclock,
                                        mon_py_unwind_noclock, mon_call_noclock,
                                        mon_c_return_noclock};
static const mon_set_t g_mon_clockonly = {mon_clockonly, mon_clockonly, mon_clockonly,
                                          mon_clockonly, mon_clockonly};
#else
/* Stripped-down hooks, for the overhead benchmark only: 1 = a hook doing
 * nothing (the floor of the profile-hook mechanism), 2 = records without
 * the clock, 3 = one clock read per event and nothing else. */
static int prof_hook_empty(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj, (void)frame, (void)what, (void)arg;
    return 0;
}

static int prof_hook_noclock(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    return prof_hook_body(obj, frame, what, arg, 0);
}

static int prof_hook_clockonly(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj, (void)frame, (void)what, (void)arg;
    uint64_t c = ulma_clock_read();
    __asm__ volatile("" : "+r"(c)); /* keep the read */
    return 0;
}

#endif

/* Select the stripped-down wrapper `v` (0: the real one); 0, or -1 with
 * an exception set. */
static int bench_fast_variant(int v)
{
    if (g_mode == ULMA_MODE_FAST) {
        PyErr_SetString(PyExc_RuntimeError, "switch fast mode off first");
        return -1;
    }
    if (v == 2 && !g_extra_direct) {
        PyErr_SetString(PyExc_RuntimeError, "co_extra cannot be read directly here");
        return -1;
    }
    g_fast_fn = v == 1 ? fast_eval_empty
              : v == 2 ? fast_eval_noclock
              : v == 3 ? fast_eval_clockonly
                       : fast_eval;
    return 0;
}

/* Select the stripped-down full-mode hook `v` (0: the real one). */
static int bench_full_variant(int v)
{
    if (g_mode == ULMA_MODE_FULL) {
        PyErr_SetString(PyExc_RuntimeError, "switch full mode off first");
        return -1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    g_mon_set = v == 1 ? &g_mon_empty
              : v == 2 ? &g_mon_noclock
              : v == 3 ? &g_mon_clockonly
                       : &g_mon_real;
#else
    g_prof_fn = v == 1 ? prof_hook_empty
              : v == 2 ? prof_hook_noclock
              : v == 3 ? prof_hook_clockonly
                       : prof_hook;
#endif
    return 0;
}

static PyObject *py_set_fast_variant(PyObject *self, PyObject *args)
{
    (void)self;
    int v;
    if (!PyArg_ParseTuple(args, "i", &v) || bench_fast_variant(v) != 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_set_full_variant(PyObject *self, PyObject *args)
{
    (void)self;
    int v;
    if (!PyArg_ParseTuple(args, "i", &v) || bench_full_variant(v) != 0)
        return NULL;
    Py_RETURN_NONE;
}

/* At import: $ULMA_BENCH_FAST_VARIANT and $ULMA_BENCH_FULL_VARIANT (the
 * numbers above) select the stripped-down hooks for a whole process run by
 * `python3 -m ulma`, for the benchmark's process-level floors. */
static int bench_hooks_from_env(void)
{
    const char *f = getenv("ULMA_BENCH_FAST_VARIANT"), *u = getenv("ULMA_BENCH_FULL_VARIANT");
    if ((f && bench_fast_variant(atoi(f)) != 0) || (u && bench_full_variant(atoi(u)) != 0))
        return -1;
    return 0;
}

/* The entries of _ulma's method table. */
#define BENCH_HOOKS_METHODS \
    {"_set_fast_variant", py_set_fast_variant, METH_VARARGS, \
     "benchmark only: 0 normal fast mode, 1 empty wrapper, 2 records without the clock, " \
     "3 the clock reads only"}, \
    {"_set_full_variant", py_set_full_variant, METH_VARARGS, \
     "benchmark only: 0 normal full mode, 1 a profile hook that does nothing, 2 records " \
     "without the clock, 3 the clock read only"},

#endif /* ULMA_BENCH_HOOKS_H */
