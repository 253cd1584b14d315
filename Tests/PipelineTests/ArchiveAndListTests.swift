import BuildSupport
import Catalog
import Foundation
@testable import Pipeline
import PipelineTestSupport
import Testing

@Suite struct TarReaderTests {
    func members(_ path: String) throws -> ([TarReader.Member], PipelineError?) {
        var reader = try TarReader(path: path)
        defer { reader.close() }
        var out: [TarReader.Member] = []
        while let m = reader.next() { out.append(m) }
        return (out, reader.error)
    }

    /// A PAX header whose record length is shorter than its own "LEN " prefix trapped the reader
    /// (found by the fuzz harness; the input is fuzz/regressions/tar-short-pax-record.tar). It is now
    /// ignored like any malformed record and the archive reads on.
    @Test func shortPAXRecordsDoNotTrap() throws {
        let dir = TemporaryDirectory("pax")
        var tar = TarWriter()
        tar.add(name: "PaxHeaders/a", data: Array("1 x\n3 p\n25 path=renamed/a.txt\n".utf8), type: UInt8(ascii: "x"))
        tar.add(name: "a.txt", data: Array("hello".utf8))
        let path = try dir.write(tar.finish(), to: "pax.tar")
        let (found, _) = try members(path)
        #expect(found.map(\.name).last?.hasSuffix("a.txt") == true)
        let regression = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../fuzz/regressions/tar-short-pax-record.tar").standardizedFileURL.path
        _ = try members(regression)
    }

    @Test func writerAndReaderAgreeIncludingLongNamesAndLinks() throws {
        let dir = TemporaryDirectory("tar")
        let long = String(repeating: "d/", count: 70) + "key.jpg"
        var tar = TarWriter()
        tar.add(name: "a.txt", data: Array("hello".utf8))
        tar.add(name: long, data: [UInt8](repeating: 7, count: 1000))
        tar.add(name: "l.jpg", data: [], type: UInt8(ascii: "2"), linkName: "/etc/passwd")
        let path = try dir.write(tar.finish(), to: "x.tar")
        let (found, error) = try members(path)
        #expect(error == nil)
        #expect(found.map(\.name) == ["a.txt", long, "l.jpg"])
        #expect(found[1].size == 1000 && found[1].isFile)
        #expect(found[2].isLink && found[2].linkName == "/etc/passwd")
        let data = try FileIO.read(path, offset: found[0].offset, size: found[0].size, maxBytes: 100)
        #expect(String(decoding: data, as: UTF8.self) == "hello")
    }

    @Test func readsGNUTarOutput() throws {
        guard FileManager.default.fileExists(atPath: "/bin/tar") || FileManager.default.fileExists(atPath: "/usr/bin/tar") else { return }
        let dir = TemporaryDirectory("gnutar")
        let long = String(repeating: "n", count: 150) + ".txt"
        try dir.write("payload", to: "in/" + long)
        try dir.write("x", to: "in/short.json")
        #expect(Shell.run("tar", ["--format=gnu", "-C", dir.appending("in"), "-cf", dir.appending("g.tar"), long, "short.json"]).status == 0)
        let (found, error) = try members(dir.appending("g.tar"))
        #expect(error == nil)
        #expect(found.map(\.name) == [long, "short.json"])
        #expect(found[0].size == 7)
    }

    @Test func corruptAndTruncatedArchivesStopWithAnError() throws {
        let dir = TemporaryDirectory("badtar")
        var tar = TarWriter()
        tar.add(name: "a.txt", data: [UInt8](repeating: 1, count: 600))
        tar.add(name: "b.txt", data: [UInt8](repeating: 2, count: 600))
        let bytes = tar.finish()
        var corrupt = bytes
        corrupt[1536 + 10] ^= 0x55 // second header's name: checksum mismatch
        let (c, cError) = try members(try dir.write(corrupt, to: "c.tar"))
        #expect(c.map(\.name) == ["a.txt"])
        #expect(cError?.message.contains("checksum") == true)
        let (t, tError) = try members(try dir.write(Array(bytes.prefix(700)), to: "t.tar"))
        #expect(t.isEmpty)
        #expect(tError?.message.contains("truncated") == true)
    }

    @Test func memberChecksRefuseEscapes() {
        func member(_ name: String, type: UInt8 = UInt8(ascii: "0")) -> TarReader.Member {
            TarReader.Member(name: name, type: type, linkName: "", offset: 0, size: 0)
        }
        #expect(WebDatasetSource.check(member("../x.jpg"))?.reason == .pathEscape)
        #expect(WebDatasetSource.check(member("a/../../x.jpg"))?.reason == .pathEscape)
        #expect(WebDatasetSource.check(member("/etc/x.jpg"))?.reason == .pathEscape)
        #expect(WebDatasetSource.check(member("x.jpg", type: UInt8(ascii: "2")))?.reason == .symlink)
        #expect(WebDatasetSource.check(member("x.jpg", type: UInt8(ascii: "1")))?.reason == .symlink)
        #expect(WebDatasetSource.check(member("dir/x.jpg")) == nil)
    }

    @Test func keysSplitAtTheFirstDotOfTheBaseName() {
        #expect(SampleFiles.split("a/b.c/000001.seg.png") == ("a/b.c/000001", "seg.png"))
        #expect(SampleFiles.split("k.JPG") == ("k", "jpg"))
        #expect(SampleFiles.split("noext") == ("noext", ""))
    }
}

@Suite struct DelimitedReaderTests {
    @Test func quotedFieldsSeparatorsNewlinesAndCRLF() throws {
        let dir = TemporaryDirectory("csv")
        let path = try dir.write("key,caption\r\n1,\"a mug, red\"\r\n2,\"said \"\"hi\"\"\nover two lines\"\n3,plain", to: "x.csv")
        var reader = DelimitedReader(path: path, separator: 0x2C)
        var rows: [[String]] = []
        var lines: [Int] = []
        while let r = reader.next() {
            rows.append(r.map { String(decoding: $0, as: UTF8.self) })
            lines.append(reader.lineNumber)
        }
        #expect(rows == [["key", "caption"], ["1", "a mug, red"], ["2", "said \"hi\"\nover two lines"], ["3", "plain"]])
        #expect(lines == [1, 2, 3, 5])
    }

    @Test func lineReaderHandlesLongLinesAcrossChunks() throws {
        let dir = TemporaryDirectory("lines")
        let long = String(repeating: "x", count: 200_000)
        let path = try dir.write("a\n\(long)\nb", to: "l.txt")
        var reader = LineReader(path: path)
        var lines: [Int] = []
        while let l = reader.next() { lines.append(l.count) }
        #expect(lines == [1, 200_000, 1])
    }
}

@Suite struct FileIOTests {
    @Test func confinementRefusesEscapes() throws {
        let dir = TemporaryDirectory("confine")
        try dir.write("x", to: "root/in.txt")
        try dir.write("secret", to: "outside.txt")
        try FileManager.default.createSymbolicLink(atPath: dir.appending("root/out.txt"), withDestinationPath: dir.appending("outside.txt"))
        try FileManager.default.createSymbolicLink(atPath: dir.appending("root/ok.txt"), withDestinationPath: "in.txt")
        try FileManager.default.createSymbolicLink(atPath: dir.appending("root/sub"), withDestinationPath: dir.path)
        let root = dir.appending("root")
        func reason(_ p: String) -> Reason? {
            do { _ = try FileIO.confine(p, to: root); return nil } catch { return error.reason }
        }
        #expect(reason("in.txt") == nil)
        #expect(reason("ok.txt") == nil)
        #expect(reason("./a/../in.txt") == .missingFile || reason("./a/../in.txt") == nil)
        #expect(reason("../outside.txt") == .pathEscape)
        #expect(reason("a/../../outside.txt") == .pathEscape)
        #expect(reason("/etc/hostname") == .pathEscape)
        #expect(reason("out.txt") == .pathEscape)
        #expect(reason("sub/outside.txt") == .pathEscape)
        #expect(reason("nothere.txt") == .missingFile)
    }

    @Test func readsAreBounded() throws {
        let dir = TemporaryDirectory("read")
        let path = try dir.write([UInt8](repeating: 1, count: 100), to: "f")
        #expect(throws: FileIO.Refusal.self) { try FileIO.read(path, maxBytes: 99) }
        #expect(try FileIO.read(path, maxBytes: 100).count == 100)
        #expect(throws: FileIO.Refusal.self) { try FileIO.read(path, offset: 90, size: 20, maxBytes: 100) }
        #expect(throws: FileIO.Refusal.self) { try FileIO.read(dir.path, maxBytes: 100) }
    }

    @Test func atomicWriteRecordsDigestAndSweepRemovesTemporaries() throws {
        let dir = TemporaryDirectory("atomic")
        let result = try AtomicFile.write(Array("abc".utf8), to: dir.appending("objects/a/b.bin"))
        #expect(result.bytes == 3)
        #expect(result.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        try dir.write("partial", to: "objects/a/.tmp-w0of2-c.bin")
        try dir.write("partial", to: "objects/a/.tmp-w1of2-d.bin")
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("objects"), tag: "w0of2").count == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appending("objects/a/.tmp-w1of2-d.bin")))
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("objects")).count == 1)
        #expect(throws: PipelineError.self) { try AtomicFile.write([1], to: "/proc/eclipse-cannot-write/x") }
    }
}
