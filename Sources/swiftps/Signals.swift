import Dispatch
import Foundation
import SwiftPSCore

/// Turns SIGTERM and SIGINT into a shutdown request (and calls `also`, e.g. to stop child processes).
/// The returned sources must stay alive for as long as the signals should be handled: callers hold them with
/// `defer { _ = signals }`, since ARC may otherwise release them right after this call.
func handleSignals(_ shutdown: Shutdown, log: Log, also: (@Sendable (Int32) -> Void)? = nil) -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            log.info("received \(number == SIGTERM ? "SIGTERM" : "SIGINT"); shutting down")
            shutdown.request()
            also?(number)
        }
        source.resume()
        return source
    }
}

/// Reports a role's failure on standard error and exits 1; a cancelled run (shutdown) exits 0.
func finish(_ log: Log, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as SwiftPSError where error.code == .cancelled {
        log.info("stopped: \(error.message)")
    } catch let error as SwiftPSError {
        log.error(error.description)
        throw ExitCode(1)
    }
}

import ArgumentParser
