// The whole story through the Swift wrapper against a real relay: enroll a fresh phone, check
// in and out with no network, sync when the relay is back, and see the visit on the
// coordinator's phone, whose approval comes back to the volunteer; an order the coordinator
// dispatches reaches the volunteer with the elder's name (ADR 0021).
import Foundation
import Timebank
import XCTest

final class FullStoryTests: StationTestCase {
    func testAVisitLoggedOfflineReachesTheCoordinatorAndComesBackApproved() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        XCTAssertEqual(try phone.store.identity().member, fixture.volunteer)

        // In the lift: no relay. Checking in and out still works and is saved on the phone.
        fixture.relay.kill()
        // Checked in on arrival an hour ago (within the station's hour for a late tap).
        let visitId = try phone.store.checkIn(elder: fixture.elder, service: "companionship", orderId: nil, at: Date(timeIntervalSinceNow: -60 * 60))
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .checkedIn)
        let visit = try phone.store.checkOut(visitId: visitId, at: nil, note: "read the paper together")
        XCTAssertEqual(visit.state, .savedOnPhone)
        XCTAssertEqual(VisitBadge(visit.state).key, "visit.state.saved_on_phone")
        XCTAssertEqual(visit.minutes.map { $0 >= 59 && $0 <= 60 }, true, "minutes: \(String(describing: visit.minutes))")

        let offline = await assertThrowsTimebankError(try await phone.sync()) {
            if case .Offline = $0 { return true }
            return false
        }
        XCTAssertEqual(offline?.isTemporary, true)
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .savedOnPhone)

        // Back on the street: the relay answers again at the address the phone enrolled with.
        try fixture.relay.restart()
        let report = try await phone.sync()
        XCTAssertGreaterThan(report.changesSent, 0)
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .sent)
        XCTAssertEqual(try phone.store.status().unsyncedChanges, 0)

        // The coordinator's phone, enrolled fresh, brings the visit in for review.
        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        _ = try await desk.sync()
        let item = try XCTUnwrap(try desk.store.reviewQueue().first { $0.visit.id == visitId }, "the visit is not on the coordinator's desk")
        XCTAssertEqual(item.visit.volunteer, fixture.volunteer)
        XCTAssertEqual(item.visit.elder, fixture.elder)
        XCTAssertEqual(item.visit.note, "read the paper together")
        XCTAssertEqual(item.visit.minutes, visit.minutes)

        try desk.store.reviewVisit(visitId: visitId, decision: .approve, reason: "")
        _ = try await desk.sync()
        _ = try await phone.sync()
        XCTAssertEqual(try phone.store.visit(visitId: visitId).state, .approved)
        XCTAssertEqual(try phone.store.visits().count, 1)
        XCTAssertGreaterThan(try phone.store.balance().confirmedMinutes, 0)
    }

    func testAnOrderTheCoordinatorDispatchesReachesTheVolunteerWithTheEldersName() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        _ = try await desk.sync() // the elder's profile, where the dispatch takes the name from
        let order = try desk.store.placeOrder(elder: fixture.elder, service: "meals", note: "lunch on Tuesday")
        try desk.store.dispatch(orderId: order, volunteer: fixture.volunteer)
        _ = try await desk.sync()

        _ = try await phone.sync()
        let assignments = try phone.store.assignments()
        XCTAssertEqual(assignments.count, 1, "\(assignments)")
        let assignment = try XCTUnwrap(assignments.first)
        XCTAssertEqual([assignment.order, assignment.elder], [order, fixture.elder])
        XCTAssertEqual(assignment.state, .dispatched)
        XCTAssertEqual(assignment.elderName, "Wang Fang", "the name registered with `admin member create --name`")
    }

    func testARejectedVisitShowsTheCoordinatorsReason() async throws {
        let phone = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let visitId = try logVisit(on: phone, minutes: 30, note: "")
        _ = try await phone.sync()
        let desk = try await fixture.enrollPhone(of: fixture.coordinator, name: "coordinator")
        let onTheDesk = try await visitsOnTheDesk(desk)
        XCTAssertEqual(onTheDesk, [visitId])

        try desk.store.reviewVisit(visitId: visitId, decision: .reject, reason: "王奶奶说那天没有人来")
        _ = try await desk.sync()
        _ = try await phone.sync()

        let state = try phone.store.visit(visitId: visitId).state
        XCTAssertEqual(state, .rejected(reason: "王奶奶说那天没有人来"))
        XCTAssertEqual(VisitBadge(state), VisitBadge(.rejected(reason: "王奶奶说那天没有人来")))
        XCTAssertEqual(VisitBadge(state).reason, "王奶奶说那天没有人来")
        XCTAssertEqual(VisitBadge(state).tone, .needsAttention)
    }

    func testAVisitSurvivesTheAppClosingBeforeItSyncedAndGoesWhenItOpensAgain() async throws {
        var phone: PhoneStore? = try await fixture.enrollPhone(of: fixture.volunteer, name: "volunteer")
        let visitId = try logVisit(on: try XCTUnwrap(phone), minutes: 40, note: "closed before the sync")
        phone = nil  // the app is closed; the store is released

        let reopened = try await PhoneStore.open(directory: fixture.root.appendingPathComponent("volunteer"))
        XCTAssertEqual(try reopened.store.identity().member, fixture.volunteer)
        XCTAssertEqual(try reopened.store.visits().map(\.id), [visitId])
        XCTAssertEqual(try reopened.store.visit(visitId: visitId).state, .savedOnPhone)
        _ = try await reopened.sync()
        XCTAssertEqual(try reopened.store.visit(visitId: visitId).state, .sent)
    }
}
