import SwiftPSCore
import SwiftPSModel

/// The job's training and held-out data: its files when the plan names some, else the built-in teacher task.
enum JobData {
    /// The data for a model reading `inputs` features per sample and predicting `classes` classes.
    static func load(_ job: JobConfig, inputs: Int, classes: Int) throws(SwiftPSError) -> (train: Dataset, test: Dataset) {
        let plan = job.plan
        guard let trainSpec = DataSpec(plan.trainData), let testSpec = DataSpec(plan.testData) else {
            return TeacherTask.make(seed: job.seed, inputs: inputs, classes: classes, train: plan.trainSamples,
                                    test: plan.testSamples)
        }
        let train = try trainSpec.load(), test = try testSpec.load()
        for (name, data) in [(plan.trainData, train), (plan.testData, test)] {
            guard data.inputs == inputs else {
                throw SwiftPSError(.invalidArgument, "\(name): \(data.inputs) features per sample, the model's input is \(inputs)")
            }
            guard data.classes <= classes else {
                throw SwiftPSError(.invalidArgument, "\(name): labels go up to \(data.classes - 1), the model has \(classes) classes")
            }
        }
        return (train, test)
    }
}
