/*
 * Reproducer (fuzz-create): vhdx_create_params_resolve() divides by the
 * parent's logical sector size without checking it
 *
 * A request for a differencing image that leaves the sector size to the
 * parent (no has_logical_sector_size) takes the parent spec's
 * logical_sector_size unchecked, and create_sector_size() computes
 * virtual_size % lss with it (block/vhdx/create.c): a parent spec whose
 * logical_sector_size is 0 is a division by zero (SIGFPE on x86; UBSan:
 * "division by zero").  Any other odd value only fails later, cleanly,
 * in vhdx_image_create().  The QEMU glue takes the value from an opened
 * parent image, whose metadata was checked to say 512 or 4096, so only
 * other users of the core API can get there.
 *
 * Not built by meson (it would crash the test run).  To run it:
 *   cc -g -Iinclude tests/fuzz/repro-create-parent-lss.c \
 *      $(find block/vhdx -name '*.c') \
 *      $(pkg-config --cflags --libs glib-2.0) -o /tmp/repro
 *   /tmp/repro    # expected: a clean EINVAL error; now: SIGFPE
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/create.h"

#include <stdio.h>

int main(void)
{
    VhdxParentSpec parent = {
        .name = "/vm/base.vhdx",
        .child_dir = "/vm",
        .logical_sector_size = 0,
    };
    VhdxCreateRequest req = {
        .virtual_size = 8 << 20,
        .parent = &parent,
    };
    VhdxCreateParams p;
    GError *err = NULL;

    if (vhdx_create_params_resolve(&req, &p, &err) < 0) {
        printf("refused: %s\n", err->message);
        g_error_free(err);
        return 0;
    }
    printf("accepted a parent of logical sector size 0\n");
    return 1;
}
