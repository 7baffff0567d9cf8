/* placeholder: the QEMU glue is being written */
#include "qemu/osdep.h"
