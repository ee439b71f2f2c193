// The relay's live channel as an AsyncSequence: `PhoneStore.watch()` holds it while iterated and
// syncs on each of the relay's hints; ending the iteration (or its Task) closes it at once.
import Foundation
import TimebankMobile

extension PhoneStore {
    /// Watches the relay while iterated (ADR 0032): the live channel is held and the store syncs
    /// whenever the relay says something this phone reads changed (a dispatch, a review), so
    /// `changes()` yields within a second without polling. Iterate it in a Task while the app is
    /// in the foreground; cancelling that Task closes the channel and cancels a sync in flight at
    /// once (the background refresh covers the rest). It yields `.connected`, `.synced` (with
    /// what the sync did), `.syncFailed` and `.disconnected` (it connects again by itself after
    /// the wait it names), and throws `TimebankError.RelayRefused` when the device was revoked or
    /// another watch of it took over.
    public func watch() throws -> AsyncThrowingStream<WatchEvent, Error> {
        let watch = try store.watch()
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent.self, throwing: Error.self)
        continuation.onTermination = { _ in
            watch.cancel()
        }
        // A thread of the store's queue waits on the channel; cancel() lets it go at once.
        PhoneStore.work.async {
            do {
                while let event = try watch.nextEvent() {
                    continuation.yield(event)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return stream
    }
}
