/*
 * A file seen with changes kept in memory
 *
 * An image opened read-only whose log holds changes not yet written home
 * (its writer died) must still be read as the log says.  Its log is
 * replayed into this view instead of the file: writes land in memory,
 * reads see them over the file's bytes, and the file is never touched.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_SHADOW_H
#define VHDX_SHADOW_H

#include "vhdx/io.h"

/*
 * A view of @file (which must outlive it) with no changes yet.  It holds
 * at most 64 MiB of written pages and 4096 zeroed ranges; writes beyond
 * that fail with -EFBIG.
 */
VhdxIO *vhdx_shadow_new(VhdxIO *file);

/*
 * Drops the changes and passes everything to the file from now on: for
 * once the changes have been written to the file itself (the image is
 * written to after all, and its log replayed for real first).
 */
void vhdx_shadow_pass_through(VhdxIO *shadow);

void vhdx_shadow_free(VhdxIO *shadow);

#endif /* VHDX_SHADOW_H */
