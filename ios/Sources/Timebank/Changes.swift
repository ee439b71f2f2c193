// The store's change notifications as an AsyncSequence: a `ChangeListener` that feeds an
// AsyncStream, with the binding's subscription stopped when the stream ends.
import Foundation
import TimebankMobile

extension PhoneStore {
    /// The topics that change from now on (visits, orders, balance, ...), for refreshing
    /// screens. Iterate it in a Task; cancelling that Task (or dropping the stream) stops the
    /// subscription in the engine. If the consumer falls behind, only the newest topics are kept.
    public func changes() throws -> AsyncStream<Topic> {
        try changes(whenListenerReleased: nil)
    }

    /// `changes()`, telling `released` when the engine has let go of the listener (tests).
    func changes(whenListenerReleased released: (@Sendable () -> Void)?) throws -> AsyncStream<Topic> {
        let (stream, continuation) = AsyncStream.makeStream(of: Topic.self, bufferingPolicy: .bufferingNewest(64))
        let subscription = try store.subscribe(listener: TopicFeed(continuation, released: released))
        continuation.onTermination = { _ in
            subscription.stop()
        }
        return stream
    }
}

/// Passes each changed topic into the stream; called on the thread that made the change.
final class TopicFeed: ChangeListener, @unchecked Sendable {
    private let continuation: AsyncStream<Topic>.Continuation
    private let released: (@Sendable () -> Void)?

    init(_ continuation: AsyncStream<Topic>.Continuation, released: (@Sendable () -> Void)?) {
        self.continuation = continuation
        self.released = released
    }

    func onChange(topic: Topic) {
        continuation.yield(topic)
    }

    deinit {
        released?()
    }
}
