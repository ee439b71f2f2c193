// Background sync with BGTaskScheduler: after the app goes to the background, iOS runs a
// sync when it sees fit and the network is up; an expired task cancels the sync (nothing is
// lost: what the relay did not acknowledge goes next time). The identifier must be listed
// under BGTaskSchedulerPermittedIdentifiers in Info.plist (see ios/App/README.md).
import BackgroundTasks
import Foundation

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
        // The app's one store: two engines on one directory must never run at once. iOS may
        // launch the app in the background for this task, before any screen opened it.
        let sync = Task { @MainActor in
            let model = VolunteerModel.shared
            await model.start()
            guard let phone = model.phone else {
                task.setTaskCompleted(success: true)  // not enrolled yet: nothing to send
                return
            }
            do {
                _ = try await phone.sync()
                task.setTaskCompleted(success: true)
            } catch {
                task.setTaskCompleted(success: false)
            }
        }
        task.expirationHandler = { sync.cancel() }
    }
}
