// The volunteers' iOS app (SwiftUI sample): enroll once with the station's code, then my
// assignments, check in / check out, my visits and my coins. Built in Xcode on a Mac against
// the ios/ package and its XCFramework; CI here has no Apple SDK and cannot build it.
import BackgroundTasks
import SwiftUI
import Timebank

@main
struct TimebankVolunteerApp: App {
    @StateObject private var model = VolunteerModel.shared
    @Environment(\.scenePhase) private var scenePhase

    init() {
        BackgroundSync.register()
    }

    var body: some Scene {
        WindowGroup {
            Group {
                if model.phone == nil {
                    EnrollView()
                } else {
                    HomeView()
                }
            }
            .environmentObject(model)
            .task { await model.start() }
            // Active and enrolled: hold the live channel; anything else cancels it at once.
            .task(id: scenePhase == .active && model.phone != nil) {
                if scenePhase == .active {
                    await model.watchWhileActive()
                }
            }
        }
        .onChange(of: scenePhase) { phase in
            switch phase {
            case .active:
                Task { await model.syncNow() }
            case .background:
                BackgroundSync.schedule()
            default:
                break
            }
        }
    }
}
