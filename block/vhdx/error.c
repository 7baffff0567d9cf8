/*
 * Error reporting of the VHDX format core
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/error.h"

GQuark vhdx_error_quark(void)
{
    return g_quark_from_static_string("vhdx-error-quark");
}

GQuark vhdx_io_error_quark(void)
{
    return g_quark_from_static_string("vhdx-io-error-quark");
}

static int G_GNUC_PRINTF(4, 0)
error_set_valist(GError **errp, GQuark domain, int errnum, const char *fmt,
                 va_list ap)
{
    g_assert(errnum > 0);
    if (errp && !*errp) {
        *errp = g_error_new_valist(domain, errnum, fmt, ap);
    }
    return -errnum;
}

int vhdx_error(GError **errp, int errnum, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = error_set_valist(errp, VHDX_ERROR, errnum, fmt, ap);
    va_end(ap);
    return ret;
}

int vhdx_io_error(GError **errp, int errnum, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = error_set_valist(errp, VHDX_IO_ERROR, errnum, fmt, ap);
    va_end(ap);
    return ret;
}

void vhdx_error_prefix(GError **errp, const char *fmt, ...)
{
    g_autofree char *prefix = NULL;
    va_list ap;

    if (!errp || !*errp) {
        return;
    }
    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_prefix_error(errp, "%s", prefix);
}
