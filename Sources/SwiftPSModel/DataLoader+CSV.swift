import SwiftPSCore

extension DataLoader {
    /// CSV: one sample per line, numeric feature columns and an integer label column (`labelColumn`, default the
    /// last; negative counts from the end); an optional header row is detected (first row non-numeric) and skipped.
    /// Empty lines skipped. Ragged rows, non-numeric cells, negative labels → error naming file, line and column.
    ///
    /// Cells are separated by commas, with no quoting of commas inside cells; spaces around a cell and a pair of
    /// double quotes around it are ignored, as are `\r\n` line ends and a UTF-8 byte order mark. A label may be
    /// written `3` or `3.0`.
    /// - Throws: `SwiftPSError(.invalidArgument)` naming the file and the problem.
    public static func csv(_ path: String, labelColumn: Int = -1) throws(SwiftPSError) -> Dataset {
        let bytes = try contents(of: path)
        var reader = CSVReader(path: path, labelColumn: labelColumn)
        try bytes.withUnsafeBufferPointer { (buffer) throws(SwiftPSError) in try reader.read(buffer) }
        guard let columns = reader.columns else { throw invalid(path, "no rows: the file is empty") }
        guard !reader.labels.isEmpty else { throw invalid(path, "no data rows, only a header") }
        return Dataset(inputs: columns - 1, classes: classCount(of: reader.labels), features: reader.features,
                       labels: reader.labels)
    }
}

/// The state of reading one CSV file: the shape fixed by its first row, and the samples read so far.
private struct CSVReader {
    let path: String
    let labelColumn: Int
    /// Columns of every row, set by the first non-empty row (a header or data).
    private(set) var columns: Int?
    private var labelIndex = 0
    private var firstLine = 0
    private(set) var features: [Float] = []
    private(set) var labels: [Int32] = []
    /// The cells of the current row, kept to reuse their storage.
    private var cells: [Range<Int>] = []

    init(path: String, labelColumn: Int) {
        self.path = path
        self.labelColumn = labelColumn
    }

    mutating func read(_ text: UnsafeBufferPointer<UInt8>) throws(SwiftPSError) {
        var start = text.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // a UTF-8 byte order mark
        var line = 0
        while start < text.count {
            var end = start
            while end < text.count && text[end] != UInt8(ascii: "\n") { end += 1 }
            line += 1
            let contentEnd = end > start && text[end - 1] == UInt8(ascii: "\r") ? end - 1 : end
            try readRow(text, start..<contentEnd, line: line)
            start = end + 1
        }
    }

    private mutating func readRow(_ text: UnsafeBufferPointer<UInt8>, _ row: Range<Int>,
                                  line: Int) throws(SwiftPSError) {
        cells.removeAll(keepingCapacity: true)
        var cellStart = row.lowerBound
        for index in row where text[index] == UInt8(ascii: ",") {
            cells.append(Self.trimmed(text, cellStart..<index))
            cellStart = index + 1
        }
        cells.append(Self.trimmed(text, cellStart..<row.upperBound))
        if cells.count == 1 && cells[0].isEmpty { return }  // an empty line

        guard let columns else {
            try setShape(columns: cells.count, line: line)
            if cells.contains(where: { Self.number(text, $0) == nil }) { return }  // a header
            return try readRow(text, row, line: line)
        }
        guard cells.count == columns else {
            throw error(line, "ragged row: \(cells.count) columns, expected \(columns) as on line \(firstLine)")
        }
        for (column, cell) in cells.enumerated() {
            if column == labelIndex {
                labels.append(try label(text, cell, line: line, column: column))
            } else if let value = Self.number(text, cell) {
                features.append(value)
            } else {
                throw error(line, column, cell.isEmpty ? "empty cell, expected a number"
                                                       : "'\(Self.string(text, cell))' is not a number")
            }
        }
    }

    private mutating func setShape(columns: Int, line: Int) throws(SwiftPSError) {
        guard columns >= 2 else {
            throw error(line, "1 column: a CSV data set needs a label column and at least one feature column")
        }
        let index = labelColumn < 0 ? columns + labelColumn : labelColumn
        guard (0..<columns).contains(index) else {
            throw error(line, "label column \(labelColumn) is out of range for \(columns) columns")
        }
        (self.columns, labelIndex, firstLine) = (columns, index, line)
    }

    private func label(_ text: UnsafeBufferPointer<UInt8>, _ cell: Range<Int>, line: Int,
                       column: Int) throws(SwiftPSError) -> Int32 {
        let written = Self.string(text, cell)
        let value: Int?
        if let integer = Int(written) {
            value = integer
        } else if let real = Double(written), real.isFinite, real == real.rounded(.towardZero) {
            value = Int(exactly: real)
        } else {
            throw error(line, column, cell.isEmpty ? "empty label cell" : "label '\(written)' is not an integer")
        }
        guard let value, value >= 0 else { throw error(line, column, "label '\(written)' is negative") }
        guard let label = Int32(exactly: value) else {
            throw error(line, column, "label '\(written)' is out of range (more than Int32.max)")
        }
        return label
    }

    private func error(_ line: Int, _ problem: String) -> SwiftPSError {
        DataLoader.invalid(path, "line \(line): \(problem)")
    }

    private func error(_ line: Int, _ column: Int, _ problem: String) -> SwiftPSError {
        DataLoader.invalid(path, "line \(line), column \(column + 1): \(problem)")
    }

    /// `cell` without surrounding spaces and tabs, then without one pair of surrounding double quotes.
    private static func trimmed(_ text: UnsafeBufferPointer<UInt8>, _ cell: Range<Int>) -> Range<Int> {
        var (start, end) = (cell.lowerBound, cell.upperBound)
        while start < end && (text[start] == UInt8(ascii: " ") || text[start] == UInt8(ascii: "\t")) { start += 1 }
        while end > start && (text[end - 1] == UInt8(ascii: " ") || text[end - 1] == UInt8(ascii: "\t")) { end -= 1 }
        if end - start >= 2 && text[start] == UInt8(ascii: "\"") && text[end - 1] == UInt8(ascii: "\"") {
            (start, end) = (start + 1, end - 1)
        }
        return start..<end
    }

    private static func string(_ text: UnsafeBufferPointer<UInt8>, _ cell: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: text[cell]), as: UTF8.self)
    }

    /// The number in `cell`, or nil. Integers of up to 9 digits (most pixel and count data) skip the conversion to
    /// a `String`; the result is the same, since they and their rounding to `Float` are exact.
    private static func number(_ text: UnsafeBufferPointer<UInt8>, _ cell: Range<Int>) -> Float? {
        guard !cell.isEmpty else { return nil }
        var index = cell.lowerBound
        let negative = text[index] == UInt8(ascii: "-")
        if negative || text[index] == UInt8(ascii: "+") { index += 1 }
        if index < cell.upperBound && cell.upperBound - index <= 9 {
            var value = 0
            while index < cell.upperBound, case let digit = text[index] &- UInt8(ascii: "0"), digit < 10 {
                value = value * 10 + Int(digit)
                index += 1
            }
            if index == cell.upperBound { return negative ? -Float(value) : Float(value) }
        }
        return Float(string(text, cell))
    }
}
