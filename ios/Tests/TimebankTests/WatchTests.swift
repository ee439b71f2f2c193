// `PhoneStore.watch()` against a real relay: a dispatch in the console reaches the watching
// volunteer within a second without a sync being asked for, the watch survives the relay being
// killed and started again, and cancelling its Task ends it at once.
import Foundation
import Timebank
import XCTest

final class WatchTests: StationTestCase {
    func testAConsoleDispatchReachesTheWatchingVolunteerAcrossARelayRestartUntilTheTaskIsCancelled() async throws {
        let volunteer = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let seen = Seen()
        let watching = Task {
            for try await event in try volunteer.watch() {
                seen.add(event)
            }
        }
        _ = try await seen.first(within: 10) { if case .synced = $0 { return true } else { return false } }

        // The relay dies and comes back on the same data and port: the watch finds it again.
        fixture.relay.kill()
        _ = try await seen.first(within: 10) { if case .disconnected = $0 { return true } else { return false } }
        try fixture.relay.restart()
        _ = try await seen.first(within: 20) { if case .connected = $0 { return true } else { return false } }
        _ = try await seen.first(within: 10) { if case .synced = $0 { return true } else { return false } }

        let console = try await ConsoleClient.signIn(relay: fixture.relay, station: fixture.station, coordinator: fixture.coordinator)
        let order = try await console.placeOrder(elder: fixture.elder, service: "meals", note: "lunch on Tuesday")
        let dispatched = Date()
        try await console.dispatch(order: order, to: fixture.volunteer)
        let synced = try await seen.first(within: 5) {
            if case .synced(_, let report) = $0 { return report.docsChanged > 0 } else { return false }
        }
        XCTAssertLessThan(Date().timeIntervalSince(dispatched), 1.0, "the dispatch reached the phone within a second")
        guard case .synced(let hinted, _) = synced else { return XCTFail("\(synced)") }
        XCTAssertEqual(hinted, ["member/\(fixture.volunteer)"], "the relay's hint set the sync off")
        XCTAssertEqual(try volunteer.store.assignments().first?.order, order)

        let cancelled = Date()
        watching.cancel()
        _ = await watching.result
        XCTAssertLessThan(Date().timeIntervalSince(cancelled), 3, "the watch ended with its Task")
    }
}

/// The events a watch yielded, taken in order by tests that wait for one with a deadline.
final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [WatchEvent] = []
    private var taken = 0

    func add(_ event: WatchEvent) {
        lock.lock()
        events.append(event)
        lock.unlock()
    }

    /// The first event not taken yet that `wanted` picks (those before it are passed over),
    /// within `seconds`.
    func first(within seconds: Double, _ wanted: (WatchEvent) -> Bool) async throws -> WatchEvent {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let found = take(wanted) {
                return found
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw RelayFailure(description: "not within \(seconds) s; the watch yielded \(yielded())")
    }

    private func yielded() -> [WatchEvent] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }

    private func take(_ wanted: (WatchEvent) -> Bool) -> WatchEvent? {
        lock.lock()
        defer { lock.unlock() }
        while taken < events.count {
            let event = events[taken]
            taken += 1
            if wanted(event) {
                return event
            }
        }
        return nil
    }
}
