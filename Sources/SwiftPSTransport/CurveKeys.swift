internal import CZeroMQ
import Foundation
import SwiftPSCore

/// A CurveZMQ key pair, as Z85 text (40 characters each): what libzmq's socket options take.
public struct CurveKeyPair: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String

    /// A fresh key pair from libzmq (libsodium's randomness).
    public static func generate() throws(SwiftPSError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41), secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw zmqError("zmq_curve_keypair (is libzmq built with CURVE?)", code: .unimplemented)
        }
        return CurveKeyPair(publicKey: z85Text(publicKey), secretKey: z85Text(secretKey))
    }

    /// The pair of a secret key, its public key derived.
    public init(secretKey: String) throws(SwiftPSError) {
        try CurveKeyPair.requireZ85Key(secretKey, what: "secret key")
        var publicKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicKey, secretKey) == 0 else { throw zmqError("zmq_curve_public") }
        self.init(publicKey: Self.z85Text(publicKey), secretKey: secretKey)
    }

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Checks that `text` is a Z85-encoded 32-byte key.
    static func requireZ85Key(_ text: String, what: String) throws(SwiftPSError) {
        var decoded = [UInt8](repeating: 0, count: 32)
        guard text.utf8.count == 40, zmq_z85_decode(&decoded, text) != nil else {
            throw SwiftPSError(.invalidArgument, "\(what) is not a Z85-encoded 32-byte key (40 characters)")
        }
    }

    /// The Z85 text of a 32-byte binary key (as ZAP hands client keys over).
    static func z85(_ key: UnsafeRawBufferPointer) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, key.bindMemory(to: UInt8.self).baseAddress, 32) != nil else { return nil }
        return z85Text(text)
    }

    /// The text of a NUL-terminated 41-byte Z85 buffer.
    private static func z85Text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether the linked libzmq can do CurveZMQ.
    public static var isAvailable: Bool { zmq_has("curve") == 1 }
}

/// What a key lets its holder do: every client key is marked with one role.
public enum KeyRole: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Registers as a parameter server.
    case server
    /// Registers as a worker, declares the parameter space, pushes and pulls.
    case worker
    /// Reads the cluster's status (`swiftps status`).
    case `operator`

    public var description: String { rawValue }
}

/// An authenticated peer: the role and name of the client key it connected with (from ZAP's User-Id).
public struct Peer: Sendable, Hashable, CustomStringConvertible {
    public var role: KeyRole
    /// The key's name, e.g. `worker` or `worker-3` (its file name in the key directory).
    public var name: String

    public init(role: KeyRole, name: String) {
        self.role = role
        self.name = name
    }

    /// `role:name`, as the ZAP handler writes it into the User-Id.
    public var description: String { "\(role):\(name)" }

    init?(userID: String) {
        let parts = userID.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let role = KeyRole(rawValue: parts[0]) else { return nil }
        self.init(role: role, name: parts[1])
    }
}
