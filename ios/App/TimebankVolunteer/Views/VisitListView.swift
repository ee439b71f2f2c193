// My visits, newest first, each with its state in plain words: saved on phone (已保存在手机),
// sent (已发送), approved (已批准), or rejected with the coordinator's reason.
import SwiftUI
import Timebank

struct VisitListSection: View {
    @EnvironmentObject private var model: VolunteerModel

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            Text("visits.title").font(.title2.bold())
            if model.visits.isEmpty {
                Text("visits.empty").font(.title3).foregroundColor(.secondary)
            }
            ForEach(model.visits, id: \.id) { visit in
                VisitRow(visit: visit, serviceName: model.serviceName(visit.service))
            }
        }
    }
}

struct VisitRow: View {
    let visit: Visit
    let serviceName: String

    var body: some View {
        let badge = VisitBadge(visit.state)
        VStack(alignment: .leading, spacing: 6) {
            HStack {
                Text(serviceName).font(.title3.bold())
                Spacer()
                if let minutes = visit.minutes {
                    Text("visits.minutes \(Int(minutes))").font(.title3)
                }
            }
            Text(visit.checkIn, style: .date).font(.body)
            Label(LocalizedStringKey(badge.key), systemImage: badge.symbol)
                .font(.title3.bold())
                .foregroundColor(badge.color)
            if let reason = badge.reason, !reason.isEmpty {
                Text("visits.reason \(reason)").font(.body)
            }
        }
        .padding()
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Color(.secondarySystemBackground), in: RoundedRectangle(cornerRadius: 12))
        .accessibilityElement(children: .combine)
    }
}

extension VisitBadge {
    var symbol: String {
        switch tone {
        case .inProgress: return "clock"
        case .waiting: return "iphone"
        case .done: return "checkmark.seal.fill"
        case .needsAttention: return "exclamationmark.bubble.fill"
        }
    }

    var color: Color {
        switch tone {
        case .inProgress: return .blue
        case .waiting: return .primary
        case .done: return .green
        case .needsAttention: return .red
        }
    }
}
