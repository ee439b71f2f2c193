// The SwiftUI app cannot be built here (no Apple SDK), but its words can be checked: every key
// the app's sources and VisitBadge use has zh-Hans (the default) and English text, with the
// same placeholders, and the visit states read as the volunteers know them.
import Foundation
import Timebank
import XCTest

final class StringsTests: XCTestCase {
    private static let app = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("App/TimebankVolunteer")

    /// `"key" = "value";` lines of a Localizable.strings file.
    private func table(_ language: String) throws -> [String: String] {
        let url = Self.app.appendingPathComponent("Resources/\(language).lproj/Localizable.strings")
        let text = try String(contentsOf: url, encoding: .utf8)
        let line = try NSRegularExpression(pattern: #"^"((?:[^"\\]|\\.)+)"\s*=\s*"((?:[^"\\]|\\.)*)";\s*$"#, options: .anchorsMatchLines)
        var entries: [String: String] = [:]
        for match in line.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let key = Range(match.range(at: 1), in: text), let value = Range(match.range(at: 2), in: text) else { continue }
            XCTAssertNil(entries[String(text[key])], "\(language): \(text[key]) twice")
            entries[String(text[key])] = String(text[value])
        }
        XCTAssertFalse(entries.isEmpty, "no entries in \(url.path)")
        return entries
    }

    /// The dotted string keys the app's Swift sources use (`Text("visits.title")`,
    /// `Text("visits.minutes \(n)")` -> `visits.minutes`); SF Symbol names (`systemImage:`,
    /// `return "checkmark.seal.fill"`) and identifiers (`identifier = "org…"`) are not keys.
    private func keysUsedByTheApp() throws -> Set<String> {
        let literal = try NSRegularExpression(pattern: #"(?<!systemImage: )(?<!return )(?<!identifier = )"([a-z]+(?:\.[a-z_]+)+)(?:"| \\\()"#)
        var keys: Set<String> = []
        let files = FileManager.default.enumerator(at: Self.app, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let source = try String(contentsOf: file, encoding: .utf8)
            for match in literal.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                if let key = Range(match.range(at: 1), in: source) {
                    keys.insert(String(source[key]))
                }
            }
        }
        return keys
    }

    private func placeholders(_ value: String) -> [String] {
        value.components(separatedBy: "%").dropFirst().map { String($0.prefix(while: { $0.isLetter || $0 == "@" }).prefix(3)) }
    }

    func testBothLanguagesHaveTheSameKeysAndPlaceholders() throws {
        let chinese = try table("zh-Hans")
        let english = try table("en")
        XCTAssertEqual(Set(chinese.keys), Set(english.keys))
        for (key, value) in chinese {
            XCTAssertFalse(value.isEmpty, "zh-Hans \(key) is empty")
            XCTAssertEqual(placeholders(value), placeholders(english[key] ?? ""), key)
        }
    }

    func testEveryKeyTheAppUsesHasWordsInBothLanguages() throws {
        let used = try keysUsedByTheApp()
        XCTAssertGreaterThan(used.count, 20, "the app's sources were not found at \(Self.app.path)")
        for language in ["zh-Hans", "en"] {
            let keys = try table(language).keys
            for key in used {
                XCTAssertTrue(keys.contains { $0 == key || $0.hasPrefix(key + " %") }, "\(language) has no words for \(key)")
            }
        }
    }

    func testEveryVisitStateReadsAsTheVolunteersKnowIt() throws {
        let chinese = try table("zh-Hans")
        let english = try table("en")
        for key in VisitBadge.allKeys {
            XCTAssertNotNil(chinese[key], "zh-Hans has no words for \(key)")
            XCTAssertNotNil(english[key], "en has no words for \(key)")
        }
        XCTAssertEqual(chinese[VisitBadge(.savedOnPhone).key], "已保存在手机")
        XCTAssertEqual(chinese[VisitBadge(.sent).key], "已发送")
        XCTAssertEqual(chinese[VisitBadge(.approved).key], "已批准")
        XCTAssertEqual(english[VisitBadge(.savedOnPhone).key], "Saved on phone")
        XCTAssertEqual(VisitBadge(.rejected(reason: "没有人来")).reason, "没有人来")
    }
}
