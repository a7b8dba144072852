import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator

/// A coordinator started without a parameter space takes the first client's declaration, once.
@Suite struct CoordinatorDeclareTests {
    static var openJob: JobConfig {
        var job = CoordinatorTranscript.job
        job.tensors = []
        return job
    }

    @Test func theFirstDeclarationMakesTheShardMapAndOnlyTheSameOneIsAcceptedAgain() throws {
        let t = CoordinatorTranscript(job: Self.openJob)
        try t.registerAll()
        #expect(try t.call(.getShardMap, from: 3, expecting: ShardMap.self).ready == false,
                "every server is in, but there is no space yet")

        var invalid = CoordinatorTranscript.job.tensors
        invalid[1].name = invalid[0].name
        #expect(t.refusal(.declareTensors, DeclareTensors(tensors: invalid), from: 3) == .invalidArgument)
        #expect(t.refusal(.declareTensors, DeclareTensors(tensors: []), from: 3) == .invalidArgument)
        var tooFine = CoordinatorTranscript.job.tensors
        tooFine[0].shape = [1 << 26, 1]  // 2^21 chunks of 32 elements
        #expect(t.refusal(.declareTensors, DeclareTensors(tensors: tooFine), from: 3) == .invalidArgument)
        #expect(try t.call(.getShardMap, from: 3, expecting: ShardMap.self).ready == false, "refusals change nothing")

        let space = CoordinatorTranscript.job.tensors
        #expect(try t.call(.declareTensors, DeclareTensors(tensors: space), from: 3, expecting: DeclareTensors.self).tensors == space)
        let map = try t.call(.getShardMap, from: 4, expecting: ShardMap.self)
        #expect(map.ready && map.tensors == space)
        #expect(map.chunks == Placement.chunks(tensors: space, chunkElements: 32, servers: [1, 2]))

        #expect(try t.call(.declareTensors, DeclareTensors(tensors: space), from: 4, expecting: DeclareTensors.self).tensors == space,
                "the same declaration again is answered with the space")
        var other = space
        other[3].frozen = true
        #expect(t.refusal(.declareTensors, DeclareTensors(tensors: other), from: 4) == .alreadyExists)
        #expect(try t.call(.getShardMap, from: 4, expecting: ShardMap.self) == map)
    }

    @Test func aDeclarationBeforeTheServersWaitsForThem() throws {
        let t = CoordinatorTranscript(job: Self.openJob)
        _ = try t.register(.worker, peer: 3)
        let space = CoordinatorTranscript.job.tensors
        _ = try t.call(.declareTensors, DeclareTensors(tensors: space), from: 3, expecting: DeclareTensors.self)
        #expect(try t.call(.getShardMap, from: 3, expecting: ShardMap.self).ready == false)
        _ = try t.register(.server, peer: 1)
        _ = try t.register(.server, peer: 2)
        #expect(try t.call(.getShardMap, from: 3, expecting: ShardMap.self).tensors == space)
        #expect(try t.register(.worker, peer: 4).job.tensors == space, "later nodes get the space with the job")
    }

    @Test func aJobWithASpaceRefusesAnother() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        #expect(t.refusal(.declareTensors, DeclareTensors(tensors: [TensorSpec(name: "x", shape: [1])]), from: 3) == .alreadyExists)
    }
}
