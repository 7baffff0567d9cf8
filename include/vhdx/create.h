/*
 * Creating a VHDX image
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_CREATE_H
#define VHDX_CREATE_H

#include "vhdx/io.h"
#include "vhdx/parent.h"

/* What a user asks for; the has_ fields say which were given */
typedef struct VhdxCreateRequest {
    uint64_t virtual_size;
    bool has_block_size;
    uint64_t block_size;        /* default: by disk size; 2 MiB for a child */
    bool has_log_size;
    uint64_t log_size;          /* default: 1 MiB */
    bool has_logical_sector_size;
    uint64_t logical_sector_size;   /* default: 512, or the parent's */
    bool fixed;
    bool has_block_state_zero;
    bool block_state_zero;      /* dynamic: new blocks start as ZERO, not */
                                /* NOT_PRESENT; default: off */
    const char *creator;
    const VhdxParentSpec *parent;   /* makes a differencing image */
} VhdxCreateRequest;

/* An image to create, every parameter decided */
typedef struct VhdxCreateParams {
    uint64_t virtual_size;
    uint32_t block_size;
    uint32_t log_size;
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
    bool fixed;
    bool block_state_zero;
    const char *creator;
    const VhdxParentSpec *parent;
} VhdxCreateParams;

/*
 * Checks @req and fills in the defaults: the sizes QEMU's VHDX driver
 * has always picked (block size 8 MiB up to 1 GiB, 16 MiB up to 100 GiB,
 * 32 MiB up to 32 TiB, then 64 MiB; Hyper-V's 2 MiB for a differencing
 * image), and a child's parent's logical sector size.
 */
int vhdx_create_params_resolve(const VhdxCreateRequest *req,
                               VhdxCreateParams *p, GError **errp);

/* Writes a new, empty image over whatever @io holds */
int vhdx_image_create(VhdxIO *io, const VhdxCreateParams *p, GError **errp);

#endif /* VHDX_CREATE_H */
