// `PhoneStore.sync()` under faults a phone meets: a hung relay and a Task cancelled while it
// waits, and a relay killed in the middle of syncs - each resumed later without losing or
// duplicating a visit.
import Foundation
import Timebank
import XCTest

final class SyncTests: StationTestCase {
    func testCancellingTheTaskStopsASyncWaitingOnAHungRelayAtOnce() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let visitId = try logVisit(on: phone, minutes: 45, note: "")

        fixture.relay.freeze()  // the socket accepts; nothing answers (the relay's timeout is a minute)
        let sync = Task { try await phone.sync() }
        try await Task.sleep(nanoseconds: 300_000_000)
        let cancelledAt = Date()
        sync.cancel()
        do {
            _ = try await sync.value
            XCTFail("the sync finished against a hung relay")
        } catch is CancellationError {
            XCTAssertLessThan(Date().timeIntervalSince(cancelledAt), 2, "the cancelled sync kept the caller waiting")
        }
        // The relay still hangs, and the phone keeps working: the volunteer checks in at the
        // next home at once (the cancelled request does not hold the store).
        let checkingIn = Date()
        let nextVisit = try await phone.perform { [elder = fixture.elder] store in
            try store.checkIn(elder: elder, service: "meals", orderId: nil, at: nil)
        }
        XCTAssertLessThan(Date().timeIntervalSince(checkingIn), 2, "the cancelled sync kept the store locked")
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .savedOnPhone)
        XCTAssertEqual(try phone.store.visit(visitId: nextVisit).state, .checkedIn)

        // The relay wakes up; the next sync sends the visit, once.
        fixture.relay.thaw()
        _ = try await phone.sync()
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .sent)
        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        let onTheDesk = try await visitsOnTheDesk(desk)
        XCTAssertEqual(onTheDesk.filter { $0 == visitId }.count, 1, "\(onTheDesk)")
    }

    func testASyncInACancelledTaskThrowsCancellationErrorWithoutContactingTheRelay() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        _ = try logVisit(on: phone, minutes: 20, note: "")
        fixture.relay.kill()  // would be Offline if the sync tried
        let sync = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await phone.sync()
        }
        do {
            _ = try await sync.value
            XCTFail("a cancelled Task synced")
        } catch {
            XCTAssertTrue(error is CancellationError, "expected CancellationError, got \(error)")
        }
    }

    func testSyncsInterruptedByAKilledRelayResumeWithoutLossOrDuplicates() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        var logged: [String] = []
        // Each round: two visits, a sync racing a SIGKILL of the relay at a different moment,
        // then the relay restarted. Whatever the sync managed, nothing may be lost or doubled.
        for (round, killAfterMilliseconds) in [0, 5, 20, 60].enumerated() {
            logged.append(try logVisit(on: phone, minutes: Double(30 + round), note: "round \(round) a"))
            logged.append(try logVisit(on: phone, minutes: Double(40 + round), note: "round \(round) b"))
            let sync = Task { try await phone.sync() }
            try await Task.sleep(nanoseconds: UInt64(killAfterMilliseconds) * 1_000_000)
            fixture.relay.kill()
            do {
                _ = try await sync.value
            } catch let error as TimebankError {
                XCTAssertTrue(error.isTemporary, "round \(round): \(error.reason)")
            }
            try fixture.relay.restart()
        }
        _ = try await phone.sync()
        let states = try phone.store.visits().map(\.state)
        XCTAssertEqual(states, Array(repeating: .sent, count: logged.count))
        XCTAssertEqual(try phone.store.status().unsyncedChanges, 0)

        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        let onTheDesk = try await visitsOnTheDesk(desk)
        XCTAssertEqual(onTheDesk.sorted(), logged.sorted())
        _ = try await phone.sync()
        let afterAnotherSync = try await visitsOnTheDesk(desk)
        XCTAssertEqual(afterAnotherSync.sorted(), logged.sorted(), "a second sync duplicated visits")
    }
}
