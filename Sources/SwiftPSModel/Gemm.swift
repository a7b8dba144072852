internal import COpenBLAS

/// `C = op(A)·op(B) + beta·C` on row-major matrices, where `op(X)` is `Xᵀ` when its flag is set; the only path to
/// `cblas_sgemm`, so no C type leaks out of this file.
/// - Parameters:
///   - m, n, k: `op(A)` is `m × k`, `op(B)` is `k × n`, `C` is `m × n`.
///   - lda, ldb, ldc: row strides of the matrices as stored (before any transpose).
@inline(__always)
func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), 1, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// Sets OpenBLAS's thread pool size.
func setOpenBLASThreads(_ count: Int) {
    openblas_set_num_threads(Int32(count))
}
