import SwiftPSCore

/// How a process's sockets authenticate and encrypt: one value handed to `RPCServer` and `RPCClient`, which set
/// their sockets up from it; handlers never see it, only the `Peer` each request came from.
///
/// Open (the default) is plaintext with no authentication: anyone who reaches a port may call anything. With keys,
/// every connection is CurveZMQ (authenticated and encrypted); a server admits only the client keys it knows, through
/// a ZAP handler, and tells its handler each request's key role and name.
public struct TransportSecurity: Sendable {
    /// A CURVE server's own key pair and the client keys it admits (Z85 public key → who holds it).
    public struct Serving: Sendable {
        public var keyPair: CurveKeyPair
        public var clients: [String: Peer]

        public init(keyPair: CurveKeyPair, clients: [String: Peer]) {
            self.keyPair = keyPair
            self.clients = clients
        }
    }

    /// A CURVE client's key pair and the public key of the servers it connects to.
    public struct Connecting: Sendable {
        public var serverPublicKey: String
        public var keyPair: CurveKeyPair

        public init(serverPublicKey: String, keyPair: CurveKeyPair) {
            self.serverPublicKey = serverPublicKey
            self.keyPair = keyPair
        }
    }

    /// For the process's `RPCServer`; nil: open.
    public var serving: Serving?
    /// For the process's `RPCClient`s; nil: open.
    public var connecting: Connecting?

    public init(serving: Serving? = nil, connecting: Connecting? = nil) {
        self.serving = serving
        self.connecting = connecting
    }

    /// No authentication, no encryption.
    public static let open = TransportSecurity()

    public var isOpen: Bool { serving == nil && connecting == nil }

    /// Says once, at start, that anyone who reaches this process's ports can act in the job.
    public func logIfOpen(_ log: Log) {
        guard isOpen else { return }
        log.info("the cluster is open (no --keys): any process that reaches these ports can join, push, pull or end "
                 + "the job; create keys with `swiftps keygen --out DIR` and pass --keys DIR to every role")
    }

    /// What the key directory gives a process of `role`: coordinators and servers serve with the cluster key and
    /// admit every client key in the directory; servers, workers and operators connect with the client key `keyName`
    /// (default: the role's own, e.g. `worker`), which must be a key of that role.
    public static func load(_ directory: KeyDirectory, for role: ProcessRole,
                            keyName: String? = nil) throws(SwiftPSError) -> TransportSecurity {
        var security = TransportSecurity()
        if role == .coordinator || role == .server {
            security.serving = Serving(keyPair: try directory.keyPair("cluster"), clients: try directory.clients())
        }
        if let roleKey = role.clientKey {
            let name = keyName ?? roleKey
            guard name == roleKey || name.hasPrefix(roleKey + "-") else {
                throw SwiftPSError(.invalidArgument, "key '\(name)' is not one of the \(roleKey) role's (\(roleKey) or \(roleKey)-NAME)")
            }
            security.connecting = Connecting(serverPublicKey: try directory.publicKey("cluster"),
                                             keyPair: try directory.keyPair(name))
        }
        return security
    }

    /// The processes of a cluster, for choosing their keys.
    public enum ProcessRole: Sendable {
        case coordinator, server, worker, `operator`

        /// The client key the process connects with; the coordinator connects to no one.
        var clientKey: String? {
            switch self {
            case .coordinator: nil
            case .server: "server"
            case .worker: "worker"
            case .operator: "operator"
            }
        }
    }
}
