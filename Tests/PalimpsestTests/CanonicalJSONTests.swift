import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

@Suite struct CanonicalJSONTests {
    @Test func escapesOnlyWhatRFC8785Escapes() {
        let value: JSONValue = ["s": .string("a\"b\\c\n\t\u{8}\u{C}\r\u{1}\u{1F}/é€😀\u{7F}")]
        #expect(CanonicalJSON.string(value) == #"{"s":"a\"b\\c\n\t\b\f\r\u0001\u001f/é€😀\#u{7F}"}"#)
    }

    @Test func sortsMembersByUTF16CodeUnits() {
        // RFC 8785 §3.2.3's example: sorted by UTF-16, U+1F600 (surrogates D83D…) sorts before U+FB33.
        let value: JSONValue = ["\u{FB33}": 1, "😀": 2, "a": 3, "\r": 4, "1": 5, "ö": 6]
        #expect(CanonicalJSON.string(value) == "{\"\\r\":4,\"1\":5,\"a\":3,\"ö\":6,\"😀\":2,\"\u{FB33}\":1}")
    }

    @Test func writesIntegersPlainAndNestsWithoutWhitespace() {
        let value: JSONValue = ["b": [1, -2, 0, true, false, nil], "a": ["z": "y"], "n": .int(9_007_199_254_740_991)]
        #expect(CanonicalJSON.string(value) == #"{"a":{"z":"y"},"b":[1,-2,0,true,false,null],"n":9007199254740991}"#)
    }

    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":"x\u00e9\n","d":-0.5,"e":{"f":[]}}"#,
        #"  [1, 2 , {"k" : "v"} ]  "#,
        #""\ud83d\ude00""#,
    ])
    func parsesWhatItShould(text: String) throws {
        let value = try JSONParser.parse(text)
        // Parsing the canonical form gives the same value back.
        #expect(try JSONParser.parse(CanonicalJSON.string(value)) == value)
    }

    @Test func keepsIntegersApartFromDoublesAndBooleans() throws {
        #expect(try JSONParser.parse("[1, 1.0, true, 1e2]") == [.int(1), .double(1), .bool(true), .double(100)])
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == "😀")
    }

    @Test(arguments: [
        ("", "ends too early"),
        ("{", "ends"),
        (#"{"a":1,"a":2}"#, "appears twice"),
        (#"{"a" 1}"#, "expected ':'"),
        ("[1,]", "unexpected character"),
        (#""tab\there""#.replacingOccurrences(of: "\\t", with: "\t"), "control character"),
        (#""\x""#, "invalid escape"),
        (#""\ud83d""#, "unpaired"),
        ("01", "unexpected characters after"),
        ("nul", "invalid literal"),
        ("{} {}", "unexpected characters after"),
    ])
    func rejectsMalformedJSON(text: String, complaint: String) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            (error as? JSONParser.Failure)?.message.contains(complaint) == true
        }
    }

    @Test func stringsRoundTripWhereverTheSpecialCharactersFall() throws {
        // Property: for random strings (special characters at every offset relative to the parser's
        // eight-byte strides), parsing the canonical form gives the string back.
        var rng = SeededGenerator(seed: 21)
        let pieces: [String] = ["a", "b", "\"", "\\", "\n", "\u{1}", "\u{1F}", " ", "é", "€", "😀", "~", "\u{7F}"]
        for _ in 0..<3000 {
            let s = (0..<Int.random(in: 0...40, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            #expect(try JSONParser.parse(CanonicalJSON.encode(.string(s))) == .string(s))
            #expect(try JSONParser.parse(CanonicalJSON.encode(["k": .string(s), "n": 1])) == ["k": .string(s), "n": 1])
        }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONParser.Failure.self) { _ = try JSONParser.parse(bytes) }
    }

    @Test func rejectsNestingBeyondTheLimit() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.Failure.self) { _ = try JSONParser.parse(deep) }
    }

    @Test func agreesWithPythonOnRandomDocuments() throws {
        // Property: for random documents, our canonical form equals Python's
        // json.dumps(sort_keys=True, separators=(",",":"), ensure_ascii=False) on BMP keys (where
        // code-point and UTF-16 order agree), and hashes the same.
        var rng = SeededGenerator(seed: 1)
        let alphabet = Array("aZ0 é\"\\\n\t\u{1}/€ü😀")
        func randomString() -> String { String((0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }) }
        func randomValue(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &rng) {
            case 0: return .int(Int64.random(in: -1_000_000...1_000_000, using: &rng))
            case 1: return .string(randomString())
            case 2: return .bool(Bool.random(using: &rng))
            case 3: return .null
            case 4: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(depth + 1) })
            default:
                var o: [String: JSONValue] = [:]
                for _ in 0..<Int.random(in: 0...4, using: &rng) { o[String(randomString().unicodeScalars.filter { $0.value < 0x10000 })] = randomValue(depth + 1) }
                return .object(o)
            }
        }
        let docs = (0..<200).map { _ in CanonicalJSON.string(randomValue(0)) }
        let script = """
            import json, sys
            for line in sys.stdin:
                line = line.rstrip("\\n")
                again = json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                if again != line: print("differs:", line, again); sys.exit(1)
            """
        let result = try run("/usr/bin/env", ["python3", "-c", script], input: Data((docs.joined(separator: "\n") + "\n").utf8))
        #expect(result.status == 0, "\(result.out)")
    }
}

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2023-12-28T15:00:00Z", "2023-12-28T15:00:00Z"),
        ("2023-12-28", "2023-12-28T00:00:00Z"),
        ("2023-12-28T15:00Z", "2023-12-28T15:00:00Z"),
        ("2023-12-28T09:00:00-06:00", "2023-12-28T15:00:00Z"),
        ("2023-12-28T16:30:00+0130", "2023-12-28T15:00:00Z"),
        ("2023-12-28 15:00:00.25Z", "2023-12-28T15:00:00.250Z"),
        ("2023-12-28T15:00:00.123456Z", "2023-12-28T15:00:00.123Z"),
        ("2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z"),
        ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ])
    func parsesAndWritesUTC(input: String, written: String) throws {
        let t = try #require(Timestamp(iso8601: input))
        #expect(t.iso8601 == written)
    }

    @Test(arguments: [
        "", "yesterday", "2023-12-28T15:00:00", "2023-13-01", "2023-02-29", "2023-12-28T24:00:00Z",
        "2023-12-28T15:60:00Z", "2023-12-28T15:00:00Zjunk", "23-12-28", "2023-12-28T15:00:00.Z", "2023-12-28T1:00Z",
    ])
    func rejectsWhatIsNotAnUnambiguousTime(input: String) {
        #expect(Timestamp(iso8601: input) == nil)
    }

    @Test func roundTripsRandomTimes() throws {
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<5000 {
            let t = Timestamp(milliseconds: Int64.random(in: -62_000_000_000_000...253_000_000_000_000, using: &rng))
            #expect(Timestamp(iso8601: t.iso8601) == t)
        }
    }

    @Test func agreesWithFoundationOnTheEpochOffset() throws {
        let t = try #require(Timestamp(iso8601: "2023-12-28T15:00:00Z"))
        let foundation = try #require(ISO8601DateFormatter().date(from: "2023-12-28T15:00:00Z"))
        #expect(t.milliseconds == Int64(foundation.timeIntervalSince1970 * 1000))
    }
}
