// How a visit's state reads on the volunteer's screen: one string-table key per state (the
// app's Localizable.strings hold the zh-Hans and English words), the coordinator's reason,
// and a tone for colour. Plain Foundation, so Linux CI checks every state has its words.
import Foundation
import TimebankMobile

/// The label a volunteer sees next to a visit.
public struct VisitBadge: Equatable, Sendable {
    /// How urgent the state is, for colour and icon.
    public enum Tone: Equatable, Sendable {
        /// Checked in, not out yet.
        case inProgress
        /// Saved on the phone or sent, waiting for the next step.
        case waiting
        /// Approved: the coins are on their way.
        case done
        /// Rejected or under review: the volunteer should read the reason.
        case needsAttention
    }

    /// The Localizable.strings key, e.g. `visit.state.saved_on_phone` (已保存在手机).
    public let key: String
    /// The coordinator's reason, for rejected visits and visits under review.
    public let reason: String?
    /// How urgent it is.
    public let tone: Tone

    /// The badge for `state`.
    public init(_ state: VisitState) {
        switch state {
        case .checkedIn:
            (key, reason, tone) = ("visit.state.checked_in", nil, .inProgress)
        case .savedOnPhone:
            (key, reason, tone) = ("visit.state.saved_on_phone", nil, .waiting)
        case .sent:
            (key, reason, tone) = ("visit.state.sent", nil, .waiting)
        case let .underReview(why):
            (key, reason, tone) = ("visit.state.under_review", why, .needsAttention)
        case .approved:
            (key, reason, tone) = ("visit.state.approved", nil, .done)
        case let .rejected(why):
            (key, reason, tone) = ("visit.state.rejected", why, .needsAttention)
        }
    }

    /// Every key a badge can have, for checking the string tables.
    public static let allKeys: [String] = [
        VisitState.checkedIn, .savedOnPhone, .sent, .underReview(reason: ""), .approved, .rejected(reason: ""),
    ].map { VisitBadge($0).key }
}
