/*
 * Small assertions shared by the unit tests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx-test-util.h"

#include <string.h>

void assert_vhdx_error(GError *err, int ret, int errnum, const char *needle)
{
    g_assert_cmpint(ret, ==, -errnum);
    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, errnum);
    if (!strstr(err->message, needle)) {
        g_error("\"%s\" not found in \"%s\"", needle, err->message);
    }
}
