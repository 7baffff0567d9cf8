/*
 * The LogGuid of the image fuzz-log puts its input in, which the seeds'
 * log entries carry (tests/fuzz/gen-corpus.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_LOG_H
#define VHDX_FUZZ_LOG_H

#include "vhdx/guid.h"

#define FUZZ_LOG_GUID \
    VHDX_GUID_INIT(0x6c6f6766, 0x757a, 0x7a21, 0x8a, 0x5e, 0x10, 0x9c, \
                   0x37, 0x42, 0x6d, 0x01)

#endif /* VHDX_FUZZ_LOG_H */
