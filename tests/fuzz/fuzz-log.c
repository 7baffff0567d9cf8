/*
 * libFuzzer harness: log replay
 *
 * A small image whose header carries a fixed LogGuid (FUZZ_LOG_GUID) gets
 * the input in its log region, entry checksums recomputed, and its log
 * looked at and replayed.  The input is
 *
 *   u16  the log sector where the rest of the input starts (the ring
 *        wraps, so entries that straddle its end take few bytes)
 *   the log's contents from there
 *
 * Expectations besides not crashing: looking for a sequence fails only
 * when the storage does; replay replays exactly when a sequence was
 * found; it writes neither the header area before the region tables nor
 * the log; it grows the file only to cover the home sectors of the
 * entries; and replaying twice gives what replaying once did.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-fixup.h"
#include "fuzz-io.h"
#include "fuzz-log.h"
#include "fuzz-util.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/header.h"
#include "vhdx/log.h"
#include "vhdx-test-image.h"

#include <string.h>

#define SECTOR          VHDX_LOG_SECTOR_SIZE
#define UNLOGGED_END    VHDX_REGION1_OFFSET

static const VhdxGuid fuzz_log_guid = FUZZ_LOG_GUID;

/* The image every input starts from, made once */
typedef struct Base {
    MemIO *m;
    uint64_t log_offset;
    uint32_t log_length;
} Base;

static const Base *base_get(void)
{
    static Base base;

    if (!base.m) {
        VhdxCreateParams p = test_dynamic_params(8 * VHDX_MiB, VHDX_MiB);
        VhdxHeaderState st;
        VhdxHeader h;

        base.m = test_create(&p);
        if (vhdx_header_load(memio_io(base.m), &st, NULL) < 0) {
            g_error("fuzz-log: the base image has no header");
        }
        h = st.current;
        h.log_guid = fuzz_log_guid;
        if (vhdx_header_update(memio_io(base.m), &st, &h, NULL) < 0) {
            g_error("fuzz-log: cannot set the LogGuid");
        }
        base.log_offset = h.log_offset;
        base.log_length = h.log_length;
    }
    return &base;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The end of the home range of the descriptor at @p, or 0 if none */
static uint64_t desc_home_end(const uint8_t *p)
{
    if (!memcmp(p, VHDX_LOG_DESC_SIGNATURE, 4)) {
        return add_saturating(vhdx_ld64(p + 16), SECTOR);
    }
    if (!memcmp(p, VHDX_LOG_ZERO_SIGNATURE, 4)) {
        return add_saturating(vhdx_ld64(p + 16), vhdx_ld64(p + 8));
    }
    return 0;
}

/*
 * The end of the home sectors of every descriptor of every entry header
 * in @log, valid or not: more than replay may write, never less
 */
static uint64_t log_home_end(const uint8_t *log, uint32_t log_length)
{
    uint64_t end = 0;

    for (uint32_t pos = 0; pos < log_length; pos += SECTOR) {
        const uint8_t *h = log + pos;
        uint32_t entry_length = vhdx_ld32(h + 8);
        uint64_t count = vhdx_ld32(h + 24);

        if (memcmp(h, VHDX_LOG_ENTRY_SIGNATURE, 4) || entry_length == 0 ||
            entry_length % SECTOR || entry_length > log_length) {
            continue;
        }
        /* Descriptors follow the 64-byte header, 128 to a sector */
        count = MIN(count, entry_length / SECTOR * (SECTOR / 32) - 2);
        for (uint64_t i = 0; i < count; i++) {
            uint64_t at = (i + 2) * 32;
            uint64_t sector = (pos + at / SECTOR * SECTOR) % log_length;

            end = MAX(end, desc_home_end(log + sector + at % SECTOR));
        }
    }
    return end;
}

/* Places the input in the log of @m as the header comment says */
static void place_input(MemIO *m, const Base *b, const uint8_t *data,
                        size_t size)
{
    FuzzInput in = { .data = data, .size = size };
    uint8_t *log = memio_bytes(m) + b->log_offset;
    uint32_t pos = fuzz_u16(&in) % (b->log_length / SECTOR) * SECTOR;
    size_t n = MIN(fuzz_left(&in), b->log_length);
    size_t first = MIN(n, b->log_length - pos);

    memcpy(log + pos, in.data + in.pos, first);
    memcpy(log, in.data + in.pos + first, n - first);
    fuzz_fixup_log(memio_bytes(m), memio_size(m), b->log_offset,
                   b->log_length);
}

static int replay(FuzzIO *f, const Base *b, bool *replayed)
{
    GError *err = NULL;
    int ret = vhdx_log_replay(fuzz_io(f), b->log_offset, b->log_length,
                              &fuzz_log_guid, replayed, &err);

    if (ret < 0) {
        FUZZ_CHECK(err && err->message[0], "replay failed without a message");
        g_error_free(err);
    }
    return ret;
}

/* What replay must leave alone: all but the home sectors */
static void check_untouched(MemIO *m, const Base *b, const uint8_t *before,
                            size_t size_before, uint64_t home_end)
{
    uint64_t limit = MAX(size_before, VHDX_ALIGN_UP(home_end, VHDX_MiB));

    FUZZ_CHECK(memio_size(m) >= size_before && memio_size(m) <= limit,
               "the file of %zu bytes became %zu (home sectors end at %"
               G_GUINT64_FORMAT ")", size_before, memio_size(m), home_end);
    FUZZ_CHECK(!memcmp(memio_bytes(m), before, UNLOGGED_END),
               "replay wrote the file identifier or a header");
    FUZZ_CHECK(!memcmp(memio_bytes(m) + b->log_offset,
                       before + b->log_offset, b->log_length),
               "replay wrote the log");
}

/* A copy of @f's bytes in @copy, a buffer kept for the next execution */
static const uint8_t *snapshot(FuzzIO *f, GByteArray **copy)
{
    if (!*copy) {
        *copy = g_byte_array_new();
    }
    g_byte_array_set_size(*copy, 0);
    g_byte_array_append(*copy, fuzz_io_bytes(f), fuzz_io_size(f));
    return (*copy)->data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static GByteArray *before_buf, *once_buf;
    const Base *b = base_get();
    g_autoptr(FuzzIO) f = fuzz_io_new(memio_size(b->m));
    const uint8_t *before, *once;
    size_t size_before, size_once;
    bool needed, replayed;
    GError *err = NULL;
    uint64_t home_end;
    int ret;

    memcpy(fuzz_io_bytes(f), memio_bytes(b->m), memio_size(b->m));
    place_input(f->m, b, data, size);
    size_before = fuzz_io_size(f);
    before = snapshot(f, &before_buf);
    home_end = log_home_end(before + b->log_offset, b->log_length);

    ret = vhdx_log_needs_replay(fuzz_io(f), b->log_offset, b->log_length,
                                &fuzz_log_guid, &needed, &err);
    FUZZ_CHECK(ret == 0, "looking at the log failed: %s", err->message);
    FUZZ_CHECK(f->m->writes == 0 && f->m->truncates == 0,
               "looking at the log wrote to the file");

    if (replay(f, b, &replayed) < 0) {
        check_untouched(f->m, b, before, size_before, home_end);
        return 0;
    }
    FUZZ_CHECK(replayed == needed, "needs_replay said %d, replay did %d",
               needed, replayed);
    check_untouched(f->m, b, before, size_before, home_end);

    size_once = fuzz_io_size(f);
    once = snapshot(f, &once_buf);
    FUZZ_CHECK(replay(f, b, &replayed) == 0 && replayed == needed,
               "a second replay differs from the first");
    FUZZ_CHECK(fuzz_io_size(f) == size_once &&
               !memcmp(fuzz_io_bytes(f), once, size_once),
               "replaying twice changed what replaying once wrote");
    return 0;
}
