#ifndef BASALT_CLIBUV_SHIM_H
#define BASALT_CLIBUV_SHIM_H
#include <uv.h>

#endif
