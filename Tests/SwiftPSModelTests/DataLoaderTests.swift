import Foundation
import Testing
import SwiftPSCore
import SwiftPSModel

/// Every test writes its own small files, byte by byte, into a fresh temporary directory that goes away with the
/// suite instance (one per test), so the loaders are checked against the formats rather than against fixtures.
@Suite final class DataLoaderTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("DataLoaderTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes `bytes` to the file `name` in the test's directory and returns its path.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    /// A path in the test's directory where nothing is.
    func missing(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Expects `load` to throw `.invalidArgument` with a message naming `path` and containing `problem`.
    func expectInvalid(_ path: String, _ problem: String, sourceLocation: SourceLocation = #_sourceLocation,
                       _ load: () throws -> Dataset) {
        let error = #expect(throws: SwiftPSError.self, sourceLocation: sourceLocation) { try load() }
        guard let error else { return }
        #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
        #expect(error.message.contains(path), "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(problem), "\(error.message)", sourceLocation: sourceLocation)
    }

    // MARK: - IDX

    static func bigEndian(_ value: Int) -> [UInt8] {
        (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func idxImages(count: Int, rows: Int, cols: Int, pixels: [UInt8], magic: Int = 0x803) -> [UInt8] {
        bigEndian(magic) + bigEndian(count) + bigEndian(rows) + bigEndian(cols) + pixels
    }

    static func idxLabels(_ labels: [UInt8], magic: Int = 0x801) -> [UInt8] {
        bigEndian(magic) + bigEndian(labels.count) + labels
    }

    /// Five 3×2 images whose 30 pixels run from 0 to 255, and labels 0...3.
    let pixels = (0..<30).map { UInt8($0 * 255 / 29) }
    let idxLabelValues: [UInt8] = [0, 3, 1, 3, 2]

    @Test func idxReadsBackPixelsOver255AndLabels() throws {
        let images = try write("images-idx3-ubyte", Self.idxImages(count: 5, rows: 3, cols: 2, pixels: pixels))
        let labels = try write("labels-idx1-ubyte", Self.idxLabels(idxLabelValues))
        let data = try DataLoader.idx(images: images, labels: labels)
        #expect(data.count == 5 && data.inputs == 6 && data.classes == 4)
        #expect(data.features == pixels.map { Float($0) / 255 })
        #expect(data.features.first == 0 && data.features.last == 1)
        #expect(data.labels == [0, 3, 1, 3, 2])
    }

    @Test func idxWithOneLabelValueStillHasTwoClasses() throws {
        let images = try write("images", Self.idxImages(count: 1, rows: 1, cols: 1, pixels: [7]))
        let labels = try write("labels", Self.idxLabels([0]))
        #expect(try DataLoader.idx(images: images, labels: labels).classes == 2)
    }

    @Test func idxRefusesBadFiles() throws {
        let goodImages = Self.idxImages(count: 5, rows: 3, cols: 2, pixels: pixels)
        let images = try write("images", goodImages)
        let labels = try write("labels", Self.idxLabels(idxLabelValues))

        let nowhere = missing("no-images")
        expectInvalid(nowhere, "no such file") { try DataLoader.idx(images: nowhere, labels: labels) }
        let noLabels = missing("no-labels")
        expectInvalid(noLabels, "no such file") { try DataLoader.idx(images: images, labels: noLabels) }

        let short = try write("short-images", Array(goodImages.dropLast(7)))
        expectInvalid(short, "truncated: header says 5 images of 3×2, file holds 23 bytes of pixels") {
            try DataLoader.idx(images: short, labels: labels)
        }
        let headerOnly = try write("header-only", Array(goodImages.prefix(10)))
        expectInvalid(headerOnly, "truncated") { try DataLoader.idx(images: headerOnly, labels: labels) }
        let long = try write("long-images", goodImages + [0])
        expectInvalid(long, "trailing bytes") { try DataLoader.idx(images: long, labels: labels) }
        let shortLabels = try write("short-labels", Array(Self.idxLabels(idxLabelValues).dropLast()))
        expectInvalid(shortLabels, "truncated") { try DataLoader.idx(images: images, labels: shortLabels) }

        // The two files swapped: each has the other's magic number.
        expectInvalid(labels, "wrong magic 0x00000801 (IDX uint8 labels), expected 0x00000803") {
            try DataLoader.idx(images: labels, labels: images)
        }
        let floats = try write("floats", Self.idxImages(count: 1, rows: 1, cols: 1, pixels: [0, 0, 0, 0], magic: 0xD03))
        expectInvalid(floats, "IDX float32 with 3 dimensions") { try DataLoader.idx(images: floats, labels: labels) }
        let gzip = try write("images.gz", [0x1F, 0x8B, 0x08, 0x00] + goodImages)
        expectInvalid(gzip, "gunzip") { try DataLoader.idx(images: gzip, labels: labels) }

        let fourLabels = try write("four-labels", Self.idxLabels([0, 1, 2, 3]))
        expectInvalid(fourLabels, "label count mismatch: 4 labels for the 5 images") {
            try DataLoader.idx(images: images, labels: fourLabels)
        }
    }

    // MARK: - NPY

    static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { value in (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    }

    /// A .npy file as numpy writes it: magic, version, header length, then the header dict padded with spaces to a
    /// multiple of 64 bytes and ended by a newline, then `data`.
    static func npy(descr: String, shape: [Int], fortranOrder: Bool = false, version: UInt8 = 1,
                    data: [UInt8]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let order = fortranOrder ? "True" : "False"
        var header = "{'descr': '\(descr)', 'fortran_order': \(order), 'shape': \(shapeText), }"
        let prefix = 8 + (version == 1 ? 2 : 4)
        while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let length = header.utf8.count
        let lengthBytes = version == 1 ? littleEndian([UInt16(length)]) : littleEndian([UInt32(length)])
        return [0x93] + Array("NUMPY".utf8) + [version, 0] + lengthBytes + Array(header.utf8) + data
    }

    /// Float32 values whose bits must survive: signed zero, the smallest subnormal, the largest finite value.
    let floats: [Float] = [0, 1, -2.5, 0.1, 1e-7, .greatestFiniteMagnitude, -0.0, 123.456, .leastNonzeroMagnitude,
                           -1e30, 0.333333343, 42]

    @Test func npyFloat32FeaturesWithInt64Labels() throws {
        let features = try write("x.npy", Self.npy(descr: "<f4", shape: [4, 3],
                                                   data: Self.littleEndian(floats.map(\.bitPattern))))
        let labels = try write("y.npy", Self.npy(descr: "<i8", shape: [4], data: Self.littleEndian([Int64](
            [0, 2, 1, 2]))))
        let data = try DataLoader.npy(features: features, labels: labels)
        #expect(data.count == 4 && data.inputs == 3 && data.classes == 3)
        #expect(data.features.map(\.bitPattern) == floats.map(\.bitPattern))
        #expect(data.labels == [0, 2, 1, 2])
    }

    @Test func npyUInt8FeaturesWithUInt8LabelsAndAVersion2Header() throws {
        let bytes: [UInt8] = [0, 1, 127, 128, 254, 255]
        let features = try write("x.npy", Self.npy(descr: "|u1", shape: [3, 2], version: 2, data: bytes))
        let labels = try write("y.npy", Self.npy(descr: "|u1", shape: [3], data: [9, 0, 4]))
        let data = try DataLoader.npy(features: features, labels: labels)
        #expect(data.count == 3 && data.inputs == 2 && data.classes == 10)
        #expect(data.features == bytes.map { Float($0) / 255 })
        #expect(data.labels == [9, 0, 4])
    }

    @Test(arguments: ["<i8", "<i4", "<i2", "|i1", "|u1", "<u1", "<u2", "<u4", "<u8"])
    func npyIntegerLabelTypes(descr: String) throws {
        let size = Int(descr.dropFirst(2))!
        let data = [UInt64]([5, 0, 2]).flatMap { Self.littleEndian([$0]).prefix(size) }
        let labels = try write("y.npy", Self.npy(descr: descr, shape: [3], data: data))
        let features = try write("x.npy", Self.npy(descr: "|u1", shape: [3, 1], data: [1, 2, 3]))
        let loaded = try DataLoader.npy(features: features, labels: labels)
        #expect(loaded.labels == [5, 0, 2] && loaded.classes == 6)
    }

    @Test func npyRefusesBadFiles() throws {
        let goodFeatures = Self.npy(descr: "<f4", shape: [4, 3], data: Self.littleEndian(floats.map(\.bitPattern)))
        let features = try write("x.npy", goodFeatures)
        let labels = try write("y.npy", Self.npy(descr: "<i8", shape: [4], data: Self.littleEndian([Int64](
            [0, 1, 0, 1]))))
        func expectFeatures(_ name: String, _ bytes: [UInt8], _ problem: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
            let path = try write(name, bytes)
            expectInvalid(path, problem, sourceLocation: sourceLocation) {
                try DataLoader.npy(features: path, labels: labels)
            }
        }
        func expectLabels(_ name: String, _ bytes: [UInt8], _ problem: String,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
            let path = try write(name, bytes)
            expectInvalid(path, problem, sourceLocation: sourceLocation) {
                try DataLoader.npy(features: features, labels: path)
            }
        }

        let nowhere = missing("none.npy")
        expectInvalid(nowhere, "no such file") { try DataLoader.npy(features: nowhere, labels: labels) }
        expectInvalid(nowhere, "no such file") { try DataLoader.npy(features: features, labels: nowhere) }

        try expectFeatures("short-data.npy", Array(goodFeatures.dropLast(5)),
                           "truncated: header says shape (4, 3) of '<f4' (48 bytes), file holds 43 bytes")
        try expectFeatures("short-header.npy", Array(goodFeatures.prefix(40)), "truncated")
        try expectFeatures("empty.npy", [], "truncated")
        try expectFeatures("long.npy", goodFeatures + [0], "trailing bytes")
        try expectFeatures("text.npy", Array("0.5,1.5,2.5\n0.5,1.5,2.5\n".utf8), "wrong magic")
        try expectFeatures("v9.npy", Array(goodFeatures.prefix(6)) + [9, 0] + goodFeatures.dropFirst(8),
                           "unsupported .npy version 9.0")
        try expectFeatures("fortran.npy", Self.npy(descr: "<f4", shape: [4, 3], fortranOrder: true,
                                                   data: Self.littleEndian(floats.map(\.bitPattern))), "fortran_order")
        try expectFeatures("f8.npy", Self.npy(descr: "<f8", shape: [4, 3], data: [UInt8](repeating: 0, count: 96)),
                           "unsupported dtype '<f8'")
        try expectFeatures("big.npy", Self.npy(descr: ">f4", shape: [4, 3], data: [UInt8](repeating: 0, count: 48)),
                           "big-endian")
        try expectFeatures("flat.npy", Self.npy(descr: "<f4", shape: [12],
                                                data: Self.littleEndian(floats.map(\.bitPattern))), "must be 2-D")
        try expectFeatures("cube.npy", Self.npy(descr: "|u1", shape: [4, 3, 1], data: [UInt8](repeating: 0, count: 12)),
                           "reshape")
        var garbled = goodFeatures
        garbled[10] = UInt8(ascii: "[")
        try expectFeatures("garbled.npy", garbled, "malformed header")

        try expectLabels("three.npy", Self.npy(descr: "<i8", shape: [3], data: Self.littleEndian([Int64]([0, 1, 0]))),
                         "label count mismatch: 3 labels for the 4 samples")
        try expectLabels("float-labels.npy", Self.npy(descr: "<f4", shape: [4], data: [UInt8](repeating: 0, count: 16)),
                         "unsupported dtype '<f4' for labels")
        try expectLabels("big-labels.npy", Self.npy(descr: ">i8", shape: [4], data: [UInt8](repeating: 0, count: 32)),
                         "big-endian")
        try expectLabels("column.npy", Self.npy(descr: "|u1", shape: [4, 1], data: [0, 1, 0, 1]), "must be 1-D")
        try expectLabels("negative.npy", Self.npy(descr: "<i8", shape: [4], data: Self.littleEndian([Int64](
            [0, 1, -1, 1]))), "label -1 at index 2 is negative")
        try expectLabels("huge.npy", Self.npy(descr: "<u8", shape: [4], data: Self.littleEndian([UInt64](
            [0, 1, 1 << 40, 1]))), "out of range")
        try expectLabels("short-labels.npy", Array(Self.npy(descr: "<i8", shape: [4], data: Self.littleEndian(
            [Int64]([0, 1, 0, 1]))).dropLast(8)), "truncated")
    }

    // MARK: - CSV

    @Test func csvWithoutHeaderLabelLast() throws {
        let path = try write("plain.csv", "1,2.5,0\n-3,0.125,2\n\n4e2,7,1\n")
        let data = try DataLoader.csv(path)
        #expect(data.count == 3 && data.inputs == 2 && data.classes == 3)
        #expect(data.features == [1, 2.5, -3, 0.125, 400, 7])
        #expect(data.labels == [0, 2, 1])
    }

    @Test func csvWithHeaderLabelFirst() throws {
        let path = try write("header.csv", "\u{FEFF}label,x,y\r\n1, 0.1 ,\"-0\"\r\n\r\n0,-1,3.0\r\n4.0,1e-3,+2")
        let data = try DataLoader.csv(path, labelColumn: 0)
        #expect(data.count == 3 && data.inputs == 2 && data.classes == 5)
        #expect(data.features.map(\.bitPattern) == ([0.1, -0.0, -1, 3, 0.001, 2] as [Float]).map(\.bitPattern))
        #expect(data.labels == [1, 0, 4])
    }

    @Test func csvNegativeLabelColumnCountsFromTheEnd() throws {
        let path = try write("middle.csv", "a,b,class,c\n1,2,1,3\n4,5,0,6\n")
        let data = try DataLoader.csv(path, labelColumn: -2)
        #expect(data.features == [1, 2, 3, 4, 5, 6])
        #expect(data.labels == [1, 0])
        #expect(try DataLoader.csv(path, labelColumn: 2).labels == [1, 0])
    }

    @Test func csvRefusesBadFiles() throws {
        func expectCSV(_ name: String, _ text: String, _ problems: String..., labelColumn: Int = -1,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
            let path = try write(name, text)
            for problem in problems {
                expectInvalid(path, problem, sourceLocation: sourceLocation) {
                    try DataLoader.csv(path, labelColumn: labelColumn)
                }
            }
        }
        let nowhere = missing("none.csv")
        expectInvalid(nowhere, "no such file") { try DataLoader.csv(nowhere) }
        try expectCSV("truncated.csv", "x,y,label\n1,2,0\n3,4",
                      "line 3: ragged row: 2 columns, expected 3 as on line 1")
        try expectCSV("ragged.csv", "1,2,0\n\n3,4,5,1\n", "line 3: ragged row: 4 columns")
        try expectCSV("word.csv", "1,2,0\n3,abc,1\n", "line 2, column 2: 'abc' is not a number")
        try expectCSV("hole.csv", "1,2,0\n3,,1\n", "line 2, column 2: empty cell")
        try expectCSV("negative.csv", "1,2,0\n3,4,-1\n", "line 2, column 3: label '-1' is negative")
        try expectCSV("fraction.csv", "1,2,0\n3,4,1.5\n", "line 2, column 3: label '1.5' is not an integer")
        try expectCSV("big-label.csv", "1,2,0\n3,4,3000000000\n", "out of range")
        try expectCSV("empty.csv", "\n\n", "empty")
        try expectCSV("header-only.csv", "x,y,label\n", "no data rows")
        try expectCSV("one-column.csv", "0\n1\n", "label column and at least one feature")
        try expectCSV("far.csv", "1,2,0\n", "label column 3 is out of range for 3 columns", labelColumn: 3)
        try expectCSV("far-back.csv", "1,2,0\n", "label column -4 is out of range", labelColumn: -4)
    }
}
