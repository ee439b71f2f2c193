//! The command line: every command, flag and argument of `timebank`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

/// Time bank for elderly care: log visits offline, see their state and your coins.
/// Times are shown in this machine's time zone (set TZ to choose another, e.g.
/// TZ=Asia/Shanghai); --json gives them in UTC (RFC 3339).
#[derive(Debug, Parser)]
#[command(name = "timebank", version, about)]
pub struct Cli {
    /// The data directory of this device's store.
    #[arg(long, global = true, env = "TIMEBANK_DATA", default_value = "timebank-data")]
    pub data: PathBuf,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a store for a member on this device (until enrollment with a relay exists).
    Init {
        /// Member id, as issued by the station (e.g. v-1001).
        #[arg(long)]
        member: String,
        /// Station id (e.g. s-caoyang).
        #[arg(long)]
        station: String,
        /// volunteer, elder, coordinator or family-proxy.
        #[arg(long, default_value = "volunteer")]
        role: String,
    },
    /// Enroll this device with a relay using a code from the station (creates the store):
    /// the relay's address and the code, or the slip's whole link (its QR code).
    Enroll {
        /// The relay's address, e.g. https://relay.example.org (not needed with --link).
        #[arg(long)]
        relay: Option<String>,
        /// The one-time enrollment code (or the whole link, which names its relay).
        #[arg(long, required_unless_present = "link", conflicts_with = "link")]
        code: Option<String>,
        /// The enrollment link of the station's slip: timebank://enroll?relay=…&code=…
        #[arg(long)]
        link: Option<String>,
    },
    /// Send what this device logged and fetch what the station has for it.
    Sync,
    /// Hold the relay's live channel and sync whenever it says something this device reads
    /// changed (a dispatch, a review), until stopped (Ctrl-C): one line per event.
    Watch,
    /// Check in, check out, log a past visit, confirm with the elder.
    #[command(subcommand)]
    Visit(VisitCommand),
    /// List this member's visits with their state.
    Visits,
    /// Review the station's visits (coordinators): the queue, approve, reject, flag.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Redemptions accepted by the relay (coordinators): the queue, fulfil, release.
    #[command(subcommand)]
    Redemption(RedemptionCommand),
    /// Place, dispatch or cancel an order (点单 / 派单).
    #[command(subcommand)]
    Order(OrderCommand),
    /// List orders this device can see, with their state.
    Orders,
    /// List the assignments offered to this volunteer (派单).
    Assignments,
    /// Accept an assignment (接单).
    Accept {
        /// The order id.
        order: String,
    },
    /// Decline an assignment.
    Decline {
        /// The order id.
        order: String,
        /// Why, for the coordinator.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Ask to redeem coins for a service (e.g. tcm-physiotherapy).
    Redeem {
        /// Catalogue id of a redeemable service.
        #[arg(long)]
        service: String,
        /// Minutes of coins to spend (60 = one coin).
        #[arg(long, allow_hyphen_values = true)]
        minutes: i64,
        /// Redeem at another station of the city (`s-…`, 通存通兑); its coordinators fulfil it.
        #[arg(long)]
        at: Option<String>,
    },
    /// Ask to give coins to another member.
    Gift {
        /// The receiving member's id.
        #[arg(long)]
        to: String,
        /// Minutes of coins to give (60 = one coin).
        #[arg(long, allow_hyphen_values = true)]
        minutes: i64,
    },
    /// List redemption and gift requests with their state.
    Requests,
    /// Show the balance as far as this device knows.
    Balance,
    /// Show the station's service catalogue.
    Services,
    /// Show the store at a glance.
    Status,
    /// Compact the store's documents (safe at any time).
    Compact,
}

#[derive(Debug, Subcommand)]
pub enum VisitCommand {
    /// Check in now at an elder's home; prints the visit id.
    Start {
        /// The elder's member id.
        #[arg(long)]
        elder: String,
        /// Catalogue id of the service (companionship, meals, cleaning, escort, smartphone-help).
        #[arg(long)]
        service: String,
        /// The order (assignment) this visit fulfils.
        #[arg(long)]
        order: Option<String>,
        /// When you arrived, if you forgot to check in then (RFC 3339).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// The link read from the elder's NFC tag as you arrive (the relay verifies it).
        #[arg(long)]
        tap: Option<String>,
    },
    /// Check out of an open visit.
    End {
        /// The visit id printed by `visit start`.
        visit: String,
        /// A note about the visit.
        #[arg(long)]
        note: Option<String>,
        /// The real check-out time, if you forgot to check out (RFC 3339).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// The link read from the elder's NFC tag as you leave.
        #[arg(long)]
        tap: Option<String>,
    },
    /// Log a visit afterwards, from a paper record.
    Log {
        /// The elder's member id.
        #[arg(long)]
        elder: String,
        /// Catalogue id of the service.
        #[arg(long)]
        service: String,
        /// Start time, RFC 3339 (e.g. 2026-11-02T09:00:00+08:00).
        #[arg(long)]
        start: DateTime<Utc>,
        /// End time, RFC 3339.
        #[arg(long)]
        end: DateTime<Utc>,
        /// The order (assignment) it fulfilled.
        #[arg(long)]
        order: Option<String>,
        /// A note about the visit.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Print a finished visit's summary for the elder's phone to co-sign (what the QR code holds).
    Summary {
        /// The visit id.
        visit: String,
    },
    /// On the elder's (or a household proxy's) phone: co-sign a volunteer's visit summary
    /// with this phone's key; prints the co-signature to give back.
    Cosign {
        /// The summary the volunteer's phone printed (TBV1|…).
        summary: String,
    },
    /// Store the elder's phone's co-signature with the visit it signs.
    Attach {
        /// The visit id.
        visit: String,
        /// The co-signature the elder's phone printed (TBS1|…).
        signature: String,
    },
    /// Record that the elder (or family) confirmed the visit on this phone.
    Confirm {
        /// The visit id.
        visit: String,
        /// elder or family.
        #[arg(long, default_value = "elder")]
        by: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Visits waiting for review, anomalies first.
    List,
    /// What the station does with visits the relay verified at both ends: queue (review
    /// as any visit), bulk (approvable together) or auto (approved without a coordinator).
    VerifiedVisits {
        /// queue, bulk or auto.
        rule: String,
    },
    /// Approve a visit: it earns its coins at the relay.
    Approve {
        /// The visit id.
        visit: String,
        /// An optional note.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reject a visit; the reason reaches the volunteer.
    Reject {
        /// The visit id.
        visit: String,
        /// Why (required).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Flag a visit for a closer look; it stays in the queue.
    Flag {
        /// The visit id.
        visit: String,
        /// What to check.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reverse a visit's approval or rejection made by mistake: it goes back to the queue,
    /// and the coins an approval earned are taken back; the reason reaches the volunteer.
    Reverse {
        /// The visit id.
        visit: String,
        /// Why (required).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RedemptionCommand {
    /// Accepted redemptions waiting for a decision.
    List,
    /// The service was given: the held coins are spent.
    Fulfil {
        /// The request id.
        request: String,
    },
    /// The service will not be given: the held coins go back to the member.
    Release {
        /// The request id.
        request: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Place an order (点单) for an elder.
    Place {
        /// Catalogue id of the service wanted.
        #[arg(long)]
        service: String,
        /// The elder (not needed on the elder's own device).
        #[arg(long)]
        elder: Option<String>,
        /// When and what is needed.
        #[arg(long, default_value = "")]
        note: String,
        /// The time slot's start, RFC 3339 (e.g. 2026-12-03T09:00:00+08:00); with --to.
        #[arg(long, requires = "to")]
        from: Option<DateTime<Utc>>,
        /// The time slot's end, RFC 3339; with --from.
        #[arg(long, requires = "from")]
        to: Option<DateTime<Utc>>,
    },
    /// Dispatch an order to a volunteer (派单; coordinators).
    Dispatch {
        /// The order id.
        order: String,
        /// The volunteer's member id.
        #[arg(long)]
        to: String,
    },
    /// Cancel an order that has not been served.
    Cancel {
        /// The order id.
        order: String,
    },
}
