// A real relay with one station and its people, made with the relay's admin commands, and
// phones enrolled with it through the wrapper - the setting every relay test starts from.
import Foundation
import Timebank
import XCTest

/// A relay (started here) with a station, a volunteer, an elder and a coordinator.
final class StationFixture {
    /// Temporary directory holding the relay's data and the phones' stores.
    let root: URL
    let relay: RelayProcess
    let station: String
    let volunteer: String
    let elder: String
    let coordinator: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("timebank-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        relay = try RelayProcess(data: root.appendingPathComponent("relay"))
        station = try relay.admin(["station", "create", "--name", "Caoyang"], field: "id")
        volunteer = try relay.admin(["member", "create", "--station", station, "--role", "volunteer", "--name", "Li Wei", "--birth-year", "1958"], field: "id")
        elder = try relay.admin(["member", "create", "--station", station, "--role", "elder", "--name", "Wang Fang", "--birth-year", "1940"], field: "id")
        coordinator = try relay.admin(["member", "create", "--station", station, "--role", "coordinator", "--name", "Zhao Min", "--birth-year", "1975"], field: "id")
    }

    /// A new phone of `member`, enrolled with a fresh one-time code into `root/name`.
    func enrollPhone(of member: String, name: String) async throws -> PhoneStore {
        let code = try relay.admin(["enroll-code", "--member", member], field: "code")
        return try await PhoneStore.enroll(directory: root.appendingPathComponent(name), relay: relay.url, code: code)
    }

    /// Stops the relay and removes every file the test made.
    func tearDown() {
        relay.kill()
        try? FileManager.default.removeItem(at: root)
    }
}

/// An XCTestCase with a fresh `StationFixture` per test.
class StationTestCase: XCTestCase {
    var fixture: StationFixture!

    override func setUpWithError() throws {
        fixture = try StationFixture()
    }

    override func tearDown() {
        fixture?.tearDown()
        fixture = nil
    }

    /// How far back the next visit `logVisit` makes starts, so a test's visits never overlap
    /// (overlapping visits go to review, which is not what these tests are about).
    private var slotsAgo = 0.0

    /// Logs a visit of `minutes` (at most 45) to the fixture's elder from a paper record, in
    /// a 50-minute slot of its own in the past (a check-in back-dated by more than the
    /// station's hour goes to review as filled in afterwards, which is not what these tests
    /// are about either); returns the visit id.
    func logVisit(on phone: PhoneStore, minutes: Double, note: String) throws -> String {
        precondition(minutes <= 45 && slotsAgo < 9, "logVisit fits up to 9 visits of at most 45 minutes")
        slotsAgo += 1
        let start = Date(timeIntervalSinceNow: -slotsAgo * 50 * 60)
        let past = PastVisit(elder: fixture.elder, service: "companionship", order: nil, start: start, end: start.addingTimeInterval(minutes * 60), note: note)
        return try phone.store.logVisit(past: past)
    }

    /// What the coordinator's phone sees after a sync: each visit id in the review queue.
    func visitsOnTheDesk(_ desk: PhoneStore) async throws -> [String] {
        _ = try await desk.sync()
        return try desk.store.reviewQueue().map(\.visit.id)
    }
}

/// Fails the test unless `body` throws a `TimebankError` that `matches`; returns it.
@discardableResult
func assertThrowsTimebankError<T>(
    _ body: @autoclosure () async throws -> T,
    _ matches: (TimebankError) -> Bool,
    file: StaticString = #filePath,
    line: UInt = #line
) async -> TimebankError? {
    do {
        _ = try await body()
        XCTFail("no error was thrown", file: file, line: line)
    } catch let error as TimebankError {
        XCTAssertTrue(matches(error), "unexpected error \(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("not a TimebankError: \(error)", file: file, line: line)
    }
    return nil
}
