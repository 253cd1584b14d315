public import Catalog
import Foundation

/// A build's state as one self-contained HTML page (`catalog report`): the funnel of every
/// stage with its reasons, each stage's recorded rates and times, and a gallery of samples
/// (thumbnail with mask outlines, caption with its nouns marked, crops, the verdict of every
/// stage), filterable by reason. Images are inlined as data URLs and the filter is a few lines
/// of inline script, so the file can be mailed or opened from anywhere.
public struct BuildReport {
    public struct Options: Sendable {
        /// Gallery samples per (stage, status, reason), and samples that every stage kept.
        public var perReason = 12
        public var complete = 48
        /// The long side of sample thumbnails and of crop thumbnails, in pixels.
        public var thumbnailSide = 224
        public var cropSide = 72
        /// Images larger than this many pixels are not decoded (the crop stage's limit).
        public var maxPixels = 64_000_000

        public init() {}
    }

    let catalog: Catalog
    let buildRoot: String
    let files: SourceFiles
    let options: Options

    /// - Parameter buildRoot: the folder holding the catalog; crop objects are relative to it.
    public init(catalog: Catalog, buildRoot: String, options: Options = Options()) throws {
        self.catalog = catalog
        self.buildRoot = buildRoot
        self.options = options
        files = try SourceFiles(catalog: catalog)
    }

    /// The page.
    public func html(title: String) throws -> String {
        let funnels = try catalog.stageFunnels()
        let timings = try catalog.stageTimings()
        let records = try catalog.sampleRecords(positions: catalog.galleryPositions(perReason: options.perReason, complete: options.complete))
        let asOf = timings.compactMap(\.lastFinished).max().map { Self.utc($0) } ?? "no finished run"
        var page = """
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Self.escape(title))</title><style>\(Self.css)</style></head><body>
            <h1>\(Self.escape(title))</h1>
            <p class="meta">Catalog schema \(try catalog.schemaVersion()); state as of the last finished run, \(asOf).</p>
            """
        page += Self.funnelSection(funnels)
        page += Self.timingSection(timings)
        page += galleryHeader(funnels, shown: records.count)
        page += "<div id=\"gallery\">\n"
        for record in records { page += card(record) }
        page += "</div>\n<script>\(Self.script)</script></body></html>\n"
        return page
    }

    // MARK: - Funnel and times

    /// A filter token: `stage/reason`, `subjects/reason`, or `complete`.
    static func token(_ stage: String, _ reason: String?) -> String {
        let name = stage == "crop subjects" ? "subjects" : stage
        return String((name + "/" + (reason ?? "unknown")).map { $0.isWhitespace ? "_" : $0 })
    }

    static func funnelSection(_ funnels: [Catalog.StageFunnel]) -> String {
        var out = """
            <h2>Funnel</h2><table id="funnel"><thead><tr><th>stage</th><th>in</th><th>ok</th><th>skipped</th><th>failed</th>
            <th class="barcol">share</th><th>not ok, by reason</th></tr></thead><tbody>
            """
        for f in funnels {
            let total = max(1, f.input)
            func pct(_ n: Int) -> String { String(format: "%.2f", Double(n) * 100 / Double(total)) }
            let reasons = f.reasons.map { r in
                "<a class=\"chip \(r.status)\" href=\"#filter=\(escape(token(f.stage, r.reason)))\">\(escape(r.reason)) <b>\(r.count)</b></a>"
            }.joined(separator: " ")
            out += """
                <tr data-stage="\(escape(f.stage))"><th>\(escape(f.stage))</th><td>\(f.input)</td><td>\(f.ok)</td><td>\(f.skipped)</td><td>\(f.failed)</td>
                <td class="barcol"><div class="bar"><span class="ok" style="width:\(pct(f.ok))%"></span><span class="skipped" style="width:\(pct(f.skipped))%"></span><span class="failed" style="width:\(pct(f.failed))%"></span></div></td>
                <td>\(reasons.isEmpty ? "—" : reasons)</td></tr>

                """
        }
        return out + "</tbody></table>\n"
    }

    static func timingSection(_ timings: [Catalog.StageTiming]) -> String {
        var out = """
            <h2>Rates and times</h2><table id="times"><thead><tr><th>stage</th><th>runs</th><th>workers</th><th>units done</th>
            <th>items</th><th>unit time (s)</th><th>items/s per worker</th><th>first start → last end (UTC)</th></tr></thead><tbody>
            """
        for t in timings {
            let rate = t.unitSeconds > 0 ? String(format: "%.1f", Double(t.items) / t.unitSeconds) : "—"
            let span = t.firstStarted.map { utc($0) + " → " + (t.lastFinished.map { utc($0) } ?? "unfinished") } ?? "—"
            out += """
                <tr data-stage="\(escape(t.stage))"><th>\(escape(t.stage))</th><td>\(t.finishedRuns) of \(t.runs) done</td><td>\(t.workers)</td>
                <td>\(t.units)</td><td>\(t.items)</td><td>\(String(format: "%.2f", t.unitSeconds))</td><td>\(rate)</td><td>\(span)</td></tr>

                """
        }
        return out + "</tbody></table>\n"
    }

    // MARK: - Gallery

    func galleryHeader(_ funnels: [Catalog.StageFunnel], shown: Int) -> String {
        var options = "<option value=\"all\">every sample shown</option><option value=\"complete\">kept by every stage</option>"
        for f in funnels {
            for r in f.reasons {
                let label = "\(f.stage): \(r.status) \(r.reason) (\(r.count))"
                options += "<option value=\"\(Self.escape(Self.token(f.stage, r.reason)))\">\(Self.escape(label))</option>"
            }
        }
        return """
            <h2>Samples</h2><p class="meta">\(shown) samples: up to \(self.options.perReason) of every reason at every stage, \
            and the first \(self.options.complete) that every stage kept. Outlines show each mask; \
            <mark>marked</mark> words are the nouns the tagger found.</p>
            <p><label>Show <select id="filter">\(options)</select></label> <span id="shown">\(shown)</span> shown</p>

            """
    }

    func card(_ record: Catalog.SampleRecord) -> String {
        var tokens = ["ingest/" + (record.status == "ok" ? "ok" : record.reason ?? "unknown")]
        tokens += record.stages.map { Self.token($0.stage, $0.status == "ok" ? "ok" : $0.reason) }
        tokens += record.subjects.filter { $0.status != "ok" }.map { Self.token("crop subjects", $0.reason) }
        let complete = record.status == "ok" && !record.stages.isEmpty
            && record.stages.allSatisfy { $0.status == "ok" || Catalog.advisoryStages.contains($0.stage) }
        if complete { tokens.append("complete") }
        let picture = thumbnail(record)
        var out = "<article class=\"card\" data-filters=\"\(Self.escape(tokens.joined(separator: " ")))\" data-id=\"\(Self.escape(record.sampleID ?? ""))\">"
        if let url = picture.url {
            out += "<img class=\"thumb\" src=\"\(url)\" alt=\"\(Self.escape(record.sampleID ?? record.sourceKey))\">"
        } else {
            out += "<div class=\"thumb missing\">\(Self.escape(picture.problem ?? "no image"))</div>"
        }
        if !picture.masks.isEmpty {
            out += "<ul class=\"legend\">"
            for mask in picture.masks {
                let subject = record.subjects.first { $0.k == mask.k }
                let verdict = subject.map { $0.status == "ok" ? "kept" : ($0.reason ?? $0.status) } ?? ""
                let (r, g, b) = mask.color
                out += "<li><i style=\"background:rgb(\(r),\(g),\(b))\"></i>\(Self.escape(mask.label))"
                out += verdict.isEmpty ? "" : " <small>\(Self.escape(verdict))</small>"
                out += mask.problem.map { " <small class=\"failed\">\(Self.escape($0))</small>" } ?? ""
                out += "</li>"
            }
            out += "</ul>"
        }
        out += "<p class=\"caption\">\(Self.markedCaption(record.caption ?? "", record.nouns))</p>"
        let crops = record.subjects.compactMap { s in s.cropObject.flatMap { cropThumbnail($0, side: options.cropSide) }.map { (s, $0) } }
        if !crops.isEmpty {
            out += "<div class=\"crops\">" + crops.map { "<img src=\"\($1)\" alt=\"\(Self.escape($0.label))\" title=\"\(Self.escape($0.label))\">" }.joined() + "</div>"
        }
        out += "<ol class=\"stages\">" + Self.badge("ingest", record.status, record.reason, record.message)
        for verdict in record.stages { out += Self.badge(verdict.stage, verdict.status, verdict.reason, verdict.message) }
        out += "</ol><p class=\"id\">\(Self.escape(record.sampleID ?? "no sample id")) · \(Self.escape(record.source))/\(Self.escape(record.sourceKey))</p></article>\n"
        return out
    }

    static func badge(_ stage: String, _ status: String, _ reason: String?, _ message: String?) -> String {
        let text = status == "ok" ? stage : "\(stage): \(reason ?? status)"
        return "<li class=\"\(escape(status))\" title=\"\(escape(message ?? status))\">\(escape(text))</li>"
    }

    /// The caption with each noun span (in `Character`s) in a `<mark>` titled with its lemma.
    static func markedCaption(_ caption: String, _ nouns: [Catalog.NounSpan]) -> String {
        let chars = Array(caption)
        var out = "", at = 0
        for noun in nouns.sorted(by: { $0.start < $1.start }) where noun.start >= at && noun.end <= chars.count && noun.start < noun.end {
            out += escape(String(chars[at..<noun.start]))
            out += "<mark title=\"\(escape(noun.lemma))\">\(escape(String(chars[noun.start..<noun.end])))</mark>"
            at = noun.end
        }
        return out + escape(String(chars[at...]))
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func utc(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    static let css = """
        body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin-bottom:20px}
        th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}td{font-variant-numeric:tabular-nums}
        .meta{color:#666}.bar{display:flex;width:220px;height:12px;background:#eee}.bar span{display:block;height:100%}
        .bar .ok,li.ok{background:#4caf50}.bar .skipped,li.skipped{background:#ffb300}.bar .failed,li.failed{background:#e53935}
        .chip{display:inline-block;margin:1px 2px;padding:0 6px;border-radius:9px;background:#fff3e0;color:#333;text-decoration:none}
        .chip.failed{background:#ffebee}#gallery{display:flex;flex-wrap:wrap;gap:12px}
        .card{width:240px;border:1px solid #ddd;border-radius:6px;padding:8px}.card[hidden]{display:none}
        .thumb{max-width:224px;display:block}.thumb.missing{height:80px;background:#f5f5f5;color:#a00;padding:6px;font-size:12px}
        .legend{list-style:none;padding:0;margin:4px 0;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
        small.failed{color:#a00}mark{background:#fff59d}.crops img{margin:2px;border:1px solid #eee;vertical-align:top}
        .stages{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:3px}.stages li{padding:0 5px;border-radius:3px;font-size:11px;color:#fff}
        .stages li.skipped{color:#222}.id{font-size:11px;color:#888;word-break:break-all;margin:2px 0}
        """

    /// The reason filter: a select, also driven by `#filter=<token>` in the address (the funnel's links).
    static let script = """
        const select = document.getElementById('filter');
        function show(value) {
          let n = 0;
          for (const card of document.querySelectorAll('.card')) {
            const on = value === 'all' || card.dataset.filters.split(' ').includes(value);
            card.hidden = !on;
            if (on) n++;
          }
          document.getElementById('shown').textContent = n;
        }
        function fromHash() {
          const m = location.hash.match(/^#filter=(.+)$/);
          const value = m ? decodeURIComponent(m[1]) : 'all';
          select.value = [...select.options].some(o => o.value === value) ? value : 'all';
          show(select.value);
        }
        select.addEventListener('change', () => { history.replaceState(null, '', '#filter=' + encodeURIComponent(select.value)); show(select.value); });
        window.addEventListener('hashchange', fromHash);
        // For checks in a headless browser: how many of the inlined images decoded.
        window.addEventListener('load', () => {
          document.body.dataset.imagesDecoded = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
        });
        fromHash();
        """
}
