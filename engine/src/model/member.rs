//! Members of the time bank: their roles and verification status.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::ids::{HouseholdId, MemberId, StationId};

/// What a member does in the program; decides what their devices may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Gives services and earns coins (时光伙伴).
    Volunteer,
    /// Receives services; orders them (点单); may redeem coins at 65+ (or 60+ in hardship).
    Elder,
    /// Station staff: verify people, dispatch (派单), review visits.
    Coordinator,
    /// A relative acting for an elder without a smartphone.
    FamilyProxy,
}

impl Role {
    /// The stored and command-line spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Volunteer => "volunteer",
            Role::Elder => "elder",
            Role::Coordinator => "coordinator",
            Role::FamilyProxy => "family-proxy",
        }
    }

    /// Parses the stored or typed spelling.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "volunteer" => Ok(Role::Volunteer),
            "elder" => Ok(Role::Elder),
            "coordinator" => Ok(Role::Coordinator),
            "family-proxy" => Ok(Role::FamilyProxy),
            other => Err(Error::invalid(format!("{other:?} is not a role; use volunteer, elder, coordinator or family-proxy"))),
        }
    }
}

/// Where a member's real-name verification stands (done in person at the station).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verification {
    /// Registered, not yet seen in person.
    Pending,
    /// Identity checked in person by a coordinator.
    Verified,
    /// Verification withdrawn (left the program, fraud).
    Suspended,
}

impl Verification {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Pending => "pending",
            Verification::Verified => "verified",
            Verification::Suspended => "suspended",
        }
    }

    /// Reads the stored spelling; unknown values read as pending (least trust).
    pub fn parse(raw: &str) -> Self {
        match raw {
            "verified" => Verification::Verified,
            "suspended" => Verification::Suspended,
            _ => Verification::Pending,
        }
    }
}

/// The profile kept in a member's document: the minimum personal data (DESIGN.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The member.
    pub id: MemberId,
    /// Their role.
    pub role: Role,
    /// The station where they were verified.
    pub station: StationId,
    /// Name shown to coordinators and on the phone; empty until set.
    pub display_name: String,
    /// Birth year, for the redemption age gate.
    pub birth_year: Option<u16>,
    /// Household, for gift and self-dealing rules.
    pub household: Option<HouseholdId>,
    /// Verification status.
    pub verification: Verification,
}
