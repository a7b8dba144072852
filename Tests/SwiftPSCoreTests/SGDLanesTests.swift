import Testing
import SwiftPSCore
import CKernels

/// SGD and momentum run eight lanes at a time plus a scalar tail, with AVX where the CPU has it: every path must give
/// the textbook rule's bits, so BSP's reproducibility does not depend on the CPU a server runs on.
@Suite struct SGDLanesTests {
    @Test(arguments: [8, 37, 4099]) func sgdGivesTheScalarRulesBitsOnEveryPath(count: Int) {
        var rng = SplitMix64(seed: UInt64(count))
        let start = (0..<count).map { _ in Float(rng.nextNormal()) }
        let g = (0..<count).map { _ in Float(rng.nextNormal()) * 0.1 }
        let (lr, wd): (Float, Float) = (0.05, 0.01)
        let expected = zip(start, g).map { w, g in w - lr * (g + wd * w) }
        var fast = start, portable = start
        swiftps_sgd(&fast, g, count, lr, wd)
        swiftps_sgd_portable(&portable, g, count, lr, wd)
        #expect(fast.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(portable.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test(arguments: [8, 37, 4099]) func momentumGivesTheScalarRulesBitsOnEveryPath(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) &* 5)
        let start = (0..<count).map { _ in Float(rng.nextNormal()) }
        let velocity = (0..<count).map { _ in Float(rng.nextNormal()) * 0.01 }
        let g = (0..<count).map { _ in Float(rng.nextNormal()) * 0.1 }
        let (lr, mu, wd): (Float, Float, Float) = (0.05, 0.9, 0.01)
        let expectedV = (0..<count).map { mu * velocity[$0] + (g[$0] + wd * start[$0]) }
        let expectedW = (0..<count).map { start[$0] - lr * expectedV[$0] }
        for kernel in [swiftps_momentum, swiftps_momentum_portable] {
            var w = start, v = velocity
            kernel(&w, &v, g, count, lr, mu, wd)
            #expect(w.map(\.bitPattern) == expectedW.map(\.bitPattern))
            #expect(v.map(\.bitPattern) == expectedV.map(\.bitPattern))
        }
    }
}
