import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// The ParameterServer service as seen by a worker: push gradients, pull values, or both in one round trip.
public final class ParameterServerClient: Sendable {
    public let endpoint: String
    private let rpc: RPCClient

    /// - Parameters:
    ///   - security: CurveZMQ keys for a keyed cluster (`TransportSecurity`); open by default.
    ///   - maxPayloadInFlight: the most request payload bytes sent to the server and not yet answered; nil: no limit.
    ///   - releaseWhenTaken: with a limit, started calls hold their bytes until the caller takes the reply, which it
    ///     must then do in the order it started them. See `RPCClient.init`.
    public init(context: ZMQContext, endpoint: String, security: TransportSecurity = .open, maxPayloadInFlight: Int? = nil,
                releaseWhenTaken: Bool = false) throws(SwiftPSError) {
        self.endpoint = endpoint
        rpc = try RPCClient(context: context, endpoint: endpoint, security: security, maxPayloadInFlight: maxPayloadInFlight,
                            releaseWhenTaken: releaseWhenTaken)
    }

    public func close() async { await rpc.close() }

    /// Fails the calls in flight at once (see `RPCClient.abort`).
    public func abort() { rpc.abort() }

    /// Applies `gradients` on the server; returns each key's new version.
    ///
    /// Sent as requests within `RequestParts`' budgets (4 MiB, 8,192 tensors), `partsInFlight` of them at a time: the
    /// server validates and applies each while it is still in cache. It validates each request whole, so a refused
    /// one leaves its own keys unchanged (as a push over several servers does).
    public func push(_ gradients: [OutgoingTensor], timeout: Duration = .seconds(30)) async throws -> [UInt64] {
        var versions: [UInt64] = [], inFlight: [PendingCall] = []
        for part in RequestParts.ranges(byteCounts: gradients.map(\.payload.bytes.count)) {
            if inFlight.count == Self.partsInFlight {
                versions += try await inFlight.removeFirst().value().body(PushReply.self).versions
            }
            inFlight.append(startPush(Array(gradients[part]), timeout: timeout))
        }
        for call in inFlight { versions += try await call.value().body(PushReply.self).versions }
        return versions
    }

    /// How many parts of one large push are in flight together. More let a server fall behind the bytes arriving,
    /// which it then reads back from memory instead of cache: in a fresh process with 4 pushes at a time, a 64 MiB
    /// push reached 0.85 of the 4 MiB goodput with all 16 parts in flight, and about 1.0 with 4 (medians of 5).
    public static let partsInFlight = 4

    /// Queues one push request now and returns its reply to await later (`PushReply` in its body): pushes started
    /// one after another leave in that order, and a caller can keep many in flight from one task.
    public func startPush(_ gradients: [OutgoingTensor], timeout: Duration = .seconds(30)) -> PendingCall {
        rpc.start(.push, Empty(), tensors: gradients, timeout: timeout)
    }

    /// The current values of `keys` in `dtype`, read in place from the reply's frames.
    public func pull(_ keys: [UInt64], dtype: DType = .f32, timeout: Duration = .seconds(30)) async throws -> [ReceivedTensor] {
        try await rpc.call(.pull, PullRequest(keys: keys, dtype: dtype), timeout: timeout).tensors
    }

    /// Queues one pull now and returns its reply to await later (the values are its `tensors`): a caller can keep
    /// several parts of a large pull in flight and store each as it arrives.
    public func startPull(_ keys: [UInt64], dtype: DType = .f32, timeout: Duration = .seconds(30)) -> PendingCall {
        rpc.start(.pull, PullRequest(keys: keys, dtype: dtype), timeout: timeout)
    }

    /// Applies `gradients` as worker `rank`'s next clock, then returns the new values of the same keys in `dtype`,
    /// once the job's consistency model allows (BSP: when the round is complete), with the clock and its lag.
    /// - Parameters:
    ///   - last: the worker's final push; its clock stops holding the others back.
    ///   - more: more pushes of the same clock follow (a pipelined worker sends a step layer by layer).
    public func pushPull(_ gradients: [OutgoingTensor], dtype: DType = .f32, rank: UInt32 = 0, last: Bool = false,
                         more: Bool = false,
                         timeout: Duration = .seconds(30)) async throws -> (values: [ReceivedTensor], clock: PushPullReply) {
        try Self.pushPullResult(try await startPushPull(gradients, dtype: dtype, rank: rank, last: last, more: more,
                                                        timeout: timeout).value())
    }

    /// Queues one push-pull request now and returns its reply to await later (decode it with `pushPullResult`):
    /// push-pulls started one after another leave in that order, as a pipelined worker's parts of a clock must. The
    /// caller cuts large pushes into parts (`RequestParts`), each but the clock's last with `more`.
    public func startPushPull(_ gradients: [OutgoingTensor], dtype: DType = .f32, rank: UInt32 = 0, last: Bool = false,
                              more: Bool = false, timeout: Duration = .seconds(30)) -> PendingCall {
        rpc.start(.pushPull, PushPullRequest(dtype: dtype, workerRank: rank, last: last, more: more),
                  tensors: gradients, timeout: timeout)
    }

    public static func pushPullResult(_ reply: Reply) throws -> (values: [ReceivedTensor], clock: PushPullReply) {
        (reply.tensors, try reply.body(PushPullReply.self))
    }

    /// Sets the initial values of `values`' keys (only keys no update has changed yet).
    public func assign(_ values: [OutgoingTensor], timeout: Duration = .seconds(30)) async throws {
        _ = try await rpc.call(.assign, Empty(), tensors: values, timeout: timeout)
    }

    public func stats(timeout: Duration = .seconds(5)) async throws -> StatsReply {
        try await rpc.call(.stats, timeout: timeout).body(StatsReply.self)
    }
}
