#ifndef BASALT_CSNAPPY_SHIM_H
#define BASALT_CSNAPPY_SHIM_H
#include <snappy-c.h>
#endif
