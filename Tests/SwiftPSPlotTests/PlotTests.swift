import Testing
import SwiftPSPlot

@Suite struct PlotTests {
    static let metrics = """
        {"type":"header","seed":42}
        {"type":"step","step":1,"loss":2.5,"samples_per_second":1000}
        {"type":"step","step":2,"loss":1.5,"samples_per_second":3000}
        {"type":"eval","step":2,"accuracy":0.9}
        {"type":"step","step":3,"loss":0.5,"samples_per_second":2000}
        """

    @Test func readsLossAndThroughputByStep() throws {
        let series = try MetricsFile.series(from: Self.metrics)
        #expect(series.map(\.name) == ["training loss", "throughput"])
        #expect(series[0].points.map(\.x) == [1, 2, 3])
        #expect(series[0].points.map(\.y) == [2.5, 1.5, 0.5])
        #expect(series[1].points.map(\.y) == [1000, 3000, 2000])
    }

    @Test func refusesFilesWithoutSteps() {
        #expect(throws: MetricsFile.Error.self) { try MetricsFile.series(from: "{\"type\":\"header\"}\n") }
        #expect(throws: MetricsFile.Error.self) { try MetricsFile.series(from: "not json\n") }
    }

    @Test func ticksAreRoundAndCoverTheData() {
        #expect(SVGChart.ticks([0.37, 2.61]) == [0, 0.5, 1, 1.5, 2, 2.5, 3])
        #expect(SVGChart.ticks([1, 1]).count >= 2)
        let big = SVGChart.ticks([1, 1234])
        #expect(big.first! <= 1 && big.last! >= 1234 && big.count <= 8)
    }

    @Test func drawsOneChartPerSeriesWithLabelledAxes() throws {
        let svg = SVGChart.render(try MetricsFile.series(from: Self.metrics), title: "run <1>")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.contains(">step</text>") && svg.contains(">samples/s</text>") && svg.contains(">loss</text>"))
        #expect(svg.contains("run &lt;1&gt;"))
        // The loss line falls: its first point sits higher on the page (smaller y) than its last.
        let loss = try #require(svg.components(separatedBy: "points=\"").dropFirst().first?.split(separator: "\"").first)
        let ys = loss.split(separator: " ").map { Double($0.split(separator: ",")[1])! }
        #expect(ys.first! < ys.last!)
    }
}
