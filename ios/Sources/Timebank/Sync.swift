// `sync()` as an async function that Task cancellation stops at once.
import Foundation
import TimebankMobile

extension PhoneStore {
    /// Syncs with the relay on a background queue. Cancelling the calling Task cancels the
    /// binding's `SyncCancel` and throws `CancellationError` at once, even while a request
    /// is still waiting on the relay; whatever the relay did not acknowledge goes at the next
    /// sync, so nothing is lost or sent twice. Other failures are `TimebankError`s
    /// (`.Offline` when the relay cannot be reached: everything stays saved on the phone).
    public func sync() async throws -> SyncReport {
        try Task.checkCancellation()
        let cancel = SyncCancel()
        let outcome = Outcome<SyncReport>()
        let store = self.store
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                outcome.wait(with: continuation)
                PhoneStore.work.async {
                    do {
                        outcome.finish(.success(try store.sync(cancel: cancel)))
                    } catch TimebankError.Cancelled {
                        outcome.finish(.failure(CancellationError()))
                    } catch {
                        outcome.finish(.failure(error))
                    }
                }
            }
        } onCancel: {
            cancel.cancel()
            outcome.finish(.failure(CancellationError()))
        }
    }
}

/// The first of several possible results (the sync's own, or a cancellation), delivered once
/// to a continuation that may be registered before or after it arrives.
final class Outcome<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Value, Error>?
    private var result: Result<Value, Error>?
    private var delivered = false

    func wait(with continuation: CheckedContinuation<Value, Error>) {
        lock.lock()
        if let result, !delivered {
            delivered = true
            lock.unlock()
            continuation.resume(with: result)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    func finish(_ result: Result<Value, Error>) {
        lock.lock()
        guard self.result == nil else {
            lock.unlock()
            return
        }
        self.result = result
        guard let continuation, !delivered else {
            lock.unlock()
            return
        }
        delivered = true
        self.continuation = nil
        lock.unlock()
        continuation.resume(with: result)
    }
}
