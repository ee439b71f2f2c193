// `PhoneStore.changes()`: the AsyncSequence yields the topic a change touched, from local
// calls and from a sync, and ending it releases the engine's subscription.
import Foundation
@testable import Timebank
import XCTest

final class ChangesTests: StationTestCase {
    func testChangesYieldTheVisitsTopicForACheckInAndForASyncThatBringsAnApproval() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        var topics = try phone.changes().makeAsyncIterator()

        // Listeners hear of a change before the call returns, so the topic is already waiting.
        let visitId = try phone.store.checkIn(elder: fixture.elder, service: "meals", orderId: nil, at: Date(timeIntervalSinceNow: -3600))
        let first = await topics.next()
        XCTAssertEqual(first, .visits)

        _ = try phone.store.checkOut(visitId: visitId, at: nil, note: "")
        _ = try await phone.sync()
        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        _ = try await desk.sync()
        try desk.store.reviewVisit(visitId: visitId, decision: .approve, reason: "")
        _ = try await desk.sync()

        // A fresh stream for the sync that brings the approval: it must say .visits changed.
        let approval = try phone.changes()
        _ = try await phone.sync()
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .approved)
        let seen = await firstTopics(of: approval, until: .visits, within: 10)
        XCTAssertTrue(seen.contains(.visits), "the sync that brought the approval raised only \(seen)")
    }

    /// The topics `stream` yields until `wanted` (included) or until `seconds` pass.
    private func firstTopics(of stream: AsyncStream<Topic>, until wanted: Topic, within seconds: UInt64) async -> Set<Topic> {
        let consumer = Task {
            var seen: Set<Topic> = []
            for await topic in stream {
                seen.insert(topic)
                if topic == wanted { break }
            }
            return seen
        }
        let deadline = Task {
            try await Task.sleep(nanoseconds: seconds * 1_000_000_000)
            consumer.cancel()
        }
        let seen = await consumer.value
        deadline.cancel()
        return seen
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
