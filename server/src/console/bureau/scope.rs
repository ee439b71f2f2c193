//! What a bureau report covers (ADR 43): a period (a month or a year of the stations'
//! calendar, UTC+8) and a scope (a station, a district, the city), each read from the
//! query and checked against what the signed-in account may read.

use std::fmt;

use timebank_engine::model::{DistrictId, StationId};

use crate::console::visits::log::Month;
use crate::console::{Lang, PageError, Signed};
use crate::relay::Relay;
use crate::store::{ConsoleRole, DistrictRecord, Millis, StationRecord};

/// A calendar month or year of the stations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// `YYYY-MM`.
    Month(Month),
    /// `YYYY`.
    Year(i32),
}

impl Period {
    /// Reads `YYYY-MM` or `YYYY`, or 400 saying how to write it.
    pub fn parse(lang: Lang, raw: &str) -> Result<Period, PageError> {
        let raw = raw.trim();
        let year = (raw.len() == 4 && raw.bytes().all(|b| b.is_ascii_digit())).then(|| raw.parse::<i32>().ok()).flatten();
        match (year, Month::parse(raw)) {
            (Some(year), _) if year >= 1970 => Ok(Period::Year(year)),
            (None, Some(month)) => Ok(Period::Month(month)),
            _ => Err(PageError::bad_request(lang.pick(
                "期间应为月份 YYYY-MM（例如 2026-11）或年份 YYYY（例如 2026）。",
                "Give the period as a month, YYYY-MM (e.g. 2026-11), or a year, YYYY (e.g. 2026).",
            ))),
        }
    }

    /// Its first instant (ms, inclusive) and the next period's (exclusive).
    pub fn range(self) -> (Millis, Millis) {
        match self {
            Period::Month(month) => month.range(),
            Period::Year(year) => (Month { year, month: 1 }.range().0, Month { year: year + 1, month: 1 }.range().0),
        }
    }

    /// `2026年11月`, `2026年`; `November 2026`-like in English (`2026-11`, `2026`).
    pub fn label(self, lang: Lang) -> String {
        match (self, lang) {
            (Period::Month(m), Lang::Zh) => format!("{}年{}月", m.year, m.month),
            (Period::Year(y), Lang::Zh) => format!("{y}年"),
            (period, Lang::En) => period.to_string(),
        }
    }

    /// The same kind of period before this one.
    pub fn previous(self) -> Period {
        match self {
            Period::Month(m) => Period::Month(m.previous()),
            Period::Year(y) => Period::Year(y - 1),
        }
    }

    /// The same kind of period after this one.
    pub fn next(self) -> Period {
        match self {
            Period::Month(m) => Period::Month(m.next()),
            Period::Year(y) => Period::Year(y + 1),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(m) => write!(f, "{m}"),
            Period::Year(y) => write!(f, "{y:04}"),
        }
    }
}

/// The query's word for the whole city.
pub const CITY: &str = "city";

/// What a report covers, with its stations (and, for the city, its districts).
#[derive(Clone, Debug)]
pub enum Scope {
    /// One station.
    Station(StationRecord),
    /// A district and its stations.
    District(DistrictRecord, Vec<StationRecord>),
    /// Every district and station.
    City(Vec<DistrictRecord>, Vec<StationRecord>),
}

impl Scope {
    /// The scope `raw` names (`s-…`, `q-…`, `city`; by default the account's own: its
    /// station, its district, the city) if `signed` may read all of it. A station out of
    /// reach answers 404 like one that does not exist (ADR 40); a district or the city that
    /// the account does not read is refused (403); an unknown district is 404.
    pub fn resolve(relay: &Relay, signed: &Signed, raw: Option<&str>) -> Result<Scope, PageError> {
        let lang = signed.lang;
        let raw = raw.map(str::trim).filter(|s| !s.is_empty());
        let beyond = || {
            PageError::forbidden(lang.pick(
                "这个范围超出了您账号的查看范围：协调员查看本服务站，区级账号查看本区，市级账号查看全市。",
                "This is beyond what your account reads: a coordinator reads their station, a district account its district, the city everything.",
            ))
        };
        let store = relay.store();
        let wanted = match (raw, &signed.role) {
            (None, ConsoleRole::Coordinator { station }) => Wanted::Station(station.as_str().to_owned()),
            (None, ConsoleRole::District { district }) => Wanted::District(district.clone()),
            (None, ConsoleRole::City) | (Some(CITY), _) => Wanted::City,
            (Some(raw), _) if raw.starts_with("s-") => Wanted::Station(raw.to_owned()),
            (Some(raw), _) => Wanted::District(DistrictId::parse(raw).map_err(|_| unknown(lang))?),
        };
        match wanted {
            Wanted::Station(raw) => {
                let mut stations = signed.visible_stations(relay, Some(&raw))?;
                let station = stations.pop().ok_or_else(|| PageError::not_at_station(lang))?;
                // A coordinator's `?station=` elsewhere shows their own; a scope names one.
                if station.id.as_str() != raw {
                    return Err(PageError::not_at_station(lang));
                }
                Ok(Scope::Station(station))
            }
            Wanted::District(id) => {
                let district = store.districts()?.into_iter().find(|d| d.id == id).ok_or_else(|| unknown(lang))?;
                let reads = match &signed.role {
                    ConsoleRole::City => true,
                    ConsoleRole::District { district } => *district == id,
                    ConsoleRole::Coordinator { .. } => false,
                };
                if !reads {
                    return Err(beyond());
                }
                let stations = store.stations()?.into_iter().filter(|s| s.district == id).collect();
                Ok(Scope::District(district, stations))
            }
            Wanted::City if signed.role == ConsoleRole::City => Ok(Scope::City(store.districts()?, store.stations()?)),
            Wanted::City => Err(beyond()),
        }
    }

    /// Its id in the query and file names: the station's, the district's, or `city`.
    pub fn id(&self) -> String {
        match self {
            Scope::Station(s) => s.id.to_string(),
            Scope::District(d, _) => d.id.to_string(),
            Scope::City(..) => CITY.to_owned(),
        }
    }

    /// Its name: the station's, the district's, 全市.
    pub fn name(&self, lang: Lang) -> String {
        match self {
            Scope::Station(s) => s.name.clone(),
            Scope::District(d, _) => d.name.clone(),
            Scope::City(..) => lang.pick("全市", "The city").to_owned(),
        }
    }

    /// Every station it covers.
    pub fn stations(&self) -> Vec<StationRecord> {
        match self {
            Scope::Station(s) => vec![s.clone()],
            Scope::District(_, stations) | Scope::City(_, stations) => stations.clone(),
        }
    }

    /// Its parts, each with its id, name and stations: a city's districts, a district's
    /// stations; a station has none.
    pub fn parts(&self) -> Vec<(String, String, Vec<StationId>)> {
        match self {
            Scope::Station(_) => Vec::new(),
            Scope::District(_, stations) => stations.iter().map(|s| (s.id.to_string(), s.name.clone(), vec![s.id.clone()])).collect(),
            Scope::City(districts, stations) => districts
                .iter()
                .map(|d| {
                    let ids = stations.iter().filter(|s| s.district == d.id).map(|s| s.id.clone()).collect();
                    (d.id.to_string(), d.name.clone(), ids)
                })
                .collect(),
        }
    }
}

/// A scope as asked for, before the reach check.
enum Wanted {
    Station(String),
    District(DistrictId),
    City,
}

fn unknown(lang: Lang) -> PageError {
    PageError::not_found(lang.pick(
        "没有这个范围：请写服务站编号（s-…）、区编号（q-…）或 city。",
        "No such scope: give a station (s-…), a district (q-…) or city.",
    ))
}

/// The scopes `signed` may choose between, with their names: the city, then each district
/// in reach, then each station in reach.
pub fn choices(relay: &Relay, signed: &Signed) -> Result<Vec<(String, String)>, PageError> {
    let lang = signed.lang;
    let stations = signed.visible_stations(relay, None)?;
    let mut choices = Vec::new();
    if signed.role == ConsoleRole::City {
        choices.push((CITY.to_owned(), lang.pick("全市", "The city").to_owned()));
    }
    if signed.station().is_none() {
        for district in relay.store().districts()? {
            let reads = signed.role == ConsoleRole::City || signed.role.district() == Some(&district.id);
            if reads {
                choices.push((district.id.to_string(), district.name));
            }
        }
    }
    choices.extend(stations.into_iter().map(|s| (s.id.to_string(), s.name)));
    Ok(choices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_month_or_a_year_of_the_stations_calendar() {
        let lang = Lang::Zh;
        assert_eq!(Period::parse(lang, "2026-11").unwrap(), Period::Month(Month { year: 2026, month: 11 }));
        assert_eq!(Period::parse(lang, " 2026 ").unwrap(), Period::Year(2026));
        for bad in ["2026-13", "26", "20261", "november", "", "0999", "2026-1"] {
            assert!(Period::parse(lang, bad).is_err(), "{bad}");
        }
        let year = Period::Year(2026);
        assert_eq!(year.range().0, Month { year: 2026, month: 1 }.range().0);
        assert_eq!(year.range().1, Month { year: 2026, month: 12 }.range().1, "a year ends where its December does");
        assert_eq!(
            (year.label(Lang::Zh), year.to_string(), year.previous().to_string()),
            ("2026年".into(), "2026".into(), "2025".into())
        );
        let december = Period::parse(lang, "2026-12").unwrap();
        assert_eq!((december.label(Lang::Zh), december.next().to_string()), ("2026年12月".into(), "2027-01".into()));
    }
}
