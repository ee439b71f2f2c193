//! The `admin` subcommands as clap parses them.

use std::path::PathBuf;

use clap::Subcommand;

use crate::registry::DEFAULT_CODE_DAYS;

/// The `admin` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum AdminCommand {
    /// Districts (区) of the city.
    #[command(subcommand)]
    District(DistrictCommand),
    /// Stations.
    #[command(subcommand)]
    Station(StationCommand),
    /// Members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Issue a one-time enrollment code for one device of a member.
    EnrollCode {
        /// The member (`m-…`).
        #[arg(long)]
        member: String,
        /// Days until the code expires.
        #[arg(long, default_value_t = DEFAULT_CODE_DAYS)]
        days: u32,
    },
    /// Enrolled devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Accounts of the coordinator console.
    #[command(subcommand)]
    ConsoleUser(ConsoleUserCommand),
    /// Elders' NFC tags (proof of presence, ADR 29).
    #[command(subcommand)]
    Tag(TagCommand),
    /// List the security events (refused tokens, refused changes), oldest first.
    SecurityEvents,
    /// A member's ledger: postings with the running balance, balance, and the outcome of
    /// every visit and request.
    Ledger {
        /// The member (`m-…`).
        #[arg(long)]
        member: String,
    },
    /// Rebuild the ledger from the arrival log in memory and, with `--check`, compare it
    /// with the stored postings and ledger documents; fail on any difference.
    RebuildLedger {
        /// Compare only; change nothing; exit non-zero on any difference.
        #[arg(long)]
        check: bool,
    },
    /// Copy the store to a new file while the relay serves: one consistent moment of it,
    /// checked before it takes its name (SQLite; for PostgreSQL use pg_dump).
    Backup {
        /// The new backup file (refused if it exists).
        #[arg(long)]
        to: PathBuf,
    },
    /// Check a backup file (integrity, store version, a relay's tables) and restore it into
    /// the new, empty data directory given with --data.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
}

/// `admin district …`
#[derive(Clone, Debug, Subcommand)]
pub enum DistrictCommand {
    /// Create a district; put stations in it with `station create --district` or `station move`.
    Create {
        /// The district's name.
        #[arg(long)]
        name: String,
    },
    /// List the districts with their stations.
    List,
}

/// `admin station …`
#[derive(Clone, Debug, Subcommand)]
pub enum StationCommand {
    /// Create a station with the default catalogue and rules, and its desk.
    Create {
        /// The station's name.
        #[arg(long)]
        name: String,
        /// Its district (`q-…`); the default district when left out.
        #[arg(long)]
        district: Option<String>,
    },
    /// Move a station into another district (its members, documents and ledger stay).
    Move {
        /// The station (`s-…`).
        #[arg(long)]
        station: String,
        /// The district it now belongs to (`q-…`).
        #[arg(long)]
        district: String,
    },
}

/// `admin member …`
#[derive(Clone, Debug, Subcommand)]
pub enum MemberCommand {
    /// Register a member a coordinator verified in person.
    Create {
        /// Their station (`s-…`).
        #[arg(long)]
        station: String,
        /// volunteer, elder, coordinator or family-proxy.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Birth year (YYYY).
        #[arg(long)]
        birth_year: u16,
        /// Household id, for members who live together.
        #[arg(long)]
        household: Option<String>,
        /// In special hardship (verified by the coordinator): may redeem from age 60.
        #[arg(long)]
        hardship: bool,
        /// Phone number (kept in the relay's store only, shown to the station's coordinators).
        #[arg(long)]
        phone: Option<String>,
        /// Last four characters of the identity card number (digits, or a final X).
        #[arg(long)]
        id_last4: Option<String>,
        /// Home address (an elder's: the volunteer of an open order gets it, for that order only).
        #[arg(long)]
        address: Option<String>,
    },
    /// Everything the program holds about a member, as JSON (for an access request):
    /// register record, contact details, devices, what the documents record about them,
    /// their ledger, audit entries and security events naming them.
    Export {
        /// The member (`m-…`).
        #[arg(long)]
        member: String,
    },
    /// Move a member to another station, of any district (a move of house): their coins
    /// and history go with them; the new station's coordinators read them from now on.
    /// Audited at both stations (ADR 42).
    Move {
        /// The member (`m-…`).
        #[arg(long)]
        member: String,
        /// The station they join (`s-…`).
        #[arg(long)]
        to: String,
    },
    /// Erase a member's contact details (phone, identity card digits) when they leave;
    /// their coins and history stay. Audited.
    EraseContact {
        /// The member (`m-…`).
        #[arg(long)]
        member: String,
    },
}

/// `admin console-user …`
#[derive(Clone, Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// Create an account for the coordinator console (password from `--password-stdin`
    /// or asked for).
    Create {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// The coordinator's station (`s-…`); or give `--district` or `--city`.
        #[arg(long, required_unless_present_any = ["district", "city"], conflicts_with_all = ["district", "city"])]
        station: Option<String>,
        /// The coordinator's own member (`m-…`, a coordinator of that station).
        #[arg(long, required_unless_present_any = ["district", "city"], conflicts_with_all = ["district", "city"])]
        member: Option<String>,
        /// A district's read-only account over its stations (`q-…`).
        #[arg(long, conflicts_with = "city")]
        district: Option<String>,
        /// The city's read-only account over every station.
        #[arg(long)]
        city: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The password, filled in by `timebank-relay` from stdin or a prompt (never a flag).
        #[arg(skip)]
        password: Option<String>,
    },
}

/// `admin device …`
#[derive(Clone, Debug, Subcommand)]
pub enum DeviceCommand {
    /// List every enrolled device.
    List,
    /// Revoke a device: its token stops working at once; its data stays.
    Revoke {
        /// The device id (`d-…`), from `admin device list`.
        device: String,
    },
}

/// `admin tag …`
#[derive(Clone, Debug, Subcommand)]
pub enum TagCommand {
    /// Register a tag for an elder who has none in use.
    Register {
        /// The station (`s-…`).
        #[arg(long)]
        station: String,
        /// The elder (`m-…`).
        #[arg(long)]
        elder: String,
        /// The tag's UID: 14 hex digits, as printed or read by the writer.
        #[arg(long)]
        uid: String,
    },
    /// Give an elder a new tag; the tags in use are revoked.
    Replace {
        /// The station (`s-…`).
        #[arg(long)]
        station: String,
        /// The elder (`m-…`).
        #[arg(long)]
        elder: String,
        /// The new tag's UID.
        #[arg(long)]
        uid: String,
    },
    /// Revoke a tag (lost, broken): its taps fail from now on.
    Revoke {
        /// The station (`s-…`).
        #[arg(long)]
        station: String,
        /// The tag's UID.
        #[arg(long)]
        uid: String,
        /// Why.
        #[arg(long, default_value = "")]
        why: String,
    },
    /// List a station's tags.
    List {
        /// The station (`s-…`).
        #[arg(long)]
        station: String,
    },
    /// Print the keys and settings to write a tag with (secret: keep it at the station).
    Export {
        /// The station (`s-…`).
        #[arg(long)]
        station: String,
        /// The tag's UID.
        #[arg(long)]
        uid: String,
    },
    /// Print the link a tag written with the station's keys gives at read counter
    /// `counter` (a software tag, for tests and demonstrations).
    Tap {
        /// The station (`s-…`).
        #[arg(long)]
        station: String,
        /// The tag's UID.
        #[arg(long)]
        uid: String,
        /// The read counter (1 for the first tap).
        #[arg(long)]
        counter: u32,
    },
}
