/* placeholder: being written */
#include "vhdx/format.h"
