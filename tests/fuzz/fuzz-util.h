/*
 * Shared by the libFuzzer harnesses of the format core: the entry point,
 * findings, and reading a fuzz input field by field
 *
 * A harness must never abort on bad input: the core returns errors.  Only
 * a crash, a sanitizer report, a leak or a violated expectation of the
 * harness (FUZZ_CHECK) is a finding.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_UTIL_H
#define VHDX_FUZZ_UTIL_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* What libFuzzer, or tests/fuzz/fuzz-replay-main.c, calls */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a violated expectation and aborts: a finding */
void fuzz_fail(const char *file, int line, const char *cond,
               const char *fmt, ...) G_GNUC_PRINTF(4, 5) G_GNUC_NORETURN;

#define FUZZ_CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
        } \
    } while (0)

/*
 * A fuzz input read front to back.  Reading past its end yields zeros,
 * so a short input is still a complete one.
 */
typedef struct FuzzInput {
    const uint8_t *data;
    size_t size;
    size_t pos;
} FuzzInput;

static inline size_t fuzz_left(const FuzzInput *in)
{
    return in->size - in->pos;
}

/*
 * A core call named @what failed with @ret: vhdx/error.h promises a
 * negative errno and a GError with a message, in one of the core's
 * domains, whose code is that errno.  Clears *@err.
 */
void fuzz_check_error(int ret, GError **err, const char *what);

void fuzz_take(FuzzInput *in, void *buf, size_t len);
uint8_t fuzz_u8(FuzzInput *in);
uint16_t fuzz_u16(FuzzInput *in);
uint32_t fuzz_u32(FuzzInput *in);

#endif /* VHDX_FUZZ_UTIL_H */
