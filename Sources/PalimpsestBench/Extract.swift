import Foundation
import HTMLExtraction

/// `PalimpsestBench extract DIR OUT.json RUNS`: the main text of every page in DIR (`*.html`,
/// decoded as capture decodes them) written as `{id: {"articleBody": …}}` for the benchmark's
/// scorer, and the extraction speed on one core: the median over RUNS of the whole set's time.
func benchExtract(directory: String, output: String, runs: Int) {
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasSuffix(".html") }.sorted()
    guard !files.isEmpty else { usage("no .html files in \(directory)") }
    var pages: [(String, [UInt8])] = []
    var totalBytes = 0
    for file in files {
        guard let data = FileManager.default.contents(atPath: directory + "/" + file) else { usage("cannot read \(file)") }
        let body = [UInt8](data)
        let utf8 = (try? PageDecoder.decode(body, contentType: nil))?.utf8 ?? body
        pages.append((String(file.dropLast(5)), utf8))
        totalBytes += body.count
    }
    let extractor = ArticleExtractor()
    var predictions: [String: [String: String]] = [:]
    var times: [Double] = []
    for run in 0..<max(1, runs) {
        let start = now()
        for (id, page) in pages {
            let result = extractor.extract(utf8: page)
            if run == 0 { predictions[id] = ["articleBody": result.text] }
        }
        times.append(now() - start)
    }
    times.sort()
    let median = percentile(times, 0.5)
    let json = try! JSONSerialization.data(withJSONObject: predictions, options: [.sortedKeys])
    FileManager.default.createFile(atPath: output, contents: json)
    print(String(format: "RESULT mode=extract pages=%d bytes=%d seconds=%.3f mb_per_s=%.1f", pages.count, totalBytes, median, Double(totalBytes) / median / 1e6))
}
