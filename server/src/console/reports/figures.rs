//! A station's monthly figures for the district (ADR 18), and the same over any set of
//! stations and instants for the bureau's reports (ADR 43): from the visit log, the
//! volunteers active, elders served, visits and hours (visits that started in the month,
//! finished and not rejected); from the ledger's postings, coins issued, redeemed and
//! donated in the month and coins outstanding at its end (corrections count in the
//! balance only). Coins are kept in minutes
//! (60 = one coin) and written with two decimals.

use std::collections::{BTreeSet, HashMap};

use timebank_engine::model::{MemberId, OutcomeStatus, StationId};

use crate::console::Lang;
use crate::console::visits::log::{Arrivals, Month, VisitRecord};
use crate::ledger::event::TransferEvent;
use crate::ledger::posting::{Account, PostingKind};
use crate::store::{MemberRecord, Millis, PostingRecord, RelayStore, StoreResult};

/// One station's figures for one month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// The station's name.
    pub station: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Volunteers with at least one counted visit.
    pub volunteers_active: usize,
    /// Elders with at least one counted visit.
    pub elders_served: usize,
    /// Counted visits: started in the month, finished, not rejected.
    pub visits: usize,
    /// Their logged length, minutes.
    pub minutes: i64,
    /// Coins issued (earn and overflow postings, less reversals back to the program), minutes.
    pub issued: i64,
    /// Coins redeemed (fulfilled redemptions), minutes.
    pub redeemed: i64,
    /// Coins donated to the station's pool, minutes.
    pub donated: i64,
    /// Coins held by the station's members and pool at the month's end, minutes.
    pub outstanding: i64,
}

/// The CSV header in English, in the district's order.
pub const CSV_HEADER: &str =
    "station,month,volunteers_active,elders_served,visits,hours,coins_issued,coins_redeemed,coins_donated,coins_outstanding";

/// The CSV header in Chinese.
pub const CSV_HEADER_ZH: &str = "服务站,月份,活跃志愿者,服务老人,服务次数,服务小时,发放时间币,兑换,捐赠,月末流通";

/// The CSV header in `lang`.
pub fn csv_header(lang: Lang) -> &'static str {
    lang.pick(CSV_HEADER_ZH, CSV_HEADER)
}

impl Figures {
    /// Its CSV row (hours and coins with two decimals).
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{}",
            csv_field(&self.station),
            self.month,
            self.volunteers_active,
            self.elders_served,
            self.visits,
            two_decimals(self.minutes),
            two_decimals(self.issued),
            two_decimals(self.redeemed),
            two_decimals(self.donated),
            two_decimals(self.outstanding),
        )
    }
}

/// Minutes as hours or coins with exactly two decimals, rounded half up: `90` → `1.50`.
pub fn two_decimals(minutes: i64) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let hundredths = (minutes.unsigned_abs() * 100 + 30) / 60;
    format!("{sign}{}.{:02}", hundredths / 100, hundredths % 100)
}

/// First characters that make a spreadsheet cell a formula (OWASP's list for CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-`, `@`, tab or carriage return (what Excel and WPS read as the start of a formula)
/// is prefixed with `'` so a spreadsheet never runs it.
pub fn csv_field(raw: &str) -> String {
    let safe = if raw.starts_with(FORMULA_STARTS) { format!("'{raw}") } else { raw.to_owned() };
    if safe.contains([',', '"', '\n', '\r']) { format!("\"{}\"", safe.replace('"', "\"\"")) } else { safe }
}

/// The figures of `station` (named `name`) for `month`. `records`: the station's visit
/// log; `postings`: the whole ledger; `placement`: where each member belonged when.
pub fn figures(
    station: &StationId,
    name: &str,
    month: Month,
    records: &[VisitRecord],
    postings: &[PostingRecord],
    placement: &Placement,
) -> Figures {
    Figures {
        station: name.to_owned(),
        month: month.to_string(),
        ..figures_of(&|s| s == station, month.range(), records, postings, placement)
    }
}

/// The figures of the stations `covers` holds (one, a district's, the city's: the bureau's
/// reports, ADR 43) for the instants `start..end`, unnamed. `records`: those stations'
/// visit logs; `postings`: the whole ledger; `placement`: where each member belonged when.
/// Volunteers and elders are counted once however many of the stations they were seen at.
pub fn figures_of(
    covers: &dyn Fn(&StationId) -> bool,
    (start, end): (Millis, Millis),
    records: &[VisitRecord],
    postings: &[PostingRecord],
    placement: &Placement,
) -> Figures {
    let counted: Vec<&VisitRecord> = counted_in(covers, (start, end), records, placement).collect();
    let volunteers: BTreeSet<&MemberId> = counted.iter().map(|r| &r.visit.volunteer).collect();
    let elders: BTreeSet<&MemberId> = counted.iter().map(|r| &r.visit.elder).collect();

    let here = |raw: &str, at: Millis| covered_account(covers, raw, at, placement);
    let mut figures = Figures {
        volunteers_active: volunteers.len(),
        elders_served: elders.len(),
        visits: counted.len(),
        minutes: counted.iter().map(|r| r.minutes()).sum(),
        ..Figures::default()
    };
    for p in postings.iter().filter(|p| p.at < end) {
        let (into, out_of) = (here(&p.credit, p.at), here(&p.debit, p.at));
        if into && !out_of {
            figures.outstanding += p.minutes;
        } else if out_of && !into {
            figures.outstanding -= p.minutes;
        }
        if p.at < start {
            continue;
        }
        let kind = PostingKind::parse(&p.kind);
        // A coordinator's correction moves coins to or from the program but issues none:
        // it shows in the balance (outstanding) only.
        let correction = p.kind == "correction";
        if correction {
            continue;
        }
        if p.debit == "program" && into {
            figures.issued += p.minutes;
        } else if p.credit == "program" && out_of && kind == Some(PostingKind::Reversal) {
            figures.issued -= p.minutes;
        }
        if kind == Some(PostingKind::Redeem) && out_of {
            figures.redeemed += p.minutes;
        }
        if kind == Some(PostingKind::Donation) && into {
            figures.donated += p.minutes;
        }
    }
    figures
}

/// The counted visits of `records` (finished, not rejected) that started in `start..end`
/// and whose volunteer belonged, when it started, to a station `covers` holds.
pub fn counted_in<'a>(
    covers: &'a dyn Fn(&StationId) -> bool,
    (start, end): (Millis, Millis),
    records: &'a [VisitRecord],
    placement: &'a Placement,
) -> impl Iterator<Item = &'a VisitRecord> + 'a {
    records.iter().filter(|r| counted(r)).filter(move |r| {
        let started = r.visit.check_in.timestamp_millis();
        (start..end).contains(&started) && placement.station_at(&r.visit.volunteer, started).is_some_and(covers)
    })
}

/// Whether the account `raw` (a member's, their held coins, or a station's pool) belonged
/// to a station `covers` holds at `at`: a member's by their station then.
pub fn covered_account(covers: &dyn Fn(&StationId) -> bool, raw: &str, at: Millis, placement: &Placement) -> bool {
    match Account::parse(raw) {
        Some(Account::Pool(s)) => covers(&s),
        Some(Account::Member(m) | Account::Held(m)) => placement.station_at(&m, at).is_some_and(covers),
        Some(Account::Program) | None => false,
    }
}

/// One volunteer's month: their visits and hours (by the month the visits happened), the
/// coins their visits earned by the month of service and by the month the approval was
/// posted, and the coins they spent (redeemed, given, donated) in the month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolunteerMonth {
    /// The volunteer.
    pub volunteer: MemberRecord,
    /// Counted visits that started in the month.
    pub visits: usize,
    /// Their logged minutes.
    pub minutes: i64,
    /// Coins (minutes) earned for the month's visits, whenever approved, less reversals.
    pub earned_for_month: i64,
    /// Coins (minutes) posted to them in the month, for visits of any month, less reversals.
    pub earned_in_month: i64,
    /// Coins (minutes) they spent in the month: redeemed, given to others, donated.
    pub spent: i64,
}

/// The month at `station` of each of `volunteers` (its present ones and those who left it)
/// with a visit, an earning or a spending there in it, in their order. Placed by time as
/// the station's figures are (ADR 39): a visit by its start, a posting by its time, so a
/// volunteer who moved has the part of their month before the move at the station they
/// left and the rest at the new one. `records`: the station's visit log (with the leavers'
/// visits); `postings`: the whole ledger; `placement`: where each member belonged when.
pub fn volunteers(
    station: &StationId,
    month: Month,
    volunteers: &[MemberRecord],
    records: &[VisitRecord],
    postings: &[PostingRecord],
    placement: &Placement,
) -> Vec<VolunteerMonth> {
    let (start, end) = month.range();
    let here = |member: &MemberId, at: Millis| placement.station_at(member, at) == Some(station);
    let given_here = |r: &VisitRecord| here(&r.visit.volunteer, r.visit.check_in.timestamp_millis());
    let of_month: HashMap<&str, bool> =
        records.iter().map(|r| (r.visit.id.as_str(), month.contains(r.visit.check_in.timestamp_millis()) && given_here(r))).collect();
    let mut touching: HashMap<&str, Vec<&PostingRecord>> = HashMap::new();
    for p in postings {
        touching.entry(p.debit.as_str()).or_default().push(p);
        if p.credit != p.debit {
            touching.entry(p.credit.as_str()).or_default().push(p);
        }
    }
    volunteers
        .iter()
        .filter_map(|v| {
            let mut row =
                VolunteerMonth { volunteer: v.clone(), visits: 0, minutes: 0, earned_for_month: 0, earned_in_month: 0, spent: 0 };
            for r in records.iter().filter(|r| r.visit.volunteer == v.id && counted(r) && of_month[r.visit.id.as_str()]) {
                row.visits += 1;
                row.minutes += r.minutes();
            }
            let own = Account::Member(v.id.clone()).to_string();
            let held = Account::Held(v.id.clone()).to_string();
            for p in touching.get(own.as_str()).into_iter().chain(touching.get(held.as_str())).flatten() {
                let in_month = (start..end).contains(&p.at) && here(&v.id, p.at);
                match PostingKind::parse(&p.kind) {
                    Some(PostingKind::Earn | PostingKind::Reversal) if p.credit == own || p.debit == own => {
                        let sign = if p.credit == own { 1 } else { -1 };
                        if of_month.get(p.subject.as_str()).copied().unwrap_or(false) {
                            row.earned_for_month += sign * p.minutes;
                        }
                        if in_month && of_month.contains_key(p.subject.as_str()) {
                            row.earned_in_month += sign * p.minutes;
                        }
                    }
                    Some(PostingKind::Redeem) if in_month && p.debit == held => row.spent += p.minutes,
                    Some(PostingKind::Gift | PostingKind::Donation) if in_month && p.debit == own => row.spent += p.minutes,
                    _ => {}
                }
            }
            let active = row.visits > 0 || row.earned_for_month != 0 || row.earned_in_month != 0 || row.spent != 0;
            active.then_some(row)
        })
        .collect()
}

/// Where the figures place a member (ADR 42): at the station they belonged to when what is
/// counted happened (a visit by its start, a posting by its time), so a member who moved
/// leaves their earlier months at the station they left. Built once per report from every
/// member's station now and the moves of those who moved (read with the arrival log).
#[derive(Clone, Debug, Default)]
pub struct Placement {
    now: HashMap<MemberId, StationId>,
    moves: HashMap<MemberId, Vec<TransferEvent>>,
}

impl Placement {
    /// Every member's station now from `store`, and the moves `arrivals` read.
    pub fn read(store: &dyn RelayStore, arrivals: &Arrivals) -> StoreResult<Placement> {
        let mut now = HashMap::new();
        for station in store.stations()? {
            for member in store.station_members(&station.id)? {
                now.insert(member.id, station.id.clone());
            }
        }
        Ok(Placement::new(now, arrivals.moves().clone()))
    }

    /// From each member's station now and the moves of those who moved (any order).
    pub fn new(now: HashMap<MemberId, StationId>, mut moves: HashMap<MemberId, Vec<TransferEvent>>) -> Placement {
        for list in moves.values_mut() {
            list.sort_by_key(|m| m.ordinal);
        }
        Placement { now, moves }
    }

    /// The station `member` belonged to at `at` (ms), if they are known.
    pub fn station_at(&self, member: &MemberId, at: Millis) -> Option<&StationId> {
        self.moves.get(member).and_then(|moves| TransferEvent::station_at(moves, at)).or_else(|| self.now.get(member))
    }

    /// The members who left `station` (and whose visits there are logged in their own
    /// documents, read with their present station's).
    pub fn left(&self, station: &StationId) -> Vec<MemberId> {
        let mut left: Vec<MemberId> =
            self.moves.iter().filter(|(_, moves)| moves.iter().any(|m| &m.from == station)).map(|(id, _)| id.clone()).collect();
        left.sort();
        left
    }
}

/// Whether a visit counts in the figures: finished and not rejected.
fn counted(record: &VisitRecord) -> bool {
    !record.visit.is_open() && record.outcome_status() != Some(OutcomeStatus::Rejected)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use timebank_engine::documents::ledger::Outcome;
    use timebank_engine::model::VisitId;

    use super::*;
    use crate::console::visits::log::fixture;

    fn ms(at: &str) -> i64 {
        at.parse::<DateTime<Utc>>().unwrap().timestamp_millis()
    }

    fn visit(volunteer: &str, elder: &str, start: &str, minutes: i64, status: Option<&str>) -> VisitRecord {
        let mut record = fixture::record(VisitId::generate().as_str(), volunteer, elder, start, minutes);
        record.outcome = status.map(|s| Outcome { status: OutcomeStatus::parse(s).unwrap(), reason: String::new(), minutes: 0 });
        record
    }

    fn posting(kind: &str, debit: &str, credit: &str, minutes: i64, at: &str) -> PostingRecord {
        PostingRecord {
            key: format!("{kind}:{debit}:{at}"),
            kind: kind.into(),
            debit: debit.into(),
            credit: credit.into(),
            minutes,
            subject: String::new(),
            memo: String::new(),
            by: None,
            event: 0,
            at: ms(at),
        }
    }

    #[test]
    fn a_months_figures_count_its_visits_and_postings_and_the_balance_at_its_end() {
        let s1 = StationId::parse("s-one").unwrap();
        let s2 = StationId::parse("s-two").unwrap();
        let station_of: HashMap<MemberId, StationId> = [("m-v1", &s1), ("m-v2", &s1), ("m-e1", &s1), ("m-e2", &s1), ("m-x", &s2)]
            .into_iter()
            .map(|(m, s)| (MemberId::parse(m).unwrap(), s.clone()))
            .collect();
        let station_of = Placement::new(station_of, HashMap::new());
        let records = vec![
            visit("m-v1", "m-e1", "2026-11-02T02:00:00Z", 90, Some("approved")),
            visit("m-v1", "m-e2", "2026-11-03T02:00:00Z", 60, None),
            visit("m-v2", "m-e1", "2026-11-04T02:00:00Z", 45, Some("rejected")),
            visit("m-v2", "m-e1", "2026-10-04T02:00:00Z", 60, Some("approved")),
            visit("m-x", "m-e1", "2026-11-04T02:00:00Z", 60, None),
        ];
        let postings = vec![
            posting("earn", "program", "member:m-v1", 120, "2026-10-20T00:00:00Z"),
            posting("earn", "program", "member:m-v1", 90, "2026-11-05T00:00:00Z"),
            posting("overflow", "program", "pool:s-one", 15, "2026-11-05T00:00:00Z"),
            posting("reversal", "member:m-v1", "program", 30, "2026-11-06T00:00:00Z"),
            posting("reserve", "member:m-v1", "held:m-v1", 60, "2026-11-07T00:00:00Z"),
            posting("redeem", "held:m-v1", "program", 60, "2026-11-08T00:00:00Z"),
            posting("donation", "member:m-v1", "pool:s-one", 30, "2026-11-09T00:00:00Z"),
            posting("earn", "program", "member:m-x", 600, "2026-11-05T00:00:00Z"),
            posting("earn", "program", "member:m-v1", 60, "2026-12-01T00:00:00Z"),
            posting("correction", "member:m-v1", "program", 15, "2026-11-10T00:00:00Z"),
        ];
        let november = Month::parse("2026-11").unwrap();
        let f = figures(&s1, "曹杨", november, &records, &postings, &station_of);
        assert_eq!((f.volunteers_active, f.elders_served, f.visits, f.minutes), (1, 2, 2, 150));
        assert_eq!((f.issued, f.redeemed, f.donated), (90 + 15 - 30, 60, 30));
        // 120 from October, +90 +15 -30 -60 (redeemed) -15 (corrected) in November; the
        // December earn is later.
        assert_eq!(f.outstanding, 120 + 90 + 15 - 30 - 60 - 15);
        assert_eq!(f.csv_row(), "曹杨,2026-11,1,2,2,2.50,1.25,1.00,0.50,2.00");
        let other = figures(&s2, "甘泉", november, &records, &postings, &station_of);
        assert_eq!((other.visits, other.issued, other.outstanding), (1, 600, 600));
    }

    #[test]
    fn figures_over_several_stations_count_each_person_once_and_the_coins_between_them_not_at_all() {
        let (s1, s2, s3) =
            (StationId::parse("s-one").unwrap(), StationId::parse("s-two").unwrap(), StationId::parse("s-three").unwrap());
        let station_of: HashMap<MemberId, StationId> = [("m-v1", &s1), ("m-v2", &s2), ("m-e1", &s1), ("m-x", &s3)]
            .into_iter()
            .map(|(m, s)| (MemberId::parse(m).unwrap(), s.clone()))
            .collect();
        let station_of = Placement::new(station_of, HashMap::new());
        // One elder served by volunteers of both stations; a volunteer of a third.
        let records = vec![
            visit("m-v1", "m-e1", "2026-11-02T02:00:00Z", 60, Some("approved")),
            visit("m-v2", "m-e1", "2026-11-03T02:00:00Z", 30, Some("approved")),
            visit("m-x", "m-e1", "2026-11-03T02:00:00Z", 30, None),
        ];
        let postings = vec![
            posting("earn", "program", "member:m-v1", 60, "2026-11-05T00:00:00Z"),
            posting("earn", "program", "member:m-v2", 30, "2026-11-05T00:00:00Z"),
            // A gift from one station's member to the other's: outstanding stays in the two.
            posting("gift", "member:m-v1", "member:m-v2", 15, "2026-11-06T00:00:00Z"),
            posting("earn", "program", "member:m-x", 30, "2026-11-05T00:00:00Z"),
        ];
        let both = |s: &StationId| *s == s1 || *s == s2;
        let f = figures_of(&both, Month::parse("2026-11").unwrap().range(), &records, &postings, &station_of);
        assert_eq!(
            (f.volunteers_active, f.elders_served, f.visits, f.minutes),
            (2, 1, 2, 90),
            "the elder once, the third station's visit not"
        );
        assert_eq!((f.issued, f.outstanding), (90, 90));
        let one = figures(&s1, "曹杨", Month::parse("2026-11").unwrap(), &records, &postings, &station_of);
        assert_eq!((one.elders_served, one.outstanding), (1, 45), "the gift left the one station");
    }

    #[test]
    fn numbers_and_fields_are_written_for_spreadsheets() {
        assert_eq!(two_decimals(0), "0.00");
        assert_eq!(two_decimals(90), "1.50");
        assert_eq!(two_decimals(20), "0.33");
        assert_eq!(two_decimals(-45), "-0.75");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("\t=1"), "'\t=1");
        assert_eq!(csv_field("\r=1"), "\"'\r=1\"");
    }

    #[test]
    fn a_volunteers_month_counts_coins_by_service_and_by_approval() {
        let member = |id: &str, name: &str| MemberRecord {
            id: MemberId::parse(id).unwrap(),
            station: StationId::parse("s-one").unwrap(),
            role: timebank_engine::model::Role::Volunteer,
            display_name: name.into(),
            birth_year: None,
            household: None,
            hardship: false,
            created_at: 0,
        };
        let (v1, v2) = (member("m-v1", "李伟"), member("m-v2", "周明"));
        let at = |id: &str, start: &str, minutes| {
            let mut r = fixture::record(id, "m-v1", "m-e1", start, minutes);
            r.outcome = Some(Outcome { status: OutcomeStatus::Approved, reason: String::new(), minutes });
            r
        };
        let records = vec![
            at("v-oct", "2026-10-31T02:00:00Z", 60),
            at("v-nov", "2026-11-05T02:00:00Z", 90),
            at("v-end", "2026-11-28T02:00:00Z", 30),
        ];
        let earn = |visit: &str, minutes, when| PostingRecord {
            subject: visit.into(),
            ..posting("earn", "program", "member:m-v1", minutes, when)
        };
        let postings = vec![
            earn("v-oct", 60, "2026-11-01T00:00:00Z"),
            earn("v-nov", 90, "2026-11-06T00:00:00Z"),
            earn("v-end", 30, "2026-12-01T00:00:00Z"),
            posting("reserve", "member:m-v1", "held:m-v1", 30, "2026-11-07T00:00:00Z"),
            posting("redeem", "held:m-v1", "program", 30, "2026-11-08T00:00:00Z"),
        ];
        let one = StationId::parse("s-one").unwrap();
        let placement = Placement::new([(v1.id.clone(), one.clone()), (v2.id.clone(), one.clone())].into(), HashMap::new());
        let rows = volunteers(&one, Month::parse("2026-11").unwrap(), &[v1.clone(), v2], &records, &postings, &placement);
        assert_eq!(rows.len(), 1, "周明 did nothing in November");
        let r = &rows[0];
        assert_eq!((r.visits, r.minutes), (2, 120), "the visits of 5 and 28 November");
        assert_eq!(r.earned_for_month, 90 + 30, "November's visits, one approved only in December");
        assert_eq!(r.earned_in_month, 60 + 90, "approvals posted in November, one for an October visit");
        assert_eq!(r.spent, 30, "the redemption given, not the hold");

        // 李伟 moved to s-two on 15 November: the month splits between the two stations.
        let two = StationId::parse("s-two").unwrap();
        let moved = TransferEvent {
            member: v1.id.clone(),
            ordinal: 1,
            from: one.clone(),
            to: two.clone(),
            at: DateTime::parse_from_rfc3339("2026-11-15T00:00:00Z").unwrap().timestamp_millis(),
        };
        let placement = Placement::new([(v1.id.clone(), two.clone())].into(), [(v1.id.clone(), vec![moved])].into());
        let row = |station: &StationId| {
            let rows =
                volunteers(station, Month::parse("2026-11").unwrap(), std::slice::from_ref(&v1), &records, &postings, &placement);
            rows.first().map(|r| (r.visits, r.minutes, r.earned_for_month, r.earned_in_month, r.spent))
        };
        assert_eq!(row(&one), Some((1, 90, 90, 60 + 90, 30)), "the visit of 5 November, approvals and spending before the move");
        assert_eq!(row(&two), Some((1, 30, 30, 0, 0)), "the visit of 28 November, approved in December");
    }
}
