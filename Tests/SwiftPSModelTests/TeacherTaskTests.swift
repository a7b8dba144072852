import Testing
import SwiftPSModel

@Suite struct TeacherTaskTests {
    @Test func sameSeedSameDataDifferentSeedDifferentData() {
        let a = TeacherTask.make(seed: 7, inputs: 8, classes: 5, train: 300, test: 100)
        let b = TeacherTask.make(seed: 7, inputs: 8, classes: 5, train: 300, test: 100)
        let c = TeacherTask.make(seed: 8, inputs: 8, classes: 5, train: 300, test: 100)
        #expect(a.train.features == b.train.features && a.train.labels == b.train.labels)
        #expect(a.test.features == b.test.features && a.test.labels == b.test.labels)
        #expect(a.train.features != c.train.features)
        #expect(a.train.labels != c.train.labels)
        #expect(a.test.labels != c.test.labels)
    }

    @Test func shapesAndDisjointStreams() {
        let (train, test) = TeacherTask.make(seed: 1, inputs: 8, classes: 5, train: 300, test: 100)
        #expect(train.count == 300 && test.count == 100)
        #expect(train.inputs == 8 && train.classes == 5 && test.inputs == 8 && test.classes == 5)
        #expect(Array(train.features.prefix(800)) != test.features)
        #expect(Set(train.features).isDisjoint(with: test.features))
    }

    /// The teacher depends on the seed only: asking for more samples extends the same stream.
    @Test func labellingDoesNotDependOnTheSizes() {
        let small = TeacherTask.make(seed: 5, inputs: 8, classes: 5, train: 50, test: 20)
        let large = TeacherTask.make(seed: 5, inputs: 8, classes: 5, train: 400, test: 60)
        #expect(Array(large.train.labels.prefix(50)) == small.train.labels)
        #expect(Array(large.test.labels.prefix(20)) == small.test.labels)
    }

    @Test(arguments: [UInt64(1), 2, 42, 1234])
    func classesAreRoughlyBalanced(seed: UInt64) {
        let (train, test) = TeacherTask.make(seed: seed, inputs: 32, classes: 10, train: 4000, test: 1000)
        var counts = [Int](repeating: 0, count: 10)
        for label in train.labels + test.labels { counts[Int(label)] += 1 }
        let shares = counts.map { Double($0) / 5000 }
        // Perfect balance is 0.1; the offsets are fitted on a sample, so allow some slack.
        #expect(shares.max()! < 0.16, "class shares \(shares)")
        #expect(shares.min()! > 0.05, "class shares \(shares)")
        #expect(train.majorityRate < 0.25)
    }
}
