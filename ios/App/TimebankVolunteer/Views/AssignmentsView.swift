// My assignments: the orders the station dispatched to me, to accept and then visit.
import SwiftUI
import Timebank

struct AssignmentsSection: View {
    @EnvironmentObject private var model: VolunteerModel

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            Text("assignments.title").font(.title2.bold())
            if model.assignments.isEmpty {
                Text("assignments.empty").font(.title3).foregroundColor(.secondary)
            }
            ForEach(model.assignments, id: \.order) { assignment in
                VStack(alignment: .leading, spacing: 8) {
                    // Who to visit, by name when the dispatch carried it (older dispatches: the service).
                    if let name = assignment.elderName {
                        Text(name).font(.title3.bold())
                        Text(model.serviceName(assignment.service)).font(.body)
                    } else {
                        Text(model.serviceName(assignment.service)).font(.title3.bold())
                    }
                    Text(assignment.offeredAt, style: .date).font(.body)
                    if !assignment.note.isEmpty {
                        Text(assignment.note).font(.body)
                    }
                    if assignment.state == .dispatched {
                        BigButton(title: "assignments.accept", color: .green) {
                            await model.accept(assignment)
                        }
                    } else {
                        Text("assignments.accepted").font(.title3).foregroundColor(.green)
                    }
                }
                .padding()
                .frame(maxWidth: .infinity, alignment: .leading)
                .background(Color(.secondarySystemBackground), in: RoundedRectangle(cornerRadius: 12))
            }
        }
    }
}
