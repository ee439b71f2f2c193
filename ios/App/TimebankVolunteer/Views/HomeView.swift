// The one screen a volunteer needs: the visit in progress (or the next assignment) with a
// big check-in / check-out button, then my assignments, my visits and my coins.
import SwiftUI
import Timebank

struct HomeView: View {
    @EnvironmentObject private var model: VolunteerModel

    var body: some View {
        NavigationView {
            ScrollView {
                VStack(alignment: .leading, spacing: 24) {
                    if let problem = model.problem {
                        ProblemBanner(text: problem) { model.problem = nil }
                    }
                    CheckInOutCard()
                    AssignmentsSection()
                    BalanceCard()
                    VisitListSection()
                }
                .padding()
            }
            .navigationTitle(Text("home.title"))
            .toolbar {
                Button {
                    Task { await model.syncNow() }
                } label: {
                    Label(model.syncing ? "sync.running" : "sync.now", systemImage: "arrow.triangle.2.circlepath")
                        .font(.title3)
                }
                .disabled(model.syncing)
            }
            .refreshable { await model.syncNow() }
        }
        .navigationViewStyle(.stack)
        // Checked out without the elder's card: the elder's phone co-signs by QR code (ADR 29).
        .sheet(item: Binding(get: { model.visitToSign.map(SigningVisit.init) }, set: { model.visitToSign = $0?.id })) { visit in
            SignVisitView(visitId: visit.id).environmentObject(model)
        }
    }
}

/// A visit waiting for the elder's phone to co-sign, as a sheet's item.
struct SigningVisit: Identifiable {
    let id: String
}

/// A problem in the engine's words, dismissed with a big button.
struct ProblemBanner: View {
    let text: String
    let dismiss: () -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            Text(text).font(.title3)
            Button(action: dismiss) {
                Text("problem.dismiss").font(.title3.bold()).frame(maxWidth: .infinity, minHeight: 56)
            }
            .buttonStyle(.bordered)
        }
        .padding()
        .background(Color.orange.opacity(0.2), in: RoundedRectangle(cornerRadius: 12))
    }
}
