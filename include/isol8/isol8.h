#pragma once
// Umbrella header of the isol8 library.

#include "isol8/config.h"
#include "isol8/engine.h"
#include "isol8/json.h"
#include "isol8/result.h"
#include "isol8/types.h"
#include "isol8/version.h"
