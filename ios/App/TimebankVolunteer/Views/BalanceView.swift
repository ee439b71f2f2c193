// My coins: one coin is one hour of service; confirmed, waiting for review, and reserved for
// a service I asked for.
import SwiftUI
import Timebank

struct BalanceCard: View {
    @EnvironmentObject private var model: VolunteerModel

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Text("balance.title").font(.title2.bold())
            if let balance = model.balance {
                Text("balance.available \(hours(balance.availableMinutes))").font(.largeTitle.bold())
                Text("balance.pending \(hours(balance.pendingMinutes))").font(.title3)
                if balance.reservedMinutes > 0 {
                    Text("balance.reserved \(hours(balance.reservedMinutes))").font(.title3)
                }
            }
        }
        .padding()
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Color(.secondarySystemBackground), in: RoundedRectangle(cornerRadius: 16))
    }

    /// Coins with quarter hours, e.g. "1.75".
    private func hours(_ minutes: Int64) -> String {
        String(format: "%.2f", Double(minutes) / 60).replacingOccurrences(of: ".00", with: "")
    }
}
