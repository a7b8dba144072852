import SwiftPSCore

/// Where a job's data comes from, as written on the command line: `idx:IMAGES,LABELS`, `npy:FEATURES,LABELS`
/// or `csv:PATH` (label in the last column).
public enum DataSpec: Sendable, Equatable {
    case idx(images: String, labels: String)
    case npy(features: String, labels: String)
    case csv(path: String)

    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let kind = text[..<colon].lowercased(), rest = String(text[text.index(after: colon)...])
        let pair = rest.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        switch kind {
        case "idx" where pair.count == 2 && !pair[0].isEmpty && !pair[1].isEmpty:
            self = .idx(images: pair[0], labels: pair[1])
        case "npy" where pair.count == 2 && !pair[0].isEmpty && !pair[1].isEmpty:
            self = .npy(features: pair[0], labels: pair[1])
        case "csv" where !rest.isEmpty:
            self = .csv(path: rest)
        default:
            return nil
        }
    }

    /// Reads the files; errors name the file and the problem.
    public func load() throws(SwiftPSError) -> Dataset {
        switch self {
        case .idx(let images, let labels): try DataLoader.idx(images: images, labels: labels)
        case .npy(let features, let labels): try DataLoader.npy(features: features, labels: labels)
        case .csv(let path): try DataLoader.csv(path)
        }
    }
}
