import Foundation
import Imaging

/// The evaluation's reports: Markdown, JSON and one self-contained HTML page (tables, inline SVG
/// bar charts, thumbnails of each subject's best and worst generated image), with the published
/// DreamBench rows beside ours.
public enum DreamBenchReport {
    /// Published rows (dreambench.md §3, eclipse.md §3): method, DINO, CLIP-I, CLIP-T.
    public static let published: [(String, Double, Double, Double?)] = [
        ("Real images (DreamBooth Table 1)", 0.774, 0.885, nil),
        ("DreamBooth, SD (DreamBooth Table 1)", 0.668, 0.803, 0.305),
        ("Textual Inversion, SD", 0.569, 0.780, 0.255),
        ("Custom Diffusion, SDv1.5", 0.643, 0.790, 0.305),
        ("BLIP-Diffusion*, SDv1.5", 0.603, 0.793, 0.291),
        ("IP-Adapter*, SDXL", 0.613, 0.810, 0.292),
        ("Kosmos-G*, SDv1.5", 0.618, 0.822, 0.250),
        ("λ-ECLIPSE*, Kandinsky v2.2 (v2 Table 2)", 0.613, 0.783, 0.307),
    ]

    static func f(_ x: Double) -> String { x.isNaN ? "–" : String(format: "%.4f", x) }
    static func ci(_ e: DreamBenchEvaluation.Estimate) -> String { "\(f(e.mean)) [\(f(e.low)), \(f(e.high))]" }

    public static func json(_ e: DreamBenchEvaluation) -> String {
        func est(_ x: DreamBenchEvaluation.Estimate) -> [String: Any] {
            ["mean": x.mean.isNaN ? NSNull() : x.mean, "ci95": x.count > 0 ? [x.low, x.high] : [], "n": x.count]
        }
        let overall = e.overall()
        var object: [String: Any] = [
            "benchmark": "DreamBench", "pairing": e.pairing.rawValue, "models": e.models, "images": e.scores.count,
            "bootstrap_samples": e.bootstrapSamples, "seed": e.seed,
            "overall": Dictionary(uniqueKeysWithValues: DreamBenchEvaluation.Metric.allCases.map { ($0.rawValue, est(overall[$0]!)) }),
            "subjects": e.perSubject().map { s in
                ["subject": s.subject, "images": s.count,
                 "scores": Dictionary(uniqueKeysWithValues: DreamBenchEvaluation.Metric.allCases.map { ($0.rawValue, est(s.values[$0]!)) })] as [String: Any]
            },
            "prompts": e.perPrompt().map { p in
                ["subject": p.subject, "prompt": p.prompt, "text": p.text, "images": p.count,
                 "scores": Dictionary(uniqueKeysWithValues: p.values.map { ($0.key.rawValue, $0.value) })] as [String: Any]
            },
            "published": published.map { ["method": $0.0, "DINO": $0.1, "CLIP-I": $0.2, "CLIP-T": $0.3 ?? NSNull()] as [String: Any] },
        ]
        if let real = e.realRowMeans() {
            object["real_images"] = ["DINO": real.dino, "CLIP-I": real.clipI, "subjects": real.subjects,
                                     "per_subject": e.realRow.sorted { $0.key < $1.key }.map { ["subject": $0.key, "DINO": $0.value.dino, "CLIP-I": $0.value.clipI] }]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func markdown(_ e: DreamBenchEvaluation) -> String {
        var out = "# DreamBench evaluation\n\n"
        out += "Pairing: \(e.pairing.rawValue); \(e.scores.count) generated images; 95 % bootstrap intervals (\(e.bootstrapSamples) resamples, seed \(e.seed)).\n"
        for (k, v) in e.models.sorted(by: { $0.key < $1.key }) { out += "- \(k): \(v)\n" }
        if e.models.values.contains(where: { $0.contains("RANDOM") }) {
            out += "\n**The models have random weights: these scores test the pipeline and mean nothing.**\n"
        }
        out += "\n| row | DINO | CLIP-I | CLIP-T |\n|---|---|---|---|\n"
        if !e.scores.isEmpty {
            let o = e.overall()
            out += "| **ours** (macro over \(o[.dino]!.count) subjects) | \(ci(o[.dino]!)) | \(ci(o[.clipI]!)) | \(ci(o[.clipT]!)) |\n"
        }
        if let real = e.realRowMeans() { out += "| ours: real images vs each other (\(real.subjects) subjects) | \(f(real.dino)) | \(f(real.clipI)) | – |\n" }
        for (name, d, c, t) in published { out += "| published: \(name) | \(f(d)) | \(f(c)) | \(t.map(f) ?? "–") |\n" }
        if !e.scores.isEmpty {
            out += "\n## Per subject\n\n| subject | images | DINO | CLIP-I | CLIP-T |\n|---|---|---|---|---|\n"
            for s in e.perSubject() { out += "| \(s.subject) | \(s.count) | \(ci(s.values[.dino]!)) | \(ci(s.values[.clipI]!)) | \(ci(s.values[.clipT]!)) |\n" }
            out += "\n## Per prompt\n\n| subject | prompt | text | images | DINO | CLIP-I | CLIP-T |\n|---|---|---|---|---|---|---|\n"
            for p in e.perPrompt() {
                out += "| \(p.subject) | \(p.prompt) | \(p.text) | \(p.count) | \(f(p.values[.dino]!)) | \(f(p.values[.clipI]!)) | \(f(p.values[.clipT]!)) |\n"
            }
        }
        if !e.realRow.isEmpty {
            out += "\n## Real images against each other\n\n| subject | DINO | CLIP-I |\n|---|---|---|\n"
            for (s, v) in e.realRow.sorted(by: { $0.key < $1.key }) { out += "| \(s) | \(f(v.dino)) | \(f(v.clipI)) |\n" }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A 96-pixel PNG thumbnail as a data URL.
    static func thumbnail(_ path: String) -> String? {
        guard let bytes = try? Data(contentsOf: URL(fileURLWithPath: path)),
              let image = try? ImageCodec.decodeRGB(Array(bytes)) else { return nil }
        let scale = 96.0 / Double(max(image.width, image.height))
        let small = Resample.resize(image.rgb(), width: max(1, Int(Double(image.width) * scale)), height: max(1, Int(Double(image.height) * scale)),
                                    filter: .bicubic)
        guard let png = try? ImageCodec.encodePNG(small) else { return nil }
        return "data:image/png;base64," + Data(png).base64EncodedString()
    }

    /// Horizontal bars, one per row: scaled to 0-1, or to -1-1 about a zero line when a value is
    /// negative (cosine scores of random weights can be), negative bars drawn left of it and
    /// paler. Each value is written at the right.
    static func bars(_ rows: [(String, Double)], color: String) -> String {
        let height = 18, width = 420, label = 170
        let signed = rows.contains { $0.1 < 0 }
        let zero = label + (signed ? width / 2 : 0), scale = Double(signed ? width / 2 : width)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(label + width + 60)\" height=\"\(rows.count * height + 4)\">"
        for (i, (name, value)) in rows.enumerated() {
            let y = i * height + 2
            let clamped = value.isNaN ? 0 : max(signed ? -1 : 0, min(1, value))
            let w = Int((abs(clamped) * scale).rounded())
            let x = clamped < 0 ? zero - w : zero
            svg += "<text x=\"\(label - 6)\" y=\"\(y + 13)\" font-size=\"12\" text-anchor=\"end\">\(escape(name))</text>"
            svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(height - 4)\" fill=\"\(color)\"\(clamped < 0 ? " fill-opacity=\"0.55\"" : "")/>"
            svg += "<text x=\"\(label + width + 4)\" y=\"\(y + 13)\" font-size=\"11\">\(f(value))</text>"
        }
        if signed {
            svg += "<line x1=\"\(zero)\" y1=\"0\" x2=\"\(zero)\" y2=\"\(rows.count * height + 4)\" stroke=\"#333\" stroke-width=\"1\"/>"
        }
        return svg + "</svg>"
    }

    public static func html(_ e: DreamBenchEvaluation) -> String {
        var out = """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>DreamBench evaluation</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}
            td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}
            .warn{background:#fee;padding:.5em;border:1px solid #c00}img{margin:2px;border:1px solid #ddd}
            tr.published td{color:#555;font-style:italic}</style></head><body>
            <h1>DreamBench evaluation</h1>
            """
        out += "<p>Pairing: \(e.pairing.rawValue); \(e.scores.count) generated images; 95 % bootstrap intervals.</p><ul>"
        for (k, v) in e.models.sorted(by: { $0.key < $1.key }) { out += "<li>\(escape(k)): \(escape(v))</li>" }
        out += "</ul>"
        if e.models.values.contains(where: { $0.contains("RANDOM") }) {
            out += "<p class=\"warn\">The models have random weights: these scores test the pipeline and mean nothing.</p>"
        }
        out += "<table><tr><th>row</th><th>DINO</th><th>CLIP-I</th><th>CLIP-T</th></tr>"
        if !e.scores.isEmpty {
            let o = e.overall()
            out += "<tr><td><b>ours</b></td><td>\(ci(o[.dino]!))</td><td>\(ci(o[.clipI]!))</td><td>\(ci(o[.clipT]!))</td></tr>"
        }
        if let real = e.realRowMeans() { out += "<tr><td>ours: real images</td><td>\(f(real.dino))</td><td>\(f(real.clipI))</td><td>–</td></tr>" }
        for (name, d, c, t) in published {
            out += "<tr class=\"published\"><td>published: \(escape(name))</td><td>\(f(d))</td><td>\(f(c))</td><td>\(t.map(f) ?? "–")</td></tr>"
        }
        out += "</table>"
        let subjects = e.perSubject()
        if !subjects.isEmpty {
            for (metric, color) in [(DreamBenchEvaluation.Metric.dino, "#4a78c2"), (.clipI, "#59a55b"), (.clipT, "#c47a2c")] {
                out += "<h2>\(metric.rawValue) per subject</h2>" + bars(subjects.map { ($0.subject, $0.values[metric]!.mean) }, color: color)
            }
            out += "<h2>Best and worst image per subject (by DINO)</h2><table><tr><th>subject</th><th>best</th><th>worst</th></tr>"
            let grouped = Dictionary(grouping: e.scores, by: \.subject)
            for s in subjects {
                let images = grouped[s.subject]!.sorted { $0.dino > $1.dino }
                func cell(_ x: DreamBenchEvaluation.ImageScore) -> String {
                    (thumbnail(x.path).map { "<img src=\"\($0)\" title=\"\(escape(x.path))\">" } ?? "") + "<br>DINO \(f(x.dino))"
                }
                out += "<tr><td>\(escape(s.subject))</td><td>\(cell(images.first!))</td><td>\(cell(images.last!))</td></tr>"
            }
            out += "</table><h2>Per prompt</h2><table><tr><th>subject</th><th>prompt</th><th>images</th><th>DINO</th><th>CLIP-I</th><th>CLIP-T</th></tr>"
            for p in e.perPrompt() {
                out += "<tr><td>\(escape(p.subject))</td><td>\(escape(p.text))</td><td>\(p.count)</td><td>\(f(p.values[.dino]!))</td><td>\(f(p.values[.clipI]!))</td><td>\(f(p.values[.clipT]!))</td></tr>"
            }
            out += "</table>"
        }
        return out + "</body></html>\n"
    }
}
