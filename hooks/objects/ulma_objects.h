/*
 * ulma_objects.h - C interface of the ulma._objects extension (the object
 * wedges), for the rest of the ulma package (ulma._ulma, the launcher).
 *
 *   PyObject *cap = PyImport_ImportModuleAttrString... or:
 *   const ulma_objects_api_t *api =
 *       PyCapsule_Import(ULMA_OBJECTS_CAPSULE, 0);
 *   if (api && api->abi == ULMA_OBJECTS_ABI) api->install();
 *
 * Every function is called with the GIL held. The capsule stays valid for
 * the life of the process (the module is never unloaded).
 */
#ifndef ULMA_OBJECTS_H
#define ULMA_OBJECTS_H

#include <stdint.h>

#define ULMA_OBJECTS_CAPSULE "ulma._objects._C_API"
#define ULMA_OBJECTS_ABI 2u

typedef struct ulma_objects_api {
    uint32_t abi;        /* ULMA_OBJECTS_ABI */
    uint32_t struct_size;
    /* Install every wedge (idempotent). 0, or -errno (nothing installed). */
    int (*install)(void);
    /* Remove every wedge, restoring each slot and the object allocator to
     * the exact pointers they had (idempotent). Objects created while the
     * wedges were on stay valid. */
    void (*uninstall)(void);
    /* 1 while installed. */
    int (*installed)(void);
    /* Write the calling thread's deferred OBJ_NEW record(s), if any, now.
     * Cheap (one TLS load) when there is nothing deferred. Call it before
     * writing a CALL/RETURN/UNWIND record while the wedges are installed, so
     * that each construction lands before the record of the frame that
     * follows it (see OBJECTS.md, "ordering"). */
    void (*flush)(void);
    /* flush(), from a hook CPython calls with an object it made for the
     * call (sys.monitoring's offset, an int from 257 on): that object is not
     * the program's, so its construction, if still deferred, is dropped and
     * its destruction then not reported. Where constructions are written
     * when they happen (the reference tracer) it is flush(). */
    void (*flush_made)(const void *made);
} ulma_objects_api_t;

#endif /* ULMA_OBJECTS_H */
