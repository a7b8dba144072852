#if canImport(Glibc)
import Glibc
#endif
import SwiftPSCore

/// The address a server gives to others: never a wildcard, and never loopback to a peer on another host.
public enum AdvertisedAddress {
    /// - Parameters:
    ///   - bound: the endpoint actually bound, e.g. `tcp://0.0.0.0:41234`.
    ///   - host: an explicit host to advertise (`--advertise`), used as given.
    ///   - peer: the coordinator's endpoint; for a wildcard bind, the local address that routes to it is used.
    public static func resolve(bound: String, host: String?, peer: String) throws(SwiftPSError) -> String {
        guard let (boundHost, port) = split(bound) else {
            throw SwiftPSError(.invalidArgument, "cannot read the bound endpoint \(bound)")
        }
        if let host { return "tcp://\(host):\(port)" }
        guard boundHost == "0.0.0.0" || boundHost == "*" || boundHost == "[::]" else { return bound }
        guard let (peerHost, peerPort) = split(peer), let local = localAddress(routingTo: peerHost, port: peerPort) else {
            throw SwiftPSError(.invalidArgument, "cannot tell which local address reaches \(peer); pass --advertise")
        }
        return "tcp://\(local):\(port)"
    }

    /// `tcp://HOST:PORT` → (HOST, PORT).
    static func split(_ endpoint: String) -> (String, String)? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
        let host = String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon])
        return (host, String(endpoint[endpoint.index(after: colon)...]))
    }

    /// The source address the kernel picks for a UDP "connection" to the host (no packet is sent).
    static func localAddress(routingTo host: String, port: String) -> String? {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &result) == 0, let info = result else { return nil }
        defer { freeaddrinfo(result) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { return nil }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &local.sin_addr, &text, socklen_t(text.count)) != nil else { return nil }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
