// First launch: the code the station's coordinator gives in person, typed in large digits.
import SwiftUI

struct EnrollView: View {
    @EnvironmentObject private var model: VolunteerModel
    @State private var code = ""
    @AppStorage("relayAddress") private var relay = "https://"

    var body: some View {
        VStack(alignment: .leading, spacing: 24) {
            Text("enroll.title").font(.largeTitle.bold())
            Text("enroll.explain").font(.title3)
            TextField("enroll.code", text: $code)
                .font(.largeTitle.monospaced())
                .textInputAutocapitalization(.never)
                .autocorrectionDisabled()
                .textFieldStyle(.roundedBorder)
            TextField("enroll.relay", text: $relay)
                .font(.title3)
                .keyboardType(.URL)
                .textInputAutocapitalization(.never)
                .autocorrectionDisabled()
                .textFieldStyle(.roundedBorder)
            if let problem = model.problem {
                ProblemBanner(text: problem) { model.problem = nil }
            }
            BigButton(title: "enroll.button", color: .blue) {
                await model.enroll(relay: relay, code: code)
            }
            .disabled(code.isEmpty)
            Spacer()
        }
        .padding()
    }
}
