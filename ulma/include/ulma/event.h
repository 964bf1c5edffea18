/*
 * event.h - the records that travel through a ULMA ring.
 *
 * Everything is made of 16-byte units. Every record starts with one header
 * unit (ulma_rec_t); `units` says how many units the whole record takes
 * (1..255). Lightweight records are one unit; records with a fixed payload
 * (objects, MPI) take two or three; heavyweight records (names of code
 * objects, C functions, types, threads, ...) carry a variable payload after
 * the header, padded to a whole unit, and are written once per thing.
 *
 * Layout changes are append-only: new kinds get new numbers, existing
 * payloads only grow at their end (readers use the length they are given).
 */
#ifndef ULMA_EVENT_H
#define ULMA_EVENT_H

#include <stdint.h>

#define ULMA_UNIT 16u           /* bytes in one unit */
#define ULMA_MAX_UNITS 255u     /* largest record, header included */
#define ULMA_MAX_PAYLOAD ((ULMA_MAX_UNITS - 1u) * ULMA_UNIT) /* 4064 bytes */

typedef struct ulma_rec {
    uint64_t tsc;   /* cycle count (ulma_clock_read) when it happened */
    uint32_t id;    /* code/function/type/call id, or a count (DROP) */
    uint16_t depth; /* writer's stack depth, modulo 2^16; see kinds */
    uint8_t kind;   /* ulma_kind_t */
    uint8_t units;  /* size of the whole record in units, >= 1 */
} ulma_rec_t;

_Static_assert(sizeof(ulma_rec_t) == ULMA_UNIT, "one record header is one unit");

/*
 * Kinds. "depth" is the writer's count of frames it has seen entered and not
 * yet left on this thread: a CALL carries the depth of the new frame (1 for
 * the first), a RETURN the depth of the frame that leaves. A reader that
 * lost records (see ULMA_EV_DROP) resynchronises its shadow stack with it.
 */
typedef enum ulma_kind {
    ULMA_EV_PAD = 0,         /* filler up to the ring's end; skip `units` */
    /* lightweight, 1 unit */
    ULMA_EV_CALL = 1,        /* Python frame entered or resumed; id = code id */
    ULMA_EV_RETURN = 2,      /* Python frame returned or suspended (yield/await) */
    ULMA_EV_UNWIND = 3,      /* Python frame left by an exception */
    ULMA_EV_C_CALL = 4,      /* C function called (full mode); id = cfunc id */
    ULMA_EV_C_RETURN = 5,    /* C function returned or raised */
    ULMA_EV_DROP = 6,        /* `id` records were lost just before this one
                              * (saturates at UINT32_MAX); depth = writer's
                              * depth now */
    ULMA_EV_MODE = 7,        /* profiling state changed on this thread; id =
                              * ulma_mode_t now in force, depth = writer depth,
                              * which a mode change does not reset: frames stay
                              * open across it, and every frame whose CALL was
                              * written gets its RETURN/UNWIND, also while off */
    ULMA_EV_THREAD_END = 8,  /* thread finished; no more records */
    /* fixed payload */
    ULMA_EV_OBJ_NEW = 16,    /* 2 units: id = type id, ulma_obj_payload_t */
    ULMA_EV_OBJ_FREE = 17,   /* 2 units: id = type id, ulma_obj_payload_t */
    ULMA_EV_MPI = 18,        /* 3 units: id = ulma MPI call id, ulma_mpi_payload_t;
                              * tsc = start of the call */
    /* heavyweight, variable payload, written once per thing */
    ULMA_EV_DEF_CODE = 32,   /* id = code id, ulma_def_code_t + strings */
    ULMA_EV_DEF_CFUNC = 33,  /* id = cfunc id, ulma_def_code_t + strings */
    ULMA_EV_DEF_TYPE = 34,   /* id = type id, payload: type name (no NUL) */
    ULMA_EV_DEF_THREAD = 35, /* id = OS thread id, payload: thread name */
    ULMA_EV_DEF_MPI = 36,    /* id = MPI call id, payload: MPI function name */
    ULMA_EV_KIND_MAX = 36,
} ulma_kind_t;

/* Profiling modes, shared by the control word, the API and ULMA_EV_MODE. */
typedef enum ulma_mode {
    ULMA_MODE_OFF = 0,
    ULMA_MODE_FAST = 1, /* PEP 523 eval-frame wrapper: Python frames only */
    ULMA_MODE_FULL = 2, /* profile hook: Python frames and C functions */
} ulma_mode_t;

/* Payload of OBJ_NEW / OBJ_FREE (the unit after the header). */
typedef struct ulma_obj_payload {
    uint64_t size;  /* bytes of the object (tp_basicsize + items) */
    uint64_t addr;  /* object address, so frees can be matched to news */
} ulma_obj_payload_t;

/* Payload of MPI (the two units after the header). */
typedef struct ulma_mpi_payload {
    uint64_t duration;  /* cycles spent in the call */
    uint64_t bytes;     /* bytes sent + received by this rank */
    int32_t peer;       /* peer or root rank; -1 if none */
    uint32_t comm_size; /* size of the communicator; 0 if unknown */
    uint64_t reserved;
} ulma_mpi_payload_t;

/* Fixed part of DEF_CODE / DEF_CFUNC payloads; followed by `name_len`
 * bytes of qualified name, then `file_len` bytes of file name (for C
 * functions: the module or type), no terminators. */
typedef struct ulma_def_code {
    uint32_t firstline; /* 0 for C functions */
    uint16_t name_len;
    uint16_t file_len;
} ulma_def_code_t;

static inline int ulma_kind_is_known(unsigned kind)
{
    return kind <= ULMA_EV_THREAD_END || (kind >= ULMA_EV_OBJ_NEW && kind <= ULMA_EV_MPI) ||
           (kind >= ULMA_EV_DEF_CODE && kind <= ULMA_EV_KIND_MAX);
}

/* Units a record with `payload` bytes of payload takes (its header unit
 * included), whatever its kind. */
static inline unsigned ulma_rec_units(uint32_t payload)
{
    return 1u + (payload + ULMA_UNIT - 1u) / ULMA_UNIT;
}

#endif /* ULMA_EVENT_H */
