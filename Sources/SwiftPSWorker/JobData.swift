import SwiftPSCore
import SwiftPSModel

/// The job's training and held-out data: its files when it names some, else the built-in teacher task.
enum JobData {
    static func load(_ job: JobConfig) throws(SwiftPSError) -> (train: Dataset, test: Dataset) {
        guard let trainSpec = DataSpec(job.trainData), let testSpec = DataSpec(job.testData) else {
            return TeacherTask.make(seed: job.seed, inputs: job.layerSizes.first!, classes: job.layerSizes.last!,
                                    train: job.trainSamples, test: job.testSamples)
        }
        let train = try trainSpec.load(), test = try testSpec.load()
        for (name, data) in [(job.trainData, train), (job.testData, test)] {
            guard data.inputs == job.layerSizes.first! else {
                throw SwiftPSError(.invalidArgument, "\(name): \(data.inputs) features per sample, the model's input is \(job.layerSizes.first!) (--layers)")
            }
            guard data.classes <= job.layerSizes.last! else {
                throw SwiftPSError(.invalidArgument, "\(name): labels go up to \(data.classes - 1), the model has \(job.layerSizes.last!) classes (--layers)")
            }
        }
        return (train, test)
    }
}
