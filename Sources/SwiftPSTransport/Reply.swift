import SwiftPSCore
import SwiftPSWire

/// A successful reply: its envelope, its rpc message and its tensors, read in place from the received frames.
public struct Reply: Sendable {
    public let envelope: Envelope
    public let tensors: [ReceivedTensor]

    /// The reply's rpc message.
    public func body<M: WireMessage>(_ type: M.Type) throws(SwiftPSError) -> M {
        try M(decoding: envelope.body)
    }
}
