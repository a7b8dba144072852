import SwiftPSCore

extension DataLoader {
    /// MNIST IDX: an images file (magic 0x00000803, uint8, N×rows×cols, big-endian dims) and a labels file
    /// (magic 0x00000801, uint8, N). Pixels scaled to [0,1]. classes = max label + 1 (at least 2).
    ///
    /// The files must be uncompressed (the MNIST downloads are gzip files; `gunzip` them first) and hold exactly
    /// what their headers say: trailing bytes are refused as well as missing ones, since either means a wrong file.
    /// - Returns: `rows * cols` inputs per sample, pixels in row-major order.
    /// - Throws: `SwiftPSError(.invalidArgument)` naming the file and the problem.
    public static func idx(images: String, labels: String) throws(SwiftPSError) -> Dataset {
        let imageBytes = try contents(of: images)
        let imageDims = try idxDimensions(imageBytes, path: images, magic: IDXMagic.images)
        let (count, rows, cols) = (imageDims[0], imageDims[1], imageDims[2])
        let shape = "\(count) images of \(rows)×\(cols)"
        guard rows > 0 && cols > 0 else { throw invalid(images, "empty images: header says \(shape)") }
        let headerSize = 16
        guard let pixels = product([count, rows, cols]), pixels <= Int.max - headerSize else {
            throw invalid(images, "header says \(shape), more than memory can hold")
        }
        let pixelsHeld = imageBytes.count - headerSize
        guard pixelsHeld >= pixels else {
            throw invalid(images, "truncated: header says \(shape), file holds \(pixelsHeld) bytes of pixels")
        }
        guard pixelsHeld == pixels else {
            throw invalid(images, "trailing bytes: header says \(shape), file holds \(pixelsHeld - pixels) bytes more")
        }

        let labelBytes = try contents(of: labels)
        let labelCount = try idxDimensions(labelBytes, path: labels, magic: IDXMagic.labels)[0]
        let held = labelBytes.count - 8
        guard held >= labelCount else {
            throw invalid(labels, "truncated: header says \(labelCount) labels, file holds \(held) bytes of labels")
        }
        guard held == labelCount else {
            throw invalid(labels, "trailing bytes: header says \(labelCount) labels, "
                                  + "file holds \(held - labelCount) bytes more")
        }
        guard labelCount == count else {
            throw invalid(labels, "label count mismatch: \(labelCount) labels for the \(count) images of \(images)")
        }

        let labelValues = labelBytes[8...].map { Int32($0) }
        return Dataset(inputs: rows * cols, classes: classCount(of: labelValues),
                       features: unitScaled(imageBytes, from: headerSize, count: pixels), labels: labelValues)
    }

    /// Magic numbers of IDX files: two zero bytes, the element type (0x08 is uint8), the number of dimensions.
    enum IDXMagic {
        static let images: UInt32 = 0x0000_0803
        static let labels: UInt32 = 0x0000_0801
    }

    /// The dimensions in the header of the IDX file `bytes`, after checking that it starts with `magic`.
    private static func idxDimensions(_ bytes: [UInt8], path: String, magic: UInt32) throws(SwiftPSError) -> [Int] {
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            throw invalid(path, "wrong magic: the file is gzip-compressed; gunzip it first")
        }
        let dimensions = Int(magic & 0xFF)
        let headerSize = 4 + 4 * dimensions
        guard bytes.count >= 4 else {
            throw invalid(path, "truncated: \(bytes.count) bytes, an IDX header needs \(headerSize)")
        }
        let found = bigEndianUInt32(bytes, at: 0)
        guard found == magic else {
            throw invalid(path, "wrong magic \(hex(found)) (\(describeIDX(found))), expected \(hex(magic)) "
                                + "(\(describeIDX(magic)))")
        }
        guard bytes.count >= headerSize else {
            throw invalid(path, "truncated: \(bytes.count) bytes, an IDX header needs \(headerSize)")
        }
        return (0..<dimensions).map { Int(bigEndianUInt32(bytes, at: 4 + 4 * $0)) }
    }

    private static func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// What an IDX magic number announces, for telling a user which file they passed instead.
    private static func describeIDX(_ magic: UInt32) -> String {
        switch magic {
        case IDXMagic.images: return "IDX uint8 images"
        case IDXMagic.labels: return "IDX uint8 labels"
        default: break
        }
        let types: [UInt32: String] = [0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32",
                                       0x0E: "float64"]
        guard magic >> 16 == 0, let type = types[magic >> 8 & 0xFF] else { return "not an IDX file" }
        return "IDX \(type) with \(magic & 0xFF) dimensions"
    }
}
