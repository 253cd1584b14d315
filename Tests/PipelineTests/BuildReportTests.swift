import BuildSupport
import Catalog
import Foundation
import Imaging
import Models
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing

/// `catalog report`: the HTML page of a build, checked as markup and as a real browser renders it.
@Suite(.serialized) struct BuildReportTests {
    /// A sample with defects through every stage (a random CLIP), and its report.
    static let build: Result<(dir: TemporaryDirectory, pipeline: String, report: String), any Error> = Result {
        let dir = TemporaryDirectory("build-report")
        _ = try SampleWriter(seed: 3, output: dir.appending("sample"), perLayout: 4, defects: true).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 5)
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 8, extra: """
            crop: {min_image_side: 200, min_box_area: 0.02}
            embed: {model: clip, batch: 8}
            """)
        for stage in ["ingest", "tag", "crop", "embed", "shard"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            guard run.status == 0 else { throw PipelineError(.io, "\(stage) failed: \(run.stderr)") }
        }
        let report = dir.appending("report/build.html")
        let run = try ExecutableRunner.run("catalog", ["report", "--pipeline", pipeline, "--output", report, "--per-reason", "3", "--complete", "5"])
        guard run.status == 0 else { throw PipelineError(.io, "catalog report failed: \(run.stderr)") }
        return (dir, pipeline, report)
    }

    static func attributeValues(_ name: String, in html: String) -> [String] {
        html.components(separatedBy: name + "=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test func funnelAndGalleryMatchTheCatalog() throws {
        let (dir, _, report) = try Self.build.get()
        let html = try String(contentsOfFile: report, encoding: .utf8)
        let catalog = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true)
        let funnels = try catalog.stageFunnels()
        #expect(funnels.map(\.stage) == ["ingest", "tag", "crop", "embed", "shard", "crop subjects"])
        #expect(funnels.contains { !$0.reasons.isEmpty }, "the defects give reasons")
        for f in funnels {
            #expect(html.contains("<tr data-stage=\"\(f.stage)\"><th>\(f.stage)</th><td>\(f.input)</td><td>\(f.ok)</td><td>\(f.skipped)</td><td>\(f.failed)</td>"),
                    "funnel row of \(f.stage)")
            for r in f.reasons {
                #expect(html.contains("href=\"#filter=\(BuildReport.token(f.stage, r.reason))\">\(r.reason) <b>\(r.count)</b>"), "\(f.stage) \(r.reason)")
            }
        }
        #expect(try catalog.stageTimings().map(\.stage) == ["ingest", "tag", "crop", "embed", "shard"])
        // Gallery: 3 per reason at most plus 5 complete, each card with its filters.
        let filters = Self.attributeValues("data-filters", in: html)
        #expect(filters.filter { $0.split(separator: " ").contains("complete") }.count == 5)
        for f in funnels {
            for r in f.reasons {
                let n = filters.filter { $0.split(separator: " ").contains(Substring(BuildReport.token(f.stage, r.reason))) }.count
                #expect(n >= min(3, r.count), "\(f.stage) \(r.reason): \(n) cards")
            }
        }
        // Kept subjects show their crops; nouns are marked.
        #expect(html.contains("<div class=\"crops\"><img src=\"data:image/png;base64,"))
        #expect(html.contains("<mark title=\""))
        #expect(!html.contains("src=\"file:") && !html.contains("src=\"http"), "self-contained")
    }

    @Test func markedCaptionAndOutlines() {
        let caption = "Two dogs & a café <cat>"
        let marked = BuildReport.markedCaption(caption, [Catalog.NounSpan(start: 4, end: 8, lemma: "dog"), Catalog.NounSpan(start: 13, end: 17, lemma: "café")])
        #expect(marked == "Two <mark title=\"dog\">dogs</mark> &amp; a <mark title=\"café\">café</mark> &lt;cat&gt;")
        var image = Raster(width: 5, height: 5, channels: 3, fill: 0)
        var bits = [UInt8](repeating: 0, count: 25)
        for y in 1...3 { for x in 1...3 { bits[y * 5 + x] = 1 } }
        BuildReport.outline(Mask(width: 5, height: 5, bits: bits), color: (200, 100, 40), on: &image)
        #expect(Array(image.pixels[(1 * 5 + 1) * 3..<(1 * 5 + 1) * 3 + 3]) == [200, 100, 40], "boundary")
        #expect(Array(image.pixels[(2 * 5 + 2) * 3..<(2 * 5 + 2) * 3 + 3]) == [50, 25, 10], "interior tinted a quarter")
        #expect(Array(image.pixels[0..<3]) == [0, 0, 0], "outside untouched")
    }

    /// Debian's Chromium binary, where installed.
    static var browser: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func browserArguments(_ dir: TemporaryDirectory) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--user-data-dir=" + dir.appending("chromium-profile"), "--virtual-time-budget=5000"]
    }

    @Test func aRealBrowserRendersAndFilters() throws {
        guard let browser = Self.browser else {
            SkippedCheck.report("build report in headless Chromium", cause: .package, because: "no chromium (make test installs Debian's chromium)")
            return
        }
        let (dir, _, report) = try Self.build.get()
        let html = try String(contentsOfFile: report, encoding: .utf8)
        let catalog = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true)
        let reason = try #require(try catalog.stageFunnels().first { $0.stage == "crop" }?.reasons.first)
        let token = BuildReport.token("crop", reason.reason)
        let url = URL(fileURLWithPath: report).absoluteString + "#filter=" + token
        let dump = Shell.run(browser, Self.browserArguments(dir) + ["--dump-dom", url], timeout: 120, separateErrors: true)
        #expect(dump.status == 0, "\(dump.errors)")
        let dom = dump.output
        // The script ran: every card not matching the filter is hidden, every matching one shown.
        let cards = dom.components(separatedBy: "<article ").dropFirst()
        #expect(cards.count == html.components(separatedBy: "<article ").count - 1)
        var shown = 0
        for card in cards {
            let head = String(card.prefix { $0 != ">" })
            let matches = (Self.attributeValues("data-filters", in: head).first ?? "").split(separator: " ").contains(Substring(token))
            #expect(head.contains("hidden") == !matches, "\(head)")
            if matches { shown += 1 }
        }
        #expect(shown > 0)
        #expect(dom.contains("<span id=\"shown\">\(shown)</span>"))
        #expect(dom.contains("<option value=\"\(token)\" selected") || dom.contains("id=\"filter\""))
        // Every inlined image decoded in the browser.
        let images = html.components(separatedBy: "<img ").count - 1
        #expect(images > 0)
        #expect(dom.contains("data-images-decoded=\"\(images)\""), "\(images) images; body: \(dom.components(separatedBy: "<body").dropFirst().first?.prefix(120) ?? "")")
        // A screenshot shows the funnel's bars (the ok green) and the mask legend's first swatch
        // (the first outline colour), both drawn by CSS, so exactly those colours.
        let shot = dir.appending("report.png")
        let capture = Shell.run(browser, Self.browserArguments(dir) + ["--screenshot=" + shot, "--window-size=1280,1600", URL(fileURLWithPath: report).absoluteString],
                                timeout: 120, separateErrors: true)
        #expect(capture.status == 0, "\(capture.errors)")
        let raster = try ImageCodec.decodeRGB(Array(try Data(contentsOf: URL(fileURLWithPath: shot)))).rgb()
        func has(_ rgb: (Int, Int, Int), tolerance: Int) -> Bool {
            stride(from: 0, to: raster.pixels.count, by: 3).contains { i in
                abs(Int(raster.pixels[i]) - rgb.0) <= tolerance && abs(Int(raster.pixels[i + 1]) - rgb.1) <= tolerance && abs(Int(raster.pixels[i + 2]) - rgb.2) <= tolerance
            }
        }
        #expect(has((76, 175, 80), tolerance: 2), "the ok bars")
        #expect(has((230, 25, 75), tolerance: 2), "a mask legend swatch")
    }
}
