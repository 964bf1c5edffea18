/*
 * segread.c - reading a segment from Python, for tests and tools (see
 * segread.h). A segment is read as any consumer reads it (ulma/reader.h):
 * what it holds is untrusted, and a record that does not parse ends the
 * batch it is in.
 */
#include "segread.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ulma/event.h"
#include "ulma/reader.h"
#include "ulma/rt.h"

/* Open a segment for reading, or set OSError and return NULL. Caller owns
 * the return value. */
static ulma_reader_t *open_reader(const char *path)
{
    ulma_reader_t *r = NULL;
    int rc = ulma_reader_open(path, &r);
    if (rc != 0) {
        errno = -rc;
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
        return NULL;
    }
    return r;
}

/* What a record becomes in the slot's list. */
enum rec_shape {
    REC_PLAIN,  /* (kind, id, depth) */
    REC_TSC,    /* (kind, id, depth, tsc) */
    REC_OBJECT, /* (kind, id, depth, size, addr) */
};

typedef struct read_ctx {
    PyObject *slots;   /* slot -> list of records */
    PyObject *codes;   /* id -> (name, file, line) */
    PyObject *cfuncs;  /* id -> (name, where) */
    PyObject *threads; /* id -> name */
    PyObject *types;   /* id -> name */
    enum rec_shape shape;
    int failed;
} read_ctx_t;

static int ctx_init(read_ctx_t *c, enum rec_shape shape)
{
    *c = (read_ctx_t){
        PyDict_New(), PyDict_New(), PyDict_New(), PyDict_New(), PyDict_New(), shape, 0};
    return c->slots && c->codes && c->cfuncs && c->threads && c->types ? 0 : -1;
}

static void ctx_clear(read_ctx_t *c)
{
    Py_XDECREF(c->slots);
    Py_XDECREF(c->codes);
    Py_XDECREF(c->cfuncs);
    Py_XDECREF(c->threads);
    Py_XDECREF(c->types);
}

/* (name, file, line) of a DEF_CODE or DEF_CFUNC payload, NULL if it does
 * not parse. */
static PyObject *def_tuple(const void *payload, uint32_t len)
{
    ulma_def_code_t d;
    if (len < sizeof(d))
        return NULL;
    memcpy(&d, payload, sizeof(d));
    const char *s = (const char *)payload + sizeof(d);
    if ((size_t)d.name_len + d.file_len > len - sizeof(d))
        return NULL;
    return Py_BuildValue("(s#s#I)", s, (Py_ssize_t)d.name_len, s + d.name_len,
                         (Py_ssize_t)d.file_len, d.firstline);
}

/* A name payload, padded to a whole unit: up to its first NUL. */
static PyObject *name_of(const void *payload, uint32_t len)
{
    const char *s = payload;
    uint32_t n = 0;
    while (n < len && s[n])
        n++;
    return PyUnicode_DecodeUTF8(s, n, "replace");
}

/* dict[id] = value (a reference given); a value that did not parse is left
 * out, with its error. */
static void put_def(read_ctx_t *c, PyObject *dict, uint32_t id, PyObject *val)
{
    if (!val) {
        PyErr_Clear();
        return;
    }
    PyObject *k = PyLong_FromUnsignedLong(id);
    if (!k || PyDict_SetItem(dict, k, val) != 0)
        c->failed = 1;
    Py_XDECREF(k);
    Py_DECREF(val);
}

static PyObject *rec_tuple(const read_ctx_t *c, const ulma_rec_t *h, const void *pl, uint32_t plen)
{
    switch (c->shape) {
    case REC_TSC:
        return Py_BuildValue("(BIHK)", h->kind, h->id, h->depth, (unsigned long long)h->tsc);
    case REC_OBJECT: {
        ulma_obj_payload_t op = {0, 0};
        if ((h->kind == ULMA_EV_OBJ_NEW || h->kind == ULMA_EV_OBJ_FREE) && plen >= sizeof(op))
            memcpy(&op, pl, sizeof(op));
        return Py_BuildValue("(BIHKK)", h->kind, h->id, h->depth, (unsigned long long)op.size,
                             (unsigned long long)op.addr);
    }
    case REC_PLAIN:
    default: return Py_BuildValue("(BIH)", h->kind, h->id, h->depth);
    }
}

static int read_batch(void *vctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    read_ctx_t *c = vctx;
    PyObject *key = PyLong_FromUnsignedLong(slot);
    PyObject *list = key ? PyDict_GetItemWithError(c->slots, key) : NULL; /* borrowed */
    if (!list && key && !PyErr_Occurred()) {
        list = PyList_New(0);
        if (list && PyDict_SetItem(c->slots, key, list) != 0)
            c->failed = 1;
        Py_XDECREF(list); /* the dict holds it */
    }
    Py_XDECREF(key);
    if (!list || c->failed) {
        c->failed = 1;
        return 0;
    }
    ulma_iter_t it;
    ulma_iter_init(&it, recs, nunits);
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        switch (h.kind) {
        case ULMA_EV_PAD: continue;
        case ULMA_EV_DEF_CODE: put_def(c, c->codes, h.id, def_tuple(pl, plen)); break;
        case ULMA_EV_DEF_CFUNC: put_def(c, c->cfuncs, h.id, def_tuple(pl, plen)); break;
        case ULMA_EV_DEF_THREAD: put_def(c, c->threads, h.id, name_of(pl, plen)); break;
        case ULMA_EV_DEF_TYPE: put_def(c, c->types, h.id, name_of(pl, plen)); break;
        default: break;
        }
        PyObject *t = rec_tuple(c, &h, pl, plen);
        if (!t || PyList_Append(list, t) != 0)
            c->failed = 1;
        Py_XDECREF(t);
    }
    return it.bad ? -1 : 0;
}

/* The error of a read that failed, unless one is set already. */
static void read_failed(void)
{
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "out of memory reading a segment");
}

/* Per-slot dicts of the slots in use: thread names, drops, thread ids. */
static int slot_dicts(ulma_reader_t *r, PyObject *names, PyObject *drops, PyObject *tids)
{
    const ulma_seg_info_t *info = ulma_reader_info(r);
    for (unsigned i = 0; i < info->nslots; i++) {
        const ulma_slot_stats_t *st = ulma_reader_slot_stats(r, i);
        if (!st || st->generation == 0)
            continue;
        char buf[ULMA_THREAD_NAME_MAX + 1];
        ulma_reader_thread_name(r, i, buf, sizeof(buf));
        PyObject *k = PyLong_FromUnsignedLong(i);
        PyObject *v1 = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
        PyObject *v2 = PyLong_FromUnsignedLongLong(st->dropped);
        PyObject *v3 = PyLong_FromLong(st->tid);
        int ok = k && v1 && v2 && v3 && PyDict_SetItem(names, k, v1) == 0 &&
                 PyDict_SetItem(drops, k, v2) == 0 && PyDict_SetItem(tids, k, v3) == 0;
        Py_XDECREF(k), Py_XDECREF(v1), Py_XDECREF(v2), Py_XDECREF(v3);
        if (!ok)
            return -1;
    }
    return 0;
}

static PyObject *py_read_segment(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path;
    int with_tsc = 0;
    if (!PyArg_ParseTuple(args, "s|p", &path, &with_tsc))
        return NULL;
    ulma_reader_t *r = open_reader(path);
    if (!r)
        return NULL;
    read_ctx_t c;
    PyObject *res = NULL, *names = PyDict_New(), *drops = PyDict_New(), *tids = PyDict_New();
    if (ctx_init(&c, with_tsc ? REC_TSC : REC_PLAIN) != 0 || !names || !drops || !tids)
        goto out;
    while (!c.failed && ulma_reader_drain(r, read_batch, &c, 0) > 0)
        ;
    if (c.failed || slot_dicts(r, names, drops, tids) != 0) {
        read_failed();
        goto out;
    }
    const ulma_seg_info_t *info = ulma_reader_info(r);
    res = Py_BuildValue(
        "{s:i,s:i,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:K,s:I,s:K,s:K,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "pid",
        info->pid, "rank", info->mpi_rank, "size", info->mpi_size, "job", info->job, "host",
        info->host, "exe", info->exe, "state", ulma_reader_state(r), "active_mode",
        ulma_reader_active_mode(r), "applied_seq", ulma_reader_applied_seq(r), "problems",
        (unsigned long long)ulma_reader_problems(r), "threads_lost", ulma_reader_threads_lost(r),
        "dropped", (unsigned long long)ulma_reader_total_dropped(r), "corrupt",
        (unsigned long long)ulma_reader_total_corrupt(r), "slots", c.slots, "codes", c.codes,
        "cfuncs", c.cfuncs, "threads", c.threads, "names", names, "slot_dropped", drops, "tids",
        tids);
out:
    Py_XDECREF(names), Py_XDECREF(drops), Py_XDECREF(tids);
    ctx_clear(&c);
    ulma_reader_destroy(&r);
    return res;
}

static PyObject *py_request(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path;
    unsigned int control;
    if (!PyArg_ParseTuple(args, "sI", &path, &control))
        return NULL;
    ulma_reader_t *r = open_reader(path);
    if (!r)
        return NULL;
    uint32_t seq = ulma_reader_request(r, control);
    ulma_reader_destroy(&r);
    return PyLong_FromUnsignedLong(seq);
}

static PyObject *py_header(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    ulma_reader_t *r = open_reader(path);
    if (!r)
        return NULL;
    const ulma_seg_info_t *info = ulma_reader_info(r);
    PyObject *d = Py_BuildValue(
        "{s:i,s:i,s:i,s:s,s:I,s:I,s:I,s:K,s:i,s:I}", "pid", info->pid, "rank", info->mpi_rank,
        "size", info->mpi_size, "job", info->job, "state", ulma_reader_state(r), "active_mode",
        ulma_reader_active_mode(r), "applied_seq", ulma_reader_applied_seq(r), "dropped",
        (unsigned long long)ulma_reader_total_dropped(r), "alive", ulma_reader_writer_alive(r),
        "hook_status", ulma_reader_hook_status(r));
    ulma_reader_destroy(&r);
    return d;
}

/* ulma._objects._read: one pass, over what was published when it started
 * (reading makes objects too, whose records are left for the next read).
 * What the reader makes is not reported, as for any hook's own objects. */
static PyObject *py_read_objects(PyObject *self, PyObject *args)
{
    (void)self;
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    ulma_reader_t *r = open_reader(path);
    if (!r)
        return NULL;
    ulma_rt_tls.nesting++;
    read_ctx_t c;
    PyObject *res = NULL;
    if (ctx_init(&c, REC_OBJECT) == 0) {
        ulma_reader_drain(r, read_batch, &c, 0);
        if (c.failed)
            read_failed();
        else
            res = Py_BuildValue("{s:O,s:O,s:K,s:K}", "slots", c.slots, "types", c.types, "dropped",
                                (unsigned long long)ulma_reader_total_dropped(r), "problems",
                                (unsigned long long)ulma_reader_problems(r));
    }
    ctx_clear(&c);
    ulma_reader_destroy(&r);
    ulma_rt_tls.nesting--;
    return res;
}

PyMethodDef segread_ulma_methods[] = {
    {"_read_segment", py_read_segment, METH_VARARGS,
     "_read_segment(path, with_tsc=False) -> dict: drain a segment (consumes its records);\n"
     "records are (kind, id, depth), or (kind, id, depth, tsc)."},
    {"_request", py_request, METH_VARARGS, "_request(path, control) -> sequence number"},
    {"_header", py_header, METH_VARARGS, "_header(path) -> dict of live header words"},
    {NULL, NULL, 0, NULL},
};

PyMethodDef segread_objects_methods[] = {
    {"_read", py_read_objects, METH_VARARGS,
     "_read(path) -> {'slots': {slot: [(kind, id, depth, size, addr)]}, 'types': {id: name}}\n"
     "Drain a segment (consumes its records)."},
    {NULL, NULL, 0, NULL},
};
