// Check in / check out with one large button: easy to hit with shaky hands, readable without
// glasses (Dynamic Type), and saved on the phone at once, signal or not.
import SwiftUI
import Timebank

struct CheckInOutCard: View {
    @EnvironmentObject private var model: VolunteerModel

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            if let visit = model.openVisit {
                Text("checkin.in_progress").font(.title2.bold())
                Text(visit.elderName ?? model.serviceName(visit.service)).font(.title2)
                Text(visit.checkIn, style: .relative).font(.title3).foregroundColor(.secondary)
                BigButton(title: "checkin.check_out", color: .blue) {
                    await model.checkOut(visit)
                }
            } else if let next = model.assignments.first {
                Text("checkin.next").font(.title2.bold())
                Text(next.elderName ?? model.serviceName(next.service)).font(.title2)
                if !next.note.isEmpty {
                    Text(next.note).font(.title3)
                }
                BigButton(title: "checkin.check_in", color: .green) {
                    await model.checkIn(for: next)
                }
            } else {
                Text("checkin.nothing").font(.title3).foregroundColor(.secondary)
            }
        }
        .padding()
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Color(.secondarySystemBackground), in: RoundedRectangle(cornerRadius: 16))
    }
}

/// A button at least 88 points tall with a large bold title; disabled while its action runs
/// so a second tap does not check in twice.
struct BigButton: View {
    let title: LocalizedStringKey
    let color: Color
    let action: () async -> Void
    @State private var running = false

    var body: some View {
        Button {
            running = true
            Task {
                await action()
                running = false
            }
        } label: {
            Text(title)
                .font(.largeTitle.bold())
                .frame(maxWidth: .infinity, minHeight: 88)
        }
        .buttonStyle(.borderedProminent)
        .tint(color)
        .disabled(running)
    }
}
