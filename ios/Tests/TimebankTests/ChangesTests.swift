// `PhoneStore.changes()`: the AsyncSequence yields the topic a change touched, from local
// calls and from a sync, and ending it releases the engine's subscription.
import Foundation
@testable import Timebank
import XCTest

final class ChangesTests: StationTestCase {
    func testChangesYieldTheVisitsTopicForACheckInAndForASyncThatBringsAnApproval() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let changes = try phone.changes()
        var topics = changes.makeAsyncIterator()

        let visitId = try phone.store.checkIn(elder: fixture.elder, service: "meals", orderId: nil, at: Date(timeIntervalSinceNow: -3600))
        let first = await topics.next()
        XCTAssertEqual(first, .visits)

        _ = try phone.store.checkOut(visitId: visitId, at: nil, note: "")
        _ = try await phone.sync()
        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        _ = try await desk.sync()
        try desk.store.reviewVisit(visitId: visitId, decision: .approve, reason: "")
        _ = try await desk.sync()

        // Drain what the check-out raised, then the sync that brings the approval must raise .visits.
        let sync = Task { try await phone.sync() }
        var seen: Set<Topic> = []
        let deadline = Date().addingTimeInterval(30)
        while try phone.store.visit(visitId: visitId).state != .approved || !seen.contains(.visits), Date() < deadline {
            guard let topic = await topics.next() else { break }
            seen.insert(topic)
        }
        _ = try await sync.value
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .approved)
        XCTAssertTrue(seen.contains(.visits), "no .visits change was seen: \(seen)")
    }

    func testEndingTheSequenceReleasesTheListener() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let released = expectation(description: "the engine let go of the listener")
        let changes = try phone.changes(whenListenerReleased: { released.fulfill() })
        let received = expectation(description: "the consumer saw a change")
        let consumer = Task {
            for await _ in changes {
                received.fulfill()
            }
        }
        _ = try logVisit(on: phone, minutes: 10, note: "")
        await fulfillment(of: [received], timeout: 10)

        consumer.cancel()
        await fulfillment(of: [released], timeout: 10)
        // The store keeps working, with nobody listening.
        _ = try logVisit(on: phone, minutes: 20, note: "")
        XCTAssertEqual(try phone.store.visits().count, 2)
    }
}
