//! The districts page (通存通兑): for a district's or the city's account, each district in
//! reach with its stations and its figures: coins issued for visits at its stations, coins
//! redeemed there, redeemed in (by other districts' members) and redeemed out (its members
//! served in other districts). A coordinator reads their own station only: refused here.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maud::{Markup, html};

use crate::console::i18n::coins;
use crate::console::reports::districts::{DistrictFigures, district_figures};
use crate::console::{PageError, Signed, blocking, layout};
use crate::relay::Relay;
use crate::store::{DistrictRecord, StationRecord};

/// `/districts`.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new().route("/districts", get(districts_page))
}

/// One district as the page shows it.
struct DistrictRow {
    district: DistrictRecord,
    stations: Vec<StationRecord>,
    figures: DistrictFigures,
}

async fn districts_page(signed: Signed, State(relay): State<Arc<Relay>>) -> Result<Markup, PageError> {
    let lang = signed.lang;
    if signed.station().is_some() {
        return Err(PageError::forbidden(lang.pick(
            "协调员只查看本服务站；各区数字由区级和市级账号查看。",
            "A coordinator reads their own station; the districts' figures are for district and city accounts.",
        )));
    }
    let rows = {
        let signed = signed.clone();
        blocking(move || {
            relay.settle();
            let store = relay.store();
            let visible = signed.visible_stations(&relay, None)?;
            let districts: Vec<DistrictRecord> =
                store.districts()?.into_iter().filter(|d| visible.iter().any(|s| s.district == d.id)).collect();
            let ids: Vec<_> = districts.iter().map(|d| d.id.clone()).collect();
            let figures = district_figures(&ids, &store.stations()?, &store.ledger_events(0)?, &store.postings()?);
            Ok(districts
                .into_iter()
                .zip(figures)
                .map(|(district, figures)| {
                    let stations = visible.iter().filter(|s| s.district == district.id).cloned().collect();
                    DistrictRow { district, stations, figures }
                })
                .collect::<Vec<_>>())
        })
        .await?
    };
    Ok(layout::page(
        &signed,
        lang.pick("各区通存通兑", "Districts"),
        html! {
            p.actions { a href="/console/bureau" data-testid="bureau-link" { (lang.pick("民政报表（月报、年报）", "Reports for the bureau (month, year)")) } }
            p.hint { (lang.pick(
                "通存通兑：在一个区挣的时间币可以在全市任何服务站兑换。“本区兑换”是在本区服务站兑现的；“外区会员来兑”是其中外区会员的部分；“本区会员外兑”是本区会员在外区服务站兑现的。",
                "Coins earned in one district are redeemed at any station of the city. Redeemed: fulfilled at the district's stations; in: of that, by other districts' members; out: the district's members served in other districts.",
            )) }
            table.data data-testid="districts" {
                thead { tr {
                    th { (lang.pick("区", "District")) }
                    th { (lang.pick("服务站", "Stations")) }
                    th.num { (lang.pick("发放时间币", "Coins issued")) }
                    th.num { (lang.pick("本区兑换", "Redeemed")) }
                    th.num { (lang.pick("外区会员来兑", "Redeemed in")) }
                    th.num { (lang.pick("本区会员外兑", "Redeemed out")) }
                } }
                tbody {
                    @for row in &rows {
                        tr data-district=(row.district.id) {
                            td.lead { (row.district.name) }
                            td data-label=(lang.pick("服务站", "Stations")) {
                                @for (i, station) in row.stations.iter().enumerate() {
                                    @if i > 0 { "、" }
                                    (station.name)
                                }
                            }
                            td.num data-label=(lang.pick("发放时间币", "Coins issued")) data-testid="issued" { (coins(row.figures.issued)) }
                            td.num data-label=(lang.pick("本区兑换", "Redeemed")) data-testid="redeemed" { (coins(row.figures.redeemed)) }
                            td.num data-label=(lang.pick("外区会员来兑", "Redeemed in")) data-testid="redeemed-in" { (coins(row.figures.redeemed_in)) }
                            td.num data-label=(lang.pick("本区会员外兑", "Redeemed out")) data-testid="redeemed-out" { (coins(row.figures.redeemed_out)) }
                        }
                    }
                }
            }
        },
    ))
}
