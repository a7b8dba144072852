internal import CSodium
import Foundation
import SwiftPSCore

/// libsodium's XSalsa20-Poly1305 (`crypto_secretbox`) over a message, in bytes per second: the work CurveZMQ does on
/// every message's bytes, measured alone, next to which `bench transport --security curve` shows CurveZMQ's cost.
enum SecretboxBaseline {
    /// Messages of `bytes` encrypted per second, on this thread.
    static func rate(bytes: Int, duration: Duration) -> Double {
        precondition(swiftps_sodium_init() >= 0, "libsodium failed to initialise")
        let message = [UInt8](repeating: 0x5A, count: bytes)
        var box = [UInt8](repeating: 0, count: bytes + Int(swiftps_secretbox_overhead()))
        let end = ContinuousClock.now + duration, start = ContinuousClock.now
        var count = 0
        while ContinuousClock.now < end {
            _ = message.withUnsafeBufferPointer { m in
                box.withUnsafeMutableBufferPointer { swiftps_secretbox($0.baseAddress, m.baseAddress, UInt64(bytes)) }
            }
            count += 1
        }
        return Double(count) / (ContinuousClock.now - start).seconds
    }

    /// memcpy of the same bytes, per second: the copy every transport makes at least once.
    static func copyRate(bytes: Int, duration: Duration) -> Double {
        let source = [UInt8](repeating: 0x5A, count: bytes)
        var target = [UInt8](repeating: 0, count: bytes)
        let end = ContinuousClock.now + duration, start = ContinuousClock.now
        var count = 0
        while ContinuousClock.now < end {
            source.withUnsafeBytes { s in target.withUnsafeMutableBytes { $0.copyMemory(from: s) } }
            count += 1
        }
        return Double(count) / (ContinuousClock.now - start).seconds
    }
}
