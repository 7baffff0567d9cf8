/*
 * Shared by the libFuzzer harnesses of the format core
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-util.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *cond,
               const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FUZZ FINDING at %s:%d: %s\n    ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

void fuzz_check_error(int ret, GError **err, const char *what)
{
    GError *e = *err;

    FUZZ_CHECK(ret < 0, "%s failed with %d", what, ret);
    FUZZ_CHECK(e && e->message && e->message[0],
               "%s failed (%d) without a message", what, ret);
    FUZZ_CHECK((e->domain == VHDX_ERROR || e->domain == VHDX_IO_ERROR) &&
               e->code == -ret, "%s failed with %d but its error has code "
               "%d: %s", what, ret, e->code, e->message);
    g_clear_error(err);
}

void fuzz_take(FuzzInput *in, void *buf, size_t len)
{
    size_t n = MIN(len, fuzz_left(in));

    memcpy(buf, in->data + in->pos, n);
    memset((uint8_t *)buf + n, 0, len - n);
    in->pos += n;
}

uint8_t fuzz_u8(FuzzInput *in)
{
    uint8_t v;

    fuzz_take(in, &v, 1);
    return v;
}

uint16_t fuzz_u16(FuzzInput *in)
{
    uint8_t b[2];

    fuzz_take(in, b, sizeof(b));
    return vhdx_ld16(b);
}

uint32_t fuzz_u32(FuzzInput *in)
{
    uint8_t b[4];

    fuzz_take(in, b, sizeof(b));
    return vhdx_ld32(b);
}

