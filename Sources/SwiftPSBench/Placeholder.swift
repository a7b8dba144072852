public enum TransportBenchmark { public static func run(secondsPerFigure: Double, json: Bool) async throws {} }
