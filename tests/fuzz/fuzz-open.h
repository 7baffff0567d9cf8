/*
 * The fault plan of a fuzz-open input, shared with the seed generator
 *
 * An input in sparse form (fuzz-sparse.h) may carry, in an extent at
 * FUZZ_SPARSE_EXTRA:
 *
 *   u8   the stage (OpenStage, modulo OPEN_STAGES) the plan is armed in
 *   FUZZ_FAULT_SIZE bytes: the fault plan (fuzz-io.h)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_OPEN_H
#define VHDX_FUZZ_OPEN_H

/* What fuzz-open does with a file, in this order */
typedef enum OpenStage {
    STAGE_READ_ONLY,            /* open, check, map and read */
    STAGE_PEEK,                 /* only when that open failed */
    STAGE_CHECK,                /* open tolerating damage, check */
    STAGE_REPAIR,               /* only when that check found damage */
    STAGE_WRITABLE,             /* open writable, write, flush, close */
    STAGE_REREAD,               /* open, check, map and read again */
    OPEN_STAGES,
} OpenStage;

#define OPEN_EXTRA_SIZE     (1 + FUZZ_FAULT_SIZE)

#endif /* VHDX_FUZZ_OPEN_H */
