/*
 * libFuzzer harness: the parent locator
 *
 * The input is a parent locator item.  What decodes must encode again,
 * and decode to the same entries; what encodes must be no longer than
 * what it came from (every string has bytes of its own in a valid item).
 * A decoded VHDX locator is also read as a parent reference.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-util.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx/locator.h"
#include "vhdx/parent.h"

#include <string.h>

static void check_same(const VhdxLocator *a, const VhdxLocator *b)
{
    FUZZ_CHECK(vhdx_guid_equal(&a->type, &b->type), "the type changed");
    FUZZ_CHECK(a->count == b->count, "%zu entries became %zu", a->count,
               b->count);
    for (size_t i = 0; i < a->count; i++) {
        FUZZ_CHECK(!strcmp(a->entries[i].key, b->entries[i].key) &&
                   !strcmp(a->entries[i].value, b->entries[i].value),
                   "entry %zu changed", i);
    }
}

/* Every key can be found again, and finds its own value */
static void check_lookup(const VhdxLocator *loc)
{
    for (size_t i = 0; i < loc->count; i++) {
        FUZZ_CHECK(vhdx_locator_get(loc, loc->entries[i].key) ==
                   loc->entries[i].value, "key %zu not found", i);
    }
}

static void read_as_parent(const VhdxLocator *loc)
{
    VhdxParentRef ref;
    GError *err = NULL;

    if (vhdx_parent_ref_init(&ref, loc, &err) < 0) {
        g_error_free(err);
        return;
    }
    for (guint i = 0; i < ref.candidates->len; i++) {
        const VhdxParentCandidate *c =
            &g_array_index(ref.candidates, VhdxParentCandidate, i);

        FUZZ_CHECK(c->path && c->source && strlen(c->path) < 1u << 20,
                   "parent candidate %u", i);
    }
    vhdx_parent_ref_clear(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree uint8_t *buf = NULL;
    VhdxLocator loc, again;
    GError *err = NULL;
    size_t len;

    if (vhdx_locator_decode(data, size, &loc, &err) < 0) {
        FUZZ_CHECK(err && err->message[0], "decode failed without a message");
        g_error_free(err);
        return 0;
    }
    check_lookup(&loc);
    if (vhdx_locator_encode(&loc, &buf, &len, &err) < 0) {
        /* Only an item too large for a metadata item may not encode */
        FUZZ_CHECK(size > VHDX_METADATA_ITEM_MAX, "%s", err->message);
        g_error_free(err);
        vhdx_locator_clear(&loc);
        return 0;
    }
    FUZZ_CHECK(len <= size, "%zu bytes encode into %zu", size, len);
    FUZZ_CHECK(vhdx_locator_decode(buf, len, &again, &err) == 0,
               "re-encoded item does not decode: %s", err->message);
    check_same(&loc, &again);
    read_as_parent(&loc);
    vhdx_locator_clear(&again);
    vhdx_locator_clear(&loc);
    return 0;
}
