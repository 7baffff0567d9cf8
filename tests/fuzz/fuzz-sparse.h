/*
 * A compact form of a whole image file for fuzz inputs
 *
 * A valid VHDX file is at least 4 MiB (the header area, log, metadata
 * region and BAT each take 1 MiB), nearly all zeros.  Inputs that large
 * make slow, diffuse fuzzing and a corpus far too big to commit, so
 * fuzz-open reads a file either as it is (an input that starts with
 * "vhdxfile": a real image, e.g. one to reproduce a bug with) or in this
 * sparse form, all little-endian:
 *
 *   u8   fix-up flags: checksums fuzz_fixup_file() must leave alone
 *   u16  file length in 4 KiB units (at most FUZZ_SPARSE_MAX_FILE)
 *   then extents until the input ends:
 *        u32 file offset, u16 length, that many bytes of content
 *
 * Bytes no extent covers are zeros; extents reaching past the end of the
 * file are cut there.  An extent at FUZZ_SPARSE_EXTRA, beyond any file,
 * holds no file content but the harness's own parameters (fuzz-open: a
 * fault plan), which older inputs simply lack.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_SPARSE_H
#define VHDX_FUZZ_SPARSE_H

#include "fuzz-util.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUZZ_SPARSE_UNIT        4096u
/* Keeps one execution in the milliseconds */
#define FUZZ_SPARSE_MAX_FILE    (32u << 20)
#define FUZZ_SPARSE_HEADER      3
#define FUZZ_SPARSE_EXTENT      6
#define FUZZ_SPARSE_EXTRA       UINT32_MAX

/*
 * Makes @file the file an input describes (raw or sparse); *@skip gets
 * the fix-up flags (0 for a raw file).  false if the input describes no
 * file at all (too short).
 */
bool fuzz_sparse_decode(const uint8_t *data, size_t size, GByteArray *file,
                        unsigned *skip);

/*
 * Sets @extra to the content of the first FUZZ_SPARSE_EXTRA extent of a
 * sparse input; false if it has none (a raw file never has)
 */
bool fuzz_sparse_extra(const uint8_t *data, size_t size, FuzzInput *extra);

/*
 * The sparse form of the @len-byte @file (len at most FUZZ_SPARSE_MAX_FILE,
 * a multiple of FUZZ_SPARSE_UNIT), with fix-up flags @skip: one extent per
 * run of non-zero bytes, runs closer than a few bytes merged.
 */
GByteArray *fuzz_sparse_encode(const uint8_t *file, size_t len,
                               unsigned skip);

#endif /* VHDX_FUZZ_SPARSE_H */
