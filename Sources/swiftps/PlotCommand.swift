import ArgumentParser
import Foundation
import SwiftPSPlot

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw loss and throughput over steps from a worker's --metrics-file as an SVG.")

    @Argument(help: "A metrics file (JSON lines) written by `swiftps worker --metrics-file`.")
    var metrics: String

    @Option(name: .shortAndLong, help: "The SVG file to write.")
    var output: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: metrics) else {
            throw ValidationError("cannot read \(metrics)")
        }
        let series: [Series]
        do {
            series = try MetricsFile.series(from: String(decoding: data, as: UTF8.self))
        } catch {
            throw ValidationError("\(metrics): \(error)")
        }
        let title = URL(fileURLWithPath: metrics).lastPathComponent
        try SVGChart.render(series, title: title).write(toFile: output, atomically: true, encoding: .utf8)
        print("wrote \(output): \(series.map { "\($0.name) (\($0.points.count) points)" }.joined(separator: ", "))")
    }
}
