import Foundation

/// Draws series as line charts stacked in one SVG document: one chart per series, axes labelled, ticks at round values.
public enum SVGChart {
    static let width = 720.0, chartHeight = 260.0, margin = (left: 80.0, right: 24.0, top: 36.0, bottom: 48.0)

    public static func render(_ series: [Series], title: String) -> String {
        let height = Double(series.count) * chartHeight + 40
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="24" text-anchor="middle" font-size="16">\(escape(title))</text>

            """
        for (index, one) in series.enumerated() {
            svg += chart(one, top: 40 + Double(index) * chartHeight)
        }
        return svg + "</svg>\n"
    }

    static func chart(_ series: Series, top: Double) -> String {
        let left = margin.left, right = width - margin.right
        let plotTop = top + margin.top, bottom = top + chartHeight - margin.bottom
        let xs = ticks(series.points.map(\.x)), ys = ticks(series.points.map(\.y))
        func px(_ x: Double) -> Double { left + (x - xs.first!) / (xs.last! - xs.first!) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (y - ys.first!) / (ys.last! - ys.first!) * (bottom - plotTop) }
        var out = "<g>\n<text x=\"\(left)\" y=\"\(top + 20)\" font-size=\"14\">\(escape(series.name))</text>\n"
        for y in ys {
            out += "<line x1=\"\(left)\" y1=\"\(py(y))\" x2=\"\(right)\" y2=\"\(py(y))\" stroke=\"#e0e0e0\"/>\n"
            out += "<text x=\"\(left - 6)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(label(y))</text>\n"
        }
        for x in xs {
            out += "<text x=\"\(px(x))\" y=\"\(bottom + 16)\" text-anchor=\"middle\">\(label(x))</text>\n"
        }
        out += "<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(left)\" y1=\"\(plotTop)\" x2=\"\(left)\" y2=\"\(bottom)\" stroke=\"black\"/>\n"
        out += "<text x=\"\((left + right) / 2)\" y=\"\(bottom + 36)\" text-anchor=\"middle\">step</text>\n"
        out += "<text transform=\"translate(\(left - 60) \((plotTop + bottom) / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(series.unit))</text>\n"
        let path = series.points.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
        out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path)\"/>\n</g>\n"
        return out
    }

    /// Round tick values that cover `values` (at least two distinct ticks).
    public static func ticks(_ values: [Double]) -> [Double] {
        var low = values.min() ?? 0, high = values.max() ?? 1
        if high - low < 1e-12 { (low, high) = (low - 0.5, high + 0.5) }
        let rough = (high - low) / 5, magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let first = floor(low / step) * step, last = ceil(high / step) * step
        return stride(from: first, through: last + step / 2, by: step).map { $0 }
    }

    static func label(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e7 { return String(Int(value)) }
        return String(format: abs(value) < 0.01 ? "%.2e" : "%.3g", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
