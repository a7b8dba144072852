import SwiftPSCore

extension DataLoader {
    /// NumPy .npy v1.0/2.0: features file (float32 '<f4' or uint8 '|u1', C order, 2-D shape (N, D); uint8 scaled to
    /// [0,1]) and labels file (1-D integer: '<i8', '<i4', '|u1', '<u1'...). Refuse fortran_order True, big-endian,
    /// other dtypes, shape mismatch — each with a clear message.
    ///
    /// Version 3.0 (a UTF-8 header, otherwise 2.0) is read too. Float features are taken bit for bit; labels must be
    /// non-negative and fit in `Int32`.
    /// - Throws: `SwiftPSError(.invalidArgument)` naming the file and the problem.
    public static func npy(features: String, labels: String) throws(SwiftPSError) -> Dataset {
        let featureBytes = try contents(of: features)
        let featureArray = try NPYArray(featureBytes, path: features)
        guard featureArray.shape.count == 2 else {
            throw invalid(features, "features must be 2-D (N, D), shape is \(featureArray.shapeText)"
                                    + (featureArray.shape.count > 2 ? "; reshape to (N, -1) before saving" : ""))
        }
        let (count, inputs) = (featureArray.shape[0], featureArray.shape[1])
        guard inputs > 0 else {
            throw invalid(features, "features have no columns, shape is \(featureArray.shapeText)")
        }
        let values: [Float]
        switch (featureArray.kind, featureArray.itemSize) {
        case ("f", 4): values = float32(featureBytes, from: featureArray.dataOffset, count: count * inputs)
        case ("u", 1): values = unitScaled(featureBytes, from: featureArray.dataOffset, count: count * inputs)
        default:
            throw invalid(features, "unsupported dtype '\(featureArray.descr)' for features; "
                                    + "expected float32 '<f4' or uint8 '|u1'")
        }

        let labelBytes = try contents(of: labels)
        let labelArray = try NPYArray(labelBytes, path: labels)
        guard labelArray.shape.count == 1 else {
            throw invalid(labels, "labels must be 1-D (N,), shape is \(labelArray.shapeText); save labels.ravel()")
        }
        guard labelArray.shape[0] == count else {
            throw invalid(labels, "label count mismatch: \(labelArray.shape[0]) labels for the \(count) samples of "
                                  + features)
        }
        let (labelValues, bad): ([Int32], (index: Int, value: String)?)
        let offset = labelArray.dataOffset
        switch (labelArray.kind, labelArray.itemSize) {
        case ("i", 1): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: Int8.self)
        case ("i", 2): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: Int16.self)
        case ("i", 4): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: Int32.self)
        case ("i", 8): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: Int64.self)
        case ("u", 1): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: UInt8.self)
        case ("u", 2): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: UInt16.self)
        case ("u", 4): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: UInt32.self)
        case ("u", 8): (labelValues, bad) = integers(labelBytes, from: offset, count: count, as: UInt64.self)
        default:
            throw invalid(labels, "unsupported dtype '\(labelArray.descr)' for labels; expected an integer type "
                                  + "such as '<i8', '<i4' or '|u1'")
        }
        if let bad {
            throw invalid(labels, "label \(bad.value) at index \(bad.index) is "
                                  + (bad.value.hasPrefix("-") ? "negative" : "out of range (more than Int32.max)"))
        }
        return Dataset(inputs: inputs, classes: classCount(of: labelValues), features: values, labels: labelValues)
    }

    /// `count` little-endian float32 values of `bytes` from `offset`, bit for bit.
    private static func float32(_ bytes: [UInt8], from offset: Int, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                for index in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: offset + 4 * index, as: UInt32.self)
                    out[index] = Float(bitPattern: UInt32(littleEndian: bits))
                }
            }
            initialized = count
        }
    }

    /// `count` little-endian integers of type `T` from `offset` as labels, stopping at the first one that is negative
    /// or does not fit in `Int32` and returning where it was.
    private static func integers<T: FixedWidthInteger & BitwiseCopyable>(
        _ bytes: [UInt8], from offset: Int, count: Int, as _: T.Type
    ) -> (labels: [Int32], bad: (index: Int, value: String)?) {
        var bad: (index: Int, value: String)?
        let labels = [Int32](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                for index in 0..<count {
                    let value = T(littleEndian: raw.loadUnaligned(fromByteOffset: offset + index * MemoryLayout<T>.size,
                                                                  as: T.self))
                    guard value >= 0, let label = Int32(exactly: value) else {
                        bad = (index, "\(value)")
                        return
                    }
                    out[index] = label
                    initialized = index + 1
                }
            }
        }
        return (labels, bad)
    }
}

/// The header of a .npy file, checked against the file's length: dtype, shape and where the data starts.
///
/// The format (numpy.lib.format): the magic "\x93NUMPY", a major and a minor version byte, the header's length
/// (little-endian uint16 in version 1, uint32 in 2 and 3), then the header, a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }` padded with spaces and ending in a newline.
struct NPYArray {
    /// The dtype string as written, such as `<f4`.
    let descr: String
    /// The dtype's kind (`f`, `i`, `u`, …) and size in bytes, parsed from `descr`.
    let kind: Character
    let itemSize: Int
    let shape: [Int]
    /// Offset of the first data byte in the file.
    let dataOffset: Int

    /// The shape as Python prints it: `(60000, 784)`, `(60000,)`.
    var shapeText: String { Self.text(of: shape) }

    static func text(of shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    init(_ bytes: [UInt8], path: String) throws(SwiftPSError) {
        func invalid(_ problem: String) -> SwiftPSError { DataLoader.invalid(path, problem) }

        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard !bytes.isEmpty else { throw invalid("truncated: the file is empty") }
        guard bytes.count >= 8 else {
            throw invalid(magic.starts(with: bytes) ? "truncated: \(bytes.count) bytes, a .npy header needs at least 10"
                                                    : "wrong magic: not a .npy file (\(bytes.count) bytes)")
        }
        guard bytes.starts(with: magic) else { throw invalid("wrong magic: not a .npy file (no \\x93NUMPY prefix)") }
        let (major, minor) = (bytes[6], bytes[7])
        guard (1...3).contains(major) && minor == 0 else {
            throw invalid("unsupported .npy version \(major).\(minor); expected 1.0, 2.0 or 3.0")
        }
        let lengthSize = major == 1 ? 2 : 4
        let headerStart = 8 + lengthSize
        guard bytes.count >= headerStart else {
            throw invalid("truncated: \(bytes.count) bytes, a version \(major) header needs at least \(headerStart)")
        }
        let headerLength = bytes[8..<headerStart].reversed().reduce(0) { $0 << 8 | Int($1) }
        guard bytes.count - headerStart >= headerLength else {
            throw invalid("truncated: header length is \(headerLength) bytes, file holds \(bytes.count - headerStart)")
        }
        dataOffset = headerStart + headerLength
        let header = String(decoding: bytes[headerStart..<dataOffset], as: UTF8.self)
        func malformed(_ problem: String) -> SwiftPSError {
            let shown = header.trimmingSpaces.count > 200 ? String(header.trimmingSpaces.prefix(200)) + "…"
                                                          : header.trimmingSpaces
            return invalid("malformed header: \(problem): \(shown)")
        }

        var parser = PythonLiteralParser(header.utf8)
        guard case .dict(let dict)? = parser.parseAll() else { throw malformed("not a Python dict literal") }
        guard case .string(let descr)? = dict["descr"] else {
            if case .sequence? = dict["descr"] { throw invalid("unsupported dtype: a structured dtype (record array)") }
            throw malformed("no 'descr' string")
        }
        guard case .bool(let fortranOrder)? = dict["fortran_order"] else { throw malformed("no 'fortran_order' flag") }
        guard case .sequence(let dims)? = dict["shape"] else { throw malformed("no 'shape' tuple") }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let size) = dim, size >= 0 else { throw malformed("'shape' holds a non-size") }
            shape.append(size)
        }
        let shapeText = Self.text(of: shape)
        guard !fortranOrder else {
            throw invalid("fortran_order is True (column-major data); save np.ascontiguousarray(x) instead")
        }

        let scalars = Array(descr)
        guard scalars.count >= 3, "<>|=".contains(scalars[0]), let size = Int(String(scalars[2...])), size > 0 else {
            throw invalid("unsupported dtype '\(descr)'")
        }
        (self.descr, self.shape, self.kind, self.itemSize) = (descr, shape, scalars[1], size)
        guard scalars[0] != ">" || size == 1 else {
            throw invalid("big-endian dtype '\(descr)' is unsupported; save x.astype('<\(scalars[1])\(size)') instead")
        }
        guard scalars[0] != "=" || size == 1 else { throw invalid("native byte order dtype '\(descr)' is unsupported") }

        guard let dataSize = DataLoader.product(shape + [size]) else {
            throw invalid("shape \(shapeText) of '\(descr)' is more than memory can hold")
        }
        let held = bytes.count - dataOffset
        guard held >= dataSize else {
            throw invalid("truncated: header says shape \(shapeText) of '\(descr)' (\(dataSize) bytes), "
                          + "file holds \(held) bytes of data")
        }
        guard held == dataSize else {
            throw invalid("trailing bytes: header says shape \(shapeText) of '\(descr)' (\(dataSize) bytes), "
                          + "file holds \(held - dataSize) bytes more")
        }
    }
}

/// Just enough of Python's literal syntax for a .npy header: dicts, tuples and lists, quoted strings, integers
/// (with Python 2's `L` suffix), `True`, `False` and `None`.
struct PythonLiteralParser {
    indirect enum Value {
        case dict([String: Value])
        case sequence([Value])
        case string(String)
        case int(Int)
        case bool(Bool)
        case none
    }

    private let text: [UInt8]
    private var at = 0

    init(_ text: String.UTF8View) { self.text = Array(text) }

    /// The one value that `text` holds, surrounded by nothing but white space; nil when it holds anything else.
    mutating func parseAll() -> Value? {
        guard let value = parseValue() else { return nil }
        skipSpace()
        return at == text.count ? value : nil
    }

    private mutating func parseValue() -> Value? {
        skipSpace()
        guard at < text.count else { return nil }
        switch text[at] {
        case UInt8(ascii: "{"):
            at += 1
            var dict: [String: Value] = [:]
            while true {
                skipSpace()
                if take(UInt8(ascii: "}")) { return .dict(dict) }
                guard case .string(let key)? = parseValue() else { return nil }
                skipSpace()
                guard take(UInt8(ascii: ":")), let value = parseValue() else { return nil }
                dict[key] = value
                skipSpace()
                if take(UInt8(ascii: "}")) { return .dict(dict) }
                guard take(UInt8(ascii: ",")) else { return nil }
            }
        case UInt8(ascii: "("), UInt8(ascii: "["):
            let close = text[at] == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
            at += 1
            var items: [Value] = []
            while true {
                skipSpace()
                if take(close) { return .sequence(items) }
                guard let item = parseValue() else { return nil }
                items.append(item)
                skipSpace()
                if take(close) { return .sequence(items) }
                guard take(UInt8(ascii: ",")) else { return nil }
            }
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            let quote = text[at]
            at += 1
            let start = at
            while at < text.count && text[at] != quote { at += text[at] == UInt8(ascii: "\\") ? 2 : 1 }
            guard at < text.count else { return nil }
            defer { at += 1 }
            return .string(String(decoding: text[start..<at], as: UTF8.self))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let negative = take(UInt8(ascii: "-"))
            var value = 0, digits = 0
            while at < text.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[at]) {
                let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int(text[at] - UInt8(ascii: "0")))
                guard !overflow1 && !overflow2 else { return nil }
                value = sum
                digits += 1
                at += 1
            }
            guard digits > 0 else { return nil }
            _ = take(UInt8(ascii: "L"))
            return .int(negative ? -value : value)
        default:
            for (word, value) in [("True", Value.bool(true)), ("False", .bool(false)), ("None", .none)]
            where text[at...].starts(with: word.utf8) {
                at += word.utf8.count
                return value
            }
            return nil
        }
    }

    private mutating func skipSpace() {
        while at < text.count && [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"),
                                  UInt8(ascii: "\r")].contains(text[at]) { at += 1 }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard at < text.count && text[at] == byte else { return false }
        at += 1
        return true
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
