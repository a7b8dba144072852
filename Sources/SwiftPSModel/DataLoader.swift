import Foundation
import SwiftPSCore

/// Reads labelled data sets from files: MNIST IDX, NumPy .npy, CSV.
///
/// Each loader reads whole files into memory and checks them completely before building a `Dataset`, so a bad file
/// fails at load time with a message a user can act on rather than as a crash or a silently wrong model later. Every
/// failure is a `SwiftPSError` with code `.invalidArgument` whose message starts with the file's path, then the
/// problem: `data/train-images-idx3-ubyte: truncated: header says 60000 images of 28×28, file holds 1234 bytes of
/// pixels`.
///
/// `classes` is the largest label plus one (at least 2): a train and a test file loaded separately can therefore
/// disagree when the test file lacks the top class; callers that need one count should take the larger.
public enum DataLoader {}

extension DataLoader {
    /// The error for `problem` in the file at `path`.
    static func invalid(_ path: String, _ problem: String) -> SwiftPSError {
        SwiftPSError(.invalidArgument, "\(path): \(problem)")
    }

    /// The whole file at `path`; a missing file, a directory or a read error is an `.invalidArgument` naming it.
    static func contents(of path: String) throws(SwiftPSError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw invalid(path, "no such file")
        }
        guard !isDirectory.boolValue else { throw invalid(path, "is a directory, not a file") }
        do {
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw invalid(path, "cannot read: \(error.localizedDescription)")
        }
    }

    /// The class count of `labels` (all non-negative): the largest label plus one, and at least 2.
    static func classCount(of labels: [Int32]) -> Int {
        max(2, Int(labels.max() ?? 0) + 1)
    }

    /// The product of `factors` (sizes from a file header), or nil when it overflows `Int`.
    static func product(_ factors: [Int]) -> Int? {
        var product = 1
        for factor in factors {
            let (next, overflow) = product.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            product = next
        }
        return product
    }

    /// `count` bytes of `bytes` from `offset`, each divided by 255: exactly `Float(byte) / 255`, looked up in a
    /// table rather than divided per byte (MNIST's training set has 47 million pixels).
    static func unitScaled(_ bytes: [UInt8], from offset: Int, count: Int) -> [Float] {
        precondition(offset >= 0 && count >= 0 && offset + count <= bytes.count)
        let table = (0..<256).map { Float($0) / 255 }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBufferPointer { source in
                table.withUnsafeBufferPointer { table in
                    for index in 0..<count { out[index] = table[Int(source[offset + index])] }
                }
            }
            initialized = count
        }
    }
}
