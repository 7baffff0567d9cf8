/*
 * Small assertions shared by the unit tests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_TEST_UTIL_H
#define VHDX_TEST_UTIL_H

#include <glib.h>

/*
 * Asserts that a call failed with -@errnum (@ret) and a GError of that
 * code whose message contains @needle.
 */
void assert_vhdx_error(GError *err, int ret, int errnum, const char *needle);

#endif /* VHDX_TEST_UTIL_H */
