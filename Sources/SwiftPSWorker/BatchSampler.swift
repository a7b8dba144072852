import SwiftPSCore
import SwiftPSModel

/// Serves mini-batches of a data set in an order shuffled each epoch from the job seed, into buffers reused every step.
final class BatchSampler {
    let data: Dataset
    let batchSize: Int
    let features: FloatBuffer
    let labels: UnsafeMutablePointer<Int32>
    private var order: [Int]
    private let seed: UInt64

    init(data: Dataset, batchSize: Int, seed: UInt64) {
        self.data = data
        self.batchSize = batchSize
        self.seed = seed
        features = FloatBuffer(count: batchSize * data.inputs)
        labels = .allocate(capacity: batchSize)
        order = Array(0..<data.count)
    }

    deinit { labels.deallocate() }

    /// Full batches per epoch (a last partial batch is left out, as most frameworks do by default).
    var batchesPerEpoch: Int { data.count / batchSize }

    /// Shuffles for `epoch`: the same seed and epoch always give the same order.
    func startEpoch(_ epoch: Int) {
        var rng = SplitMix64(seed: SplitMix64.mix(seed ^ UInt64(epoch) &* 0x5851_F42D_4C95_7F2D))
        order = Array(0..<data.count)
        order.shuffle(using: &rng)
    }

    /// Copies batch `index` of the current epoch into `features` and `labels`.
    func load(batch index: Int) {
        let inputs = data.inputs
        data.features.withUnsafeBufferPointer { source in
            for row in 0..<batchSize {
                let sample = order[index * batchSize + row]
                (features.pointer + row * inputs).update(from: source.baseAddress! + sample * inputs, count: inputs)
                labels[row] = data.labels[sample]
            }
        }
    }
}
