// What the volunteer's screens show, kept fresh from the store's changes; every store call
// runs off the main thread through PhoneStore, and sync never blocks the UI.
import Foundation
import SwiftUI
import Timebank

@MainActor
final class VolunteerModel: ObservableObject {
    /// The app's one model and store, shared by the screens and the background sync.
    static let shared = VolunteerModel()

    @Published private(set) var phone: PhoneStore?
    @Published private(set) var assignments: [Assignment] = []
    @Published private(set) var visits: [Visit] = []
    @Published private(set) var balance: Balance?
    @Published private(set) var services: [String: Service] = [:]
    @Published private(set) var syncing = false
    /// The last problem, in the engine's words (shown in a banner until dismissed).
    @Published var problem: String?
    /// A visit checked out without the elder's card, waiting for the elder's phone to co-sign.
    @Published var visitToSign: String?

    private var watching: Task<Void, Never>?

    private init() {}

    /// The visit checked in and not yet checked out, if any.
    var openVisit: Visit? {
        visits.first { $0.state == .checkedIn }
    }

    /// The store lives in Application Support, excluded from iCloud backup (it is synced
    /// with the station's relay instead).
    static var storeDirectory: URL {
        let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        return support.appendingPathComponent("timebank", isDirectory: true)
    }

    func start() async {
        guard phone == nil else { return }
        do {
            attach(try await PhoneStore.open(directory: Self.storeDirectory))
        } catch TimebankError.NoStore {
            // First launch: EnrollView asks for the code.
        } catch {
            report(error)
        }
    }

    func enroll(relay: String, code: String) async {
        do {
            attach(try await PhoneStore.enroll(directory: Self.storeDirectory, relay: relay, code: code.trimmingCharacters(in: .whitespaces)))
            await syncNow()
        } catch {
            report(error)
        }
    }

    /// Checks in: first "hold the phone to the elder's card" (Core NFC); without a card (or a
    /// phone that cannot read one) the check-in is made without it.
    func checkIn(for assignment: Assignment) async {
        if CardReader.available, let link = await CardReader().read(prompt: String(localized: "presence.tap_arriving")) {
            await change { try $0.checkInTapped(elder: assignment.elder, service: assignment.service, orderId: assignment.order, at: nil, tapUrl: link) }
        } else {
            await change { try $0.checkIn(elder: assignment.elder, service: assignment.service, orderId: assignment.order, at: nil) }
        }
    }

    /// Checks out, with the elder's card when there is one; without it, the visit waits for
    /// the elder's phone to co-sign (`SignVisitView`).
    func checkOut(_ visit: Visit) async {
        if CardReader.available, let link = await CardReader().read(prompt: String(localized: "presence.tap_leaving")) {
            await change { _ = try $0.checkOutTapped(visitId: visit.id, at: nil, note: nil, tapUrl: link) }
        } else {
            await change { _ = try $0.checkOut(visitId: visit.id, at: nil, note: nil) }
            visitToSign = visit.id
        }
    }

    /// The text of a finished visit's QR code for the elder's phone.
    func summary(of visitId: String) -> String? {
        try? phone?.store.visitSummary(visitId: visitId)
    }

    /// Stores the co-signature scanned back from the elder's phone.
    func attachSignature(_ signature: String, to visitId: String) async {
        await change { _ = try $0.attachCosignature(visitId: visitId, signature: signature) }
        visitToSign = nil
    }

    /// On the elder's or family's phone: signs a volunteer's visit summary.
    func cosign(_ summary: String) async -> String? {
        do {
            return try phone?.store.cosignVisit(summary: summary)
        } catch {
            report(error)
            return nil
        }
    }

    func accept(_ assignment: Assignment) async {
        await change { try $0.accept(orderId: assignment.order) }
    }

    /// Syncs now; offline is normal (everything stays saved on the phone), so it is not a problem.
    func syncNow() async {
        guard let phone, !syncing else { return }
        syncing = true
        defer { syncing = false }
        do {
            _ = try await phone.sync()
        } catch let error as TimebankError where error.isTemporary {
            // Saved on the phone; it goes at the next sync.
        } catch is CancellationError {
        } catch {
            report(error)
        }
    }

    /// Holds the relay's live channel while the app is active (the App runs it in a task tied
    /// to the scene phase): the phone syncs on each of the relay's hints, so a dispatch shows
    /// within a second through `changes()`. Cancelled when the app leaves the foreground;
    /// BackgroundSync covers the time in the background. A revoked phone's watch ends with the
    /// relay's words in the banner.
    func watchWhileActive() async {
        guard let phone else { return }
        do {
            for try await _ in try phone.watch() {}
        } catch is CancellationError {
        } catch {
            report(error)
        }
    }

    func serviceName(_ id: String) -> String {
        guard let service = services[id] else { return id }
        return (Locale.preferredLanguages.first ?? "zh").hasPrefix("zh") ? service.nameZh : service.nameEn
    }

    private func attach(_ phone: PhoneStore) {
        self.phone = phone
        watching?.cancel()
        watching = Task { [weak self] in
            await self?.refresh()
            guard let changes = try? phone.changes() else { return }
            for await _ in changes {
                await self?.refresh()
            }
        }
    }

    private func change(_ call: @escaping @Sendable (TimebankStore) throws -> Void) async {
        guard let phone else { return }
        do {
            try await phone.perform(call)
        } catch {
            report(error)
        }
    }

    private func refresh() async {
        guard let phone else { return }
        do {
            let (assignments, visits, balance, catalogue) = try await phone.perform { store in
                (try store.assignments(), try store.visits(), try store.balance(), try store.catalogue())
            }
            self.assignments = assignments.filter { $0.state == .dispatched || $0.state == .accepted }
            self.visits = visits.sorted { $0.checkIn > $1.checkIn }
            self.balance = balance
            self.services = Dictionary(catalogue.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        } catch {
            report(error)
        }
    }

    private func report(_ error: Error) {
        problem = (error as? TimebankError)?.reason ?? error.localizedDescription
    }
}
