import SwiftPSCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built-in task: Gaussian inputs labelled by a fixed random "teacher" network (inputs → 2*inputs tanh → classes,
/// argmax).
///
/// Everything is a function of the seed. Two adjustments, both fitted on a calibration sample from the teacher's own
/// stream, make it a fair benchmark: per-class output offsets make the classes about equally frequent (a random
/// teacher lets a few classes dominate, and always guessing them would look like learning), and the 60% of inputs
/// whose two best logits are closest are dropped (so many inputs sit near a decision boundary otherwise that the
/// default 64→512→512→10 job stops near 71% after three epochs; with the margin it reaches about 92%). Train and test
/// come from disjoint streams of the same distribution, and asking for more samples only extends a stream.
public enum TeacherTask {
    /// The train and test sets of the task that `seed` defines; generating 48k + 8k samples of 64 inputs takes
    /// about 0.2 s in release builds.
    public static func make(seed: UInt64, inputs: Int, classes: Int, train: Int,
                            test: Int) -> (train: Dataset, test: Dataset) {
        precondition(inputs > 0 && classes > 1 && train >= 0 && test >= 0, "invalid task shape")
        let teacher = Teacher(seed: seed, inputs: inputs, classes: classes)
        return (teacher.sample(count: train, stream: SplitMix64.mix(seed ^ Salt.train)),
                teacher.sample(count: test, stream: SplitMix64.mix(seed ^ Salt.test)))
    }

    /// Distinct generator streams derived from one seed.
    enum Salt {
        static let weights: UInt64 = 0x5445_4143_4845_5257
        static let calibration: UInt64 = 0x4341_4C49_4252_4154
        static let train: UInt64 = 0x5452_4149_4E49_4E47
        static let test: UInt64 = 0x5445_5354_494E_4721
    }
}

/// The labelling network `tanh(x·W1 + b1)·W2 + b2`, argmax, and the margin a kept input must clear.
private struct Teacher {
    let inputs: Int, hidden: Int, classes: Int
    let w1: [Float], b1: [Float], w2: [Float]
    /// Per-class offsets chosen so that the classes are about equally frequent.
    let b2: [Float]
    /// Smallest gap between the best and second-best logit of a kept input.
    let margin: Float

    /// Inputs used to fit `b2` and `margin`.
    static let calibrationSamples = 4096
    /// Share of Gaussian inputs dropped for lying too close to a decision boundary.
    static let rejectedShare = 0.6
    /// Candidates labelled per teacher pass.
    static let block = 1024

    init(seed: UInt64, inputs: Int, classes: Int) {
        self.inputs = inputs
        self.hidden = 2 * inputs
        self.classes = classes
        var rng = SplitMix64(seed: SplitMix64.mix(seed ^ TeacherTask.Salt.weights))
        // Hidden pre-activations have about unit variance: tanh is neither linear nor saturated.
        w1 = gaussians(count: inputs * hidden, scale: 1 / Float(inputs).squareRoot(), rng: &rng)
        b1 = gaussians(count: hidden, scale: 0.5, rng: &rng)
        w2 = gaussians(count: hidden * classes, scale: 1 / Float(hidden).squareRoot(), rng: &rng)

        var calibration = SplitMix64(seed: SplitMix64.mix(seed ^ TeacherTask.Salt.calibration))
        let n = Teacher.calibrationSamples
        let x = gaussians(count: n * inputs, scale: 1, rng: &calibration)
        let z = Teacher.logits(x, count: n, inputs: inputs, hidden: hidden, classes: classes, w1: w1, b1: b1, w2: w2)
        (b2, margin) = calibrate(logits: z, count: n, classes: classes, rejectedShare: Teacher.rejectedShare)
    }

    /// The first `count` candidates of `stream` that clear the margin.
    func sample(count: Int, stream: UInt64) -> Dataset {
        var rng = SplitMix64(seed: stream)
        var features: [Float] = [], labels: [Int32] = []
        features.reserveCapacity(count * inputs)
        labels.reserveCapacity(count)
        while labels.count < count {
            let x = gaussians(count: Teacher.block * inputs, scale: 1, rng: &rng)
            let z = Teacher.logits(x, count: Teacher.block, inputs: inputs, hidden: hidden, classes: classes,
                                   w1: w1, b1: b1, w2: w2)
            z.withUnsafeBufferPointer { z in
                for row in 0..<Teacher.block where labels.count < count {
                    let (label, gap) = best(z.baseAddress! + row * classes, offsets: b2)
                    guard gap >= margin else { continue }
                    labels.append(Int32(label))
                    features.append(contentsOf: x[(row * inputs)..<((row + 1) * inputs)])
                }
            }
        }
        return Dataset(inputs: inputs, classes: classes, features: features, labels: labels)
    }

    /// `tanh(x·W1 + b1)·W2` for `count` rows (without `b2`).
    static func logits(_ x: [Float], count: Int, inputs: Int, hidden: Int, classes: Int,
                       w1: [Float], b1: [Float], w2: [Float]) -> [Float] {
        var h = [Float](repeating: 0, count: count * hidden)
        for row in 0..<count { h.replaceSubrange((row * hidden)..<((row + 1) * hidden), with: b1) }
        var z = [Float](repeating: 0, count: count * classes)
        h.withUnsafeMutableBufferPointer { h in
            gemm(m: count, n: hidden, k: inputs, a: x, lda: inputs, b: w1, ldb: hidden, beta: 1,
                 c: h.baseAddress!, ldc: hidden)
            // tanh via expf: glibc's tanhf (through expm1f) was most of the generation time.
            for i in h.indices { h[i] = 1 - 2 / (expf(2 * h[i]) + 1) }
            z.withUnsafeMutableBufferPointer { z in
                gemm(m: count, n: classes, k: hidden, a: h.baseAddress!, lda: hidden, b: w2, ldb: classes, beta: 0,
                     c: z.baseAddress!, ldc: classes)
            }
        }
        return z
    }
}

/// Per-class offsets and a margin such that `rejectedShare` of the calibration inputs fall within the margin and each
/// class wins about `1/classes` of the rest: repeatedly lower the offsets of classes that win too many kept inputs
/// and raise the others, by shrinking steps relative to the logits' spread.
private func calibrate(logits: [Float], count: Int, classes: Int,
                       rejectedShare: Double) -> (offsets: [Float], margin: Float) {
    let mean = logits.reduce(0, +) / Float(logits.count)
    let spread = (logits.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(logits.count)).squareRoot()
    let target = Double(count) * (1 - rejectedShare) / Double(classes)
    var offsets = [Float](repeating: 0, count: classes), margin: Float = 0
    logits.withUnsafeBufferPointer { z in
        for round in 0...100 {
            let scores = (0..<count).map { best(z.baseAddress! + $0 * classes, offsets: offsets) }
            margin = scores.map(\.gap).sorted()[Int(rejectedShare * Double(count))]
            guard round < 100 else { break }
            var counts = [Int](repeating: 0, count: classes)
            for score in scores where score.gap >= margin { counts[score.index] += 1 }
            let step = spread * 0.1 / Float(1 + round / 20)
            for c in 0..<classes {
                let error = log((Double(counts[c]) + 1) / (target + 1))
                offsets[c] -= step * Float(max(-1, min(1, error)))
            }
        }
    }
    return (offsets, margin)
}

/// The index of the largest `row[j] + offsets[j]` (the first on ties) and its lead over the runner-up.
@inline(__always)
private func best(_ row: UnsafePointer<Float>, offsets: [Float]) -> (index: Int, gap: Float) {
    var index = 0, first = row[0] + offsets[0], second = -Float.infinity
    for j in 1..<offsets.count {
        let value = row[j] + offsets[j]
        if value > first {
            (index, first, second) = (j, value, first)
        } else if value > second {
            second = value
        }
    }
    return (index, first - second)
}

/// `count` normal samples times `scale`, two per Box–Muller draw, in Float (this is the bulk of generation).
private func gaussians(count: Int, scale: Float, rng: inout SplitMix64) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        var i = 0
        while i < count {
            let bits = rng.next()
            // Two 24-bit uniforms from one draw; (k + 0.5)/2^24 is never 0, so the log is finite.
            let u1 = (Float(bits >> 40) + 0.5) * 0x1.0p-24, u2 = (Float(bits & 0xFF_FFFF) + 0.5) * 0x1.0p-24
            let radius = scale * (-2 * logf(u1)).squareRoot(), angle = 2 * Float.pi * u2
            buffer[i] = radius * cosf(angle)
            if i + 1 < count { buffer[i + 1] = radius * sinf(angle) }
            i += 2
        }
        initialized = count
    }
}
