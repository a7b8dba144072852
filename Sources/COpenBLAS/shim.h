#ifndef SWIFTPS_COPENBLAS_SHIM_H
#define SWIFTPS_COPENBLAS_SHIM_H
/* Debian's openblas.pc points at the OpenBLAS cblas.h (the generic `blas` one differs). */
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
#endif
