// Background sync with BGTaskScheduler: after the app goes to the background, iOS runs a
// sync when it sees fit and the network is up; an expired task cancels the sync (nothing is
// lost: what the relay did not acknowledge goes next time). The identifier must be listed
// under BGTaskSchedulerPermittedIdentifiers in Info.plist (see ios/App/README.md).
import BackgroundTasks
import Foundation
import Timebank

enum BackgroundSync {
    static let identifier = "org.timebank.volunteer.sync"

    /// Called once at launch, before the app finishes launching.
    static func register() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            guard let task = task as? BGProcessingTask else { return }
            handle(task)
        }
    }

    /// Asks iOS for a sync with network, within about 15 minutes.
    static func schedule() {
        let request = BGProcessingTaskRequest(identifier: identifier)
        request.requiresNetworkConnectivity = true
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }

    private static func handle(_ task: BGProcessingTask) {
        schedule()
        let sync = Task {
            do {
                let phone = try await PhoneStore.open(directory: VolunteerModel.storeDirectory)
                _ = try await phone.sync()
                task.setTaskCompleted(success: true)
            } catch {
                task.setTaskCompleted(success: false)
            }
        }
        task.expirationHandler = { sync.cancel() }
    }
}
