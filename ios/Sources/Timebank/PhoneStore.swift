// One phone's store for Swift concurrency: the generated `TimebankStore`, with the calls that
// block (enrolling, syncing) moved off the caller's thread. Everything else is the generated API.
@_exported import TimebankMobile
import Foundation

/// One phone's store. `store` is the generated object for the quick local calls (check in,
/// visits, balance, ...); this class adds what must not run on the UI thread: `enroll`,
/// `sync()` (cancellable with its Task) and `changes()` (an AsyncSequence of changed topics).
public final class PhoneStore: @unchecked Sendable {
    /// The generated store; every method is a quick local call except `sync`.
    public let store: TimebankStore

    /// Where the blocking calls run: never the caller's thread, never Swift's cooperative pool.
    static let work = DispatchQueue(label: "org.timebank.store", qos: .utility, attributes: .concurrent)

    /// Wraps a store opened or enrolled through the generated API.
    public init(store: TimebankStore) {
        self.store = store
    }

    /// Opens the store already in `directory`.
    public static func open(directory: URL) async throws -> PhoneStore {
        try await offCallerThread { PhoneStore(store: try TimebankStore.open(dir: directory.path)) }
    }

    /// Enrolls this phone with the station's relay (`https://…`, or `http://127.0.0.1:…` in
    /// tests) using the one-time code from the coordinator, and creates its store in `directory`.
    public static func enroll(directory: URL, relay: String, code: String) async throws -> PhoneStore {
        try await offCallerThread { PhoneStore(store: try TimebankStore.enroll(dir: directory.path, relay: relay, code: code)) }
    }

    /// Runs any store call off the caller's thread (e.g. from the main actor).
    public func perform<T>(_ call: @escaping @Sendable (TimebankStore) throws -> T) async throws -> T {
        let store = self.store
        return try await PhoneStore.offCallerThread { try call(store) }
    }

    static func offCallerThread<T>(_ call: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            work.async {
                continuation.resume(with: Result { try call() })
            }
        }
    }
}
