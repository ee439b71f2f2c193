//! The service catalogue: what volunteers give (earning coins) and what members redeem.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Whether a service earns coins for the volunteer who gives it, or is what coins buy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// Given by volunteers; logged as visits; earns coins.
    Earning,
    /// Received in exchange for coins (redemption, 兑换).
    Redeemable,
}

impl ServiceKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Earning => "earning",
            ServiceKind::Redeemable => "redeemable",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "earning" => Some(ServiceKind::Earning),
            "redeemable" => Some(ServiceKind::Redeemable),
            _ => None,
        }
    }
}

/// One entry of a station's service catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Stable id that the apps and the CLI accept (`companionship`, ...).
    pub id: String,
    /// Name shown in Chinese (the default language).
    pub name_zh: String,
    /// Name shown in English.
    pub name_en: String,
    /// Earning or redeemable.
    pub kind: ServiceKind,
}

/// The default catalogue every station starts with (DOMAIN.md: Shanghai's categories).
pub const DEFAULT_CATALOGUE: &[(&str, &str, &str, ServiceKind)] = &[
    ("companionship", "陪伴聊天", "Companionship", ServiceKind::Earning),
    ("meals", "助餐", "Meals", ServiceKind::Earning),
    ("cleaning", "清洁打扫", "Cleaning", ServiceKind::Earning),
    ("escort", "陪同就医出行", "Escort", ServiceKind::Earning),
    ("smartphone-help", "智能手机帮助", "Smartphone help", ServiceKind::Earning),
    ("tcm-physiotherapy", "中医理疗", "TCM physiotherapy", ServiceKind::Redeemable),
    ("housekeeping", "家政服务", "Housekeeping", ServiceKind::Redeemable),
];

/// The default catalogue as records.
pub fn default_catalogue() -> Vec<Service> {
    DEFAULT_CATALOGUE
        .iter()
        .map(|(id, zh, en, kind)| Service { id: (*id).to_owned(), name_zh: (*zh).to_owned(), name_en: (*en).to_owned(), kind: *kind })
        .collect()
}

/// Finds `id` of the wanted kind in `catalogue`, or explains which ids exist.
pub fn find_service<'a>(catalogue: &'a [Service], id: &str, wanted: ServiceKind) -> Result<&'a Service, Error> {
    match catalogue.iter().find(|s| s.id == id) {
        Some(service) if service.kind == wanted => Ok(service),
        found => {
            let ids: Vec<&str> = catalogue.iter().filter(|s| s.kind == wanted).map(|s| s.id.as_str()).collect();
            let what = match wanted {
                ServiceKind::Earning => "a service volunteers give",
                ServiceKind::Redeemable => "a service coins can be redeemed for",
            };
            let problem = if found.is_some() { "is not" } else { "is not a known service, nor" };
            Err(Error::invalid(format!("{id:?} {problem} {what}; choose one of: {}", ids.join(", "))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalogue_has_the_stable_ids() {
        let catalogue = default_catalogue();
        for id in ["companionship", "meals", "cleaning", "escort", "smartphone-help"] {
            assert!(find_service(&catalogue, id, ServiceKind::Earning).is_ok());
        }
        for id in ["tcm-physiotherapy", "housekeeping"] {
            assert!(find_service(&catalogue, id, ServiceKind::Redeemable).is_ok());
        }
    }

    #[test]
    fn unknown_or_wrong_kind_lists_the_choices() {
        let catalogue = default_catalogue();
        let err = find_service(&catalogue, "karaoke", ServiceKind::Earning).unwrap_err();
        assert!(err.to_string().contains("companionship"), "{err}");
        let err = find_service(&catalogue, "housekeeping", ServiceKind::Earning).unwrap_err();
        assert!(err.to_string().contains("is not a service volunteers give"), "{err}");
    }
}
