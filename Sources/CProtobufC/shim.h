#ifndef SWIFTPS_CPROTOBUFC_SHIM_H
#define SWIFTPS_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
