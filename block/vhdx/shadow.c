/*
 * A file seen with changes kept in memory
 *
 * Written bytes are kept in 4 KiB pages, each starting as a copy of what
 * the view showed there; written zeros are kept as ranges, so a log entry
 * zeroing a large range costs no memory.  A page always holds everything
 * written over it, so reads look at the page first, and elsewhere at the
 * file with the zero ranges applied.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/shadow.h"
#include "vhdx/format.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <string.h>

#define PAGE_SIZE 4096

/*
 * A log holds at most a few MiB of metadata changes in practice; these
 * bounds keep a hostile one from costing much memory or time (every
 * read looks at every zero range, every zero range at every page).
 */
#define SHADOW_MAX_PAGES        16384   /* 64 MiB */
#define SHADOW_MAX_ZERO_RANGES  4096

typedef struct ZeroRange {
    uint64_t start;
    uint64_t end;
} ZeroRange;

typedef struct Shadow {
    VhdxIO io;
    VhdxIO *file;
    GHashTable *pages;          /* page index -> PAGE_SIZE bytes */
    GArray *zeros;              /* ZeroRange, in the order written */
    int64_t length;             /* -1: the file's */
    bool pass_through;
} Shadow;

/* What the file shows in [offset, offset + len) with the zero ranges */
static int shadow_read_file(Shadow *sh, uint64_t offset, uint8_t *buf,
                            size_t len)
{
    int ret = vhdx_io_pread(sh->file, offset, buf, len);

    if (ret < 0) {
        return ret;
    }
    for (guint i = 0; i < sh->zeros->len; i++) {
        const ZeroRange *z = &g_array_index(sh->zeros, ZeroRange, i);
        uint64_t start = MAX(z->start, offset);
        uint64_t end = MIN(z->end, offset + len);

        if (start < end) {
            memset(buf + (start - offset), 0, end - start);
        }
    }
    return 0;
}

static uint8_t *shadow_lookup(Shadow *sh, uint64_t offset)
{
    uint64_t index = offset / PAGE_SIZE;

    return g_hash_table_lookup(sh->pages, &index);
}

/* How much of [offset, offset + len) from @offset on has no page */
static size_t shadow_unpaged_run(Shadow *sh, uint64_t offset, size_t len)
{
    size_t run = MIN(len, PAGE_SIZE - offset % PAGE_SIZE);

    while (run < len && !shadow_lookup(sh, offset + run)) {
        run += MIN(len - run, PAGE_SIZE);
    }
    return run;
}

static int shadow_pread(VhdxIO *io, uint64_t offset, void *buf, size_t len)
{
    Shadow *sh = io->opaque;
    uint8_t *out = buf;

    if (sh->pass_through) {
        return vhdx_io_pread(sh->file, offset, buf, len);
    }
    while (len) {
        uint8_t *page = shadow_lookup(sh, offset);
        size_t n;
        int ret;

        if (page) {
            n = MIN(len, PAGE_SIZE - offset % PAGE_SIZE);
            memcpy(out, page + offset % PAGE_SIZE, n);
        } else {
            /* One read of the file for a run of pages not kept */
            n = shadow_unpaged_run(sh, offset, len);
            ret = shadow_read_file(sh, offset, out, n);
            if (ret < 0) {
                return ret;
            }
        }
        offset += n;
        out += n;
        len -= n;
    }
    return 0;
}

static int shadow_page(Shadow *sh, uint64_t index, uint8_t **page)
{
    uint64_t *key;
    int ret;

    *page = g_hash_table_lookup(sh->pages, &index);
    if (*page) {
        return 0;
    }
    if (g_hash_table_size(sh->pages) >= SHADOW_MAX_PAGES) {
        return -EFBIG;
    }
    *page = g_malloc(PAGE_SIZE);
    ret = shadow_read_file(sh, index * PAGE_SIZE, *page, PAGE_SIZE);
    if (ret < 0) {
        g_free(*page);
        return ret;
    }
    key = g_new(uint64_t, 1);
    *key = index;
    g_hash_table_insert(sh->pages, key, *page);
    return 0;
}

static void shadow_grow(Shadow *sh, uint64_t end)
{
    int64_t length = vhdx_io_length(&sh->io);

    if (length >= 0 && end > (uint64_t)length) {
        sh->length = end;
    }
}

static int shadow_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                         size_t len)
{
    Shadow *sh = io->opaque;
    const uint8_t *in = buf;

    if (sh->pass_through) {
        return vhdx_io_pwrite(sh->file, offset, buf, len);
    }
    shadow_grow(sh, offset + len);
    while (len) {
        size_t in_page = offset % PAGE_SIZE;
        size_t n = MIN(len, PAGE_SIZE - in_page);
        uint8_t *page;
        int ret = shadow_page(sh, offset / PAGE_SIZE, &page);

        if (ret < 0) {
            return ret;
        }
        memcpy(page + in_page, in, n);
        offset += n;
        in += n;
        len -= n;
    }
    return 0;
}

static int shadow_pwrite_zeroes(VhdxIO *io, uint64_t offset, uint64_t len)
{
    Shadow *sh = io->opaque;
    ZeroRange z = { offset, offset + len };
    GHashTableIter iter;
    gpointer key, page;

    if (sh->pass_through) {
        return vhdx_io_pwrite_zeroes(sh->file, offset, len);
    }
    if (len == 0) {
        return 0;
    }
    if (sh->zeros->len >= SHADOW_MAX_ZERO_RANGES) {
        return -EFBIG;
    }
    shadow_grow(sh, z.end);
    g_array_append_val(sh->zeros, z);
    g_hash_table_iter_init(&iter, sh->pages);
    while (g_hash_table_iter_next(&iter, &key, &page)) {
        uint64_t page_start = *(uint64_t *)key * PAGE_SIZE;
        uint64_t start = MAX(z.start, page_start);
        uint64_t end = MIN(z.end, page_start + PAGE_SIZE);

        if (start < end) {
            memset((uint8_t *)page + (start - page_start), 0, end - start);
        }
    }
    return 0;
}

/*
 * Only the file can tell holes apart; once the view holds changes of its
 * own, everything may hold data (a safe answer, and replay is done by
 * then: only the log scan asks).
 */
static int shadow_block_status(VhdxIO *io, uint64_t offset, uint64_t len,
                               uint64_t *pnum)
{
    Shadow *sh = io->opaque;

    if (sh->pass_through || (g_hash_table_size(sh->pages) == 0 &&
                             sh->zeros->len == 0 && sh->length < 0)) {
        if (sh->file->block_status) {
            return sh->file->block_status(sh->file, offset, len, pnum);
        }
    }
    *pnum = len;
    return 0;
}

static int shadow_flush(VhdxIO *io)
{
    Shadow *sh = io->opaque;

    return sh->pass_through ? vhdx_io_flush(sh->file) : 0;
}

static int64_t shadow_length(VhdxIO *io)
{
    Shadow *sh = io->opaque;
    int64_t file_length = vhdx_io_length(sh->file);

    if (file_length < 0 || sh->length < 0) {
        return file_length;
    }
    return MAX(file_length, sh->length);
}

/*
 * Log replay only ever grows a file; a view cannot hide the file's own
 * bytes past a shorter end, so shrinking below the file is refused.
 */
static int shadow_truncate(VhdxIO *io, uint64_t length)
{
    Shadow *sh = io->opaque;
    int64_t file_length = vhdx_io_length(sh->file);
    int64_t old = shadow_length(io);

    if (sh->pass_through) {
        return vhdx_io_truncate(sh->file, length);
    }
    if (file_length < 0 || old < 0) {
        return (int)(file_length < 0 ? file_length : old);
    }
    if (length < (uint64_t)file_length) {
        return -ENOTSUP;
    }
    if (length < (uint64_t)old) {
        shadow_pwrite_zeroes(io, length, old - length);
    }
    sh->length = length;
    return 0;
}

/* A view grows only in memory, where there is nothing to allocate */
static int shadow_grow_allocated(VhdxIO *io, uint64_t length)
{
    Shadow *sh = io->opaque;

    if (sh->pass_through) {
        return vhdx_io_grow(sh->file, length, true);
    }
    return -ENOTSUP;
}

VhdxIO *vhdx_shadow_new(VhdxIO *file)
{
    Shadow *sh = g_new0(Shadow, 1);

    sh->io = (VhdxIO) {
        .pread = shadow_pread,
        .pwrite = shadow_pwrite,
        .flush = shadow_flush,
        .length = shadow_length,
        .truncate = shadow_truncate,
        .grow_allocated = shadow_grow_allocated,
        .pwrite_zeroes = shadow_pwrite_zeroes,
        .block_status = shadow_block_status,
        .opaque = sh,
    };
    sh->file = file;
    sh->pages = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                      g_free);
    sh->zeros = g_array_new(false, false, sizeof(ZeroRange));
    sh->length = -1;
    return &sh->io;
}

void vhdx_shadow_pass_through(VhdxIO *shadow)
{
    Shadow *sh = shadow->opaque;

    g_hash_table_remove_all(sh->pages);
    g_array_set_size(sh->zeros, 0);
    sh->length = -1;
    sh->pass_through = true;
}

void vhdx_shadow_free(VhdxIO *shadow)
{
    Shadow *sh;

    if (!shadow) {
        return;
    }
    sh = shadow->opaque;
    g_hash_table_destroy(sh->pages);
    g_array_free(sh->zeros, true);
    g_free(sh);
}
