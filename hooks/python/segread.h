/*
 * segread.h - reading a segment from Python, for tests and tools.
 *
 * Not on any hot path: the functions a test uses to look at what the hooks
 * wrote (ulma._ulma._read_segment, _request, _header, and ulma._objects._read)
 * live here, linked into both extension modules, so that _ulma.c and
 * objects.c hold the hooks alone. Each module adds its table with
 * PyModule_AddFunctions() at import.
 */
#ifndef ULMA_SEGREAD_H
#define ULMA_SEGREAD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* ulma._ulma: _read_segment(path, with_tsc=False), _request(path, control),
 * _header(path). */
__attribute__((visibility("hidden"))) extern PyMethodDef segread_ulma_methods[];

/* ulma._objects: _read(path). */
__attribute__((visibility("hidden"))) extern PyMethodDef segread_objects_methods[];

#endif /* ULMA_SEGREAD_H */
