import SwiftPSCore

/// The shape of one row-major `cblas_sgemm` call, `C = op(A)·op(B) + beta·C`, with operands stored densely
/// (leading dimensions are the stored row lengths).
///
/// Public so that a benchmark can time BLAS alone on exactly the products an `MLP` step makes: the floor that the
/// step's own time is compared with.
public struct SgemmShape: Sendable, Hashable, CustomStringConvertible {
    public var transposeA: Bool
    public var transposeB: Bool
    /// `op(A)` is `m × k`, `op(B)` is `k × n`, `C` is `m × n`.
    public var m: Int
    public var n: Int
    public var k: Int
    public var beta: Float

    public init(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, beta: Float) {
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.m = m
        self.n = n
        self.k = k
        self.beta = beta
    }

    /// Multiply-adds count two flops each (the convention of GFLOP/s figures for sgemm).
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    public var description: String {
        "\(m)×\(k)\(transposeA ? "ᵀ" : "")·\(k)×\(n)\(transposeB ? "ᵀ" : "")"
    }
}

/// Operands for a list of sgemm shapes, allocated and filled once; `run()` makes each call once and nothing else.
///
/// Every product has operands of its own, where an `MLP` step shares some (a layer's output is the next layer's
/// input): the extra footprint costs the big products, which are compute-bound, next to nothing. Not thread-safe.
public final class SgemmWorkload {
    public let shapes: [SgemmShape]
    private let operands: [(a: FloatBuffer, b: FloatBuffer, c: FloatBuffer)]

    /// - Parameter seed: operands are uniform in [-0.5, 0.5) from this seed, so products with beta 1 random-walk
    ///   instead of growing, and no subnormal ever appears.
    public init(_ shapes: [SgemmShape], seed: UInt64 = 1) {
        self.shapes = shapes
        var random = SplitMix64(seed: seed)
        func filled(_ count: Int) -> FloatBuffer {
            let buffer = FloatBuffer(count: count)
            for i in 0..<count { buffer.pointer[i] = Float(random.next() >> 40) * 0x1p-24 - 0.5 }
            return buffer
        }
        operands = shapes.map { (filled($0.m * $0.k), filled($0.k * $0.n), filled($0.m * $0.n)) }
    }

    public var flops: Double { shapes.reduce(0) { $0 + $1.flops } }

    /// Makes every call once, in order.
    public func run() {
        for (shape, operand) in zip(shapes, operands) {
            gemm(transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n, k: shape.k,
                 a: operand.a.pointer, lda: shape.transposeA ? shape.m : shape.k,
                 b: operand.b.pointer, ldb: shape.transposeB ? shape.k : shape.n,
                 beta: shape.beta, c: operand.c.pointer, ldc: shape.n)
        }
    }
}

extension MLP {
    /// The sgemm calls one `lossAndGradients` on `batch` samples makes, in order (dW with beta 0; an accumulating
    /// part's beta 1 costs the same).
    ///
    /// Mirrors `forward` (per layer `Z = A·W`, beta 1 onto the copied bias) and `backward` (from the last layer
    /// down: `dW = Aᵀ·dZ`, then `dA = dZ·Wᵀ` for every layer but the first, whose input needs no gradient).
    public func sgemmShapes(batch: Int) -> [SgemmShape] {
        let layers = layerSizes.count - 1
        var shapes: [SgemmShape] = []
        for layer in 0..<layers {
            shapes.append(SgemmShape(m: batch, n: layerSizes[layer + 1], k: layerSizes[layer], beta: 1))
        }
        for layer in stride(from: layers - 1, through: 0, by: -1) {
            let fanIn = layerSizes[layer], fanOut = layerSizes[layer + 1]
            shapes.append(SgemmShape(transposeA: true, m: fanIn, n: fanOut, k: batch, beta: 0))
            if layer > 0 {
                shapes.append(SgemmShape(transposeB: true, m: batch, n: fanIn, k: fanOut, beta: 0))
            }
        }
        return shapes
    }
}
