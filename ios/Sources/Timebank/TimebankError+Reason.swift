// A readable message for every `TimebankError` (the generated `localizedDescription` is the
// Swift reflection of the case, not words for a person).
import Foundation
import TimebankMobile

extension TimebankError {
    /// What went wrong and what to do, as the engine worded it.
    public var reason: String {
        switch self {
        case let .InvalidInput(message), let .NotAllowed(message), let .NotFound(message),
             let .NoStore(message), let .AlreadyExists(message), let .UpdateRequired(message),
             let .StoreDamaged(message), let .Storage(message), let .Offline(message),
             let .RelayRefused(message), let .RelayProtocol(message), let .Cancelled(message),
             let .Internal(message):
            return message
        }
    }

    /// Whether trying again later may help (no network, a busy relay), as opposed to input
    /// or a state the person must change first.
    public var isTemporary: Bool {
        switch self {
        case .Offline, .Cancelled, .RelayProtocol:
            return true
        default:
            return false
        }
    }
}
