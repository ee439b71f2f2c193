//! Runs one command against the engine and prints its result.

use serde_json::json;
use timebank_engine::model::{
    ConfirmedBy, MemberId, OrderId, RedemptionAction, RequestId, Response, ReviewDecision, Role, StationId, VerifiedVisits, VisitId,
};
use timebank_engine::watch::Watch;
use timebank_engine::{Engine, NewIdentity, PastVisit, RelayLink, Result};

use timebank_cli::relay::{self, HttpTransport};

use crate::args::{Cli, Command, OrderCommand, RedemptionCommand, ReviewCommand, VisitCommand};
use crate::output::{VisitRow, duration, elder_label, emit, listing, local, slot_words, visit_line, watch_line};

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<()> {
    let json = cli.json;
    if let Command::Init { member, station, role } = &cli.command {
        let who = NewIdentity { member: MemberId::parse(member)?, station: StationId::parse(station)?, role: Role::parse(role)? };
        let engine = Engine::create(&cli.data, who)?;
        let id = engine.identity();
        emit(json, id, || {
            format!("store created in {} for {} {} at station {}", cli.data.display(), id.role.as_str(), id.member, id.station)
        });
        return Ok(());
    }
    if let Command::Enroll { relay, code, link } = &cli.command {
        let code_or_link = link.as_deref().or(code.as_deref()).unwrap_or_default();
        return enroll(cli, relay.as_deref().unwrap_or_default(), code_or_link);
    }
    let mut engine = Engine::open(&cli.data)?;
    match &cli.command {
        Command::Init { .. } | Command::Enroll { .. } => Ok(()),
        Command::Sync => {
            let link = enrolled(&engine)?;
            let report = engine.sync(&mut HttpTransport::new(&link))?;
            let status = engine.status()?;
            emit(json, &report, || {
                format!(
                    "synced with {}: {} change(s) sent, {} received in {} document(s); {} round trip(s), {} bytes up, {} down; {} change(s) still waiting",
                    link.url,
                    report.changes_sent,
                    report.changes_received,
                    report.docs_changed,
                    report.round_trips,
                    report.bytes_up,
                    report.bytes_down,
                    status.unsynced_changes
                )
            });
            Ok(())
        }
        Command::Watch => watch(&mut engine, json),
        Command::Visit(command) => visit(&mut engine, command, json),
        Command::Visits => {
            let views = engine.visits()?;
            let rows: Vec<VisitRow<'_>> = views.iter().map(VisitRow::from).collect();
            emit(json, &rows, || listing(views.iter().map(visit_line), "no visits yet"));
            Ok(())
        }
        Command::Order(command) => order(&mut engine, command, json),
        Command::Review(command) => review(&mut engine, command, json),
        Command::Redemption(command) => redemption(&mut engine, command, json),
        Command::Orders => {
            let orders = engine.orders();
            emit(json, &orders, || {
                listing(
                    orders.iter().map(|o| {
                        format!(
                            "{}  {} for {}{}  [{}]  {}",
                            o.order.id,
                            o.order.service,
                            o.order.elder,
                            slot_words(o.order.slot),
                            o.state.as_str(),
                            o.order.note
                        )
                    }),
                    "no orders",
                )
            });
            Ok(())
        }
        Command::Assignments => {
            let list = engine.assignments();
            emit(json, &list, || {
                listing(
                    list.iter().map(|a| {
                        let elder = elder_label(&a.assignment.elder, a.assignment.elder_name.as_deref());
                        let contact: Vec<String> = [("address", &a.elder_address), ("phone", &a.elder_phone)]
                            .iter()
                            .filter_map(|(what, value)| value.as_ref().map(|v| format!("{what}: {v}")))
                            .collect();
                        let contact = if contact.is_empty() { String::new() } else { format!("  ({})", contact.join(", ")) };
                        format!(
                            "{}  {} for {elder}{}  [{}]  {}{contact}",
                            a.assignment.order,
                            a.assignment.service,
                            slot_words(a.assignment.slot),
                            a.state.as_str(),
                            a.assignment.note
                        )
                    }),
                    "no assignments",
                )
            });
            Ok(())
        }
        Command::Accept { order } => {
            let id = OrderId::parse(order)?;
            engine.accept(&id)?;
            emit(json, &json!({ "order": id, "response": Response::Accepted.as_str() }), || format!("accepted order {id}"));
            Ok(())
        }
        Command::Decline { order, reason } => {
            let id = OrderId::parse(order)?;
            engine.decline(&id, reason)?;
            emit(json, &json!({ "order": id, "response": "declined" }), || format!("declined order {id}"));
            Ok(())
        }
        Command::Redeem { service, minutes, at } => {
            let id = match at {
                Some(station) => engine.request_redemption_at(service, *minutes, &StationId::parse(station)?)?,
                None => engine.request_redemption(service, *minutes)?,
            };
            emit(json, &json!({ "id": id, "state": "saved on phone" }), || {
                format!(
                    "{id}: redemption of {} for {service} saved on phone; the station decides after the next sync",
                    duration(*minutes)
                )
            });
            Ok(())
        }
        Command::Gift { to, minutes } => {
            let id = engine.request_gift(&MemberId::parse(to)?, *minutes)?;
            emit(json, &json!({ "id": id, "state": "saved on phone" }), || {
                format!("{id}: gift of {} to {to} saved on phone; the station decides after the next sync", duration(*minutes))
            });
            Ok(())
        }
        Command::Requests => {
            let list = engine.requests()?;
            emit(json, &list, || {
                listing(
                    list.iter().map(|r| {
                        format!(
                            "{}  {}  {}  [{}]",
                            r.request.id,
                            local(r.request.created_at),
                            duration(i64::from(r.request.minutes)),
                            r.state_label
                        )
                    }),
                    "no requests",
                )
            });
            Ok(())
        }
        Command::Balance => {
            let b = engine.balance();
            emit(json, &b, || {
                format!(
                    "confirmed {}\npending   {} (visits not yet approved)\nreserved  {} (requests not yet settled)\navailable {}",
                    duration(b.confirmed_minutes),
                    duration(b.pending_minutes),
                    duration(b.reserved_minutes),
                    duration(b.available_minutes)
                )
            });
            Ok(())
        }
        Command::Services => {
            let services = engine.catalogue();
            emit(json, &services, || {
                services
                    .iter()
                    .map(|s| format!("{:<18} {:<10} {} / {}", s.id, s.kind.as_str(), s.name_zh, s.name_en))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        Command::Status => {
            let s = engine.status()?;
            emit(json, &s, || {
                format!(
                    "{} {} at station {}\nvisits: {} ({} checked in)\nchanges not yet sent: {}\nstore: {} bytes in {}",
                    s.role,
                    s.member,
                    s.station,
                    s.visits,
                    s.open_visits,
                    s.unsynced_changes,
                    s.store_bytes,
                    cli.data.display()
                )
            });
            Ok(())
        }
        Command::Compact => {
            engine.compact()?;
            let s = engine.status()?;
            emit(json, &json!({ "store_bytes": s.store_bytes }), || format!("compacted; store is {} bytes", s.store_bytes));
            Ok(())
        }
    }
}

/// The relay this device enrolled with, or what to do when it did not.
fn enrolled(engine: &Engine) -> Result<RelayLink> {
    engine.relay_link()?.ok_or_else(|| {
        timebank_engine::Error::invalid("this device is not enrolled with a relay; enroll it with `timebank enroll --link LINK` (the slip's QR code) or `--relay URL --code CODE`")
    })
}

/// Holds the live channel and syncs on every hint, printing one line per event, until the
/// process is stopped or the relay ends the watch (a revoked device).
fn watch(engine: &mut Engine, json: bool) -> Result<()> {
    let link = enrolled(engine)?;
    let mut transport = HttpTransport::new(&link);
    let mut watch = Watch::start(link.clone())?;
    while let Some(event) = watch.next(&mut || engine.sync(&mut transport))? {
        if json {
            match serde_json::to_string(&event) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("error: could not print the event as JSON: {e}"),
            }
        } else {
            println!("{}", watch_line(&link.url, &event));
        }
    }
    Ok(())
}

/// Enrolls with `code_or_link` (a code for `relay_url`, or the slip's link naming its relay).
fn enroll(cli: &Cli, relay_url: &str, code_or_link: &str) -> Result<()> {
    let mut engine = relay::enroll_store(&cli.data, relay_url, code_or_link, std::sync::Arc::new(timebank_engine::SystemClock))?;
    let link = engine.relay_link()?.ok_or_else(|| timebank_engine::Error::invalid("enrollment was not recorded"))?;
    // Fetch the member's documents now; if there is no signal, the next sync does it.
    let synced = engine.sync(&mut HttpTransport::new(&link)).is_ok();
    let id = engine.identity();
    emit(
        cli.json,
        &json!({ "member": id.member, "station": id.station, "role": id.role.as_str(), "device": link.device, "synced": synced }),
        || {
            format!(
                "this device is enrolled as {} {} at station {}{}",
                id.role.as_str(),
                id.member,
                id.station,
                if synced { "" } else { " (first sync failed; run `timebank sync` when there is signal)" }
            )
        },
    );
    Ok(())
}

fn visit(engine: &mut Engine, command: &VisitCommand, json: bool) -> Result<()> {
    match command {
        VisitCommand::Start { elder, service, order, at, tap } => {
            let order = order.as_deref().map(OrderId::parse).transpose()?;
            let elder = MemberId::parse(elder)?;
            let id = match tap {
                Some(url) => engine.start_visit_tapped(&elder, service, order.as_ref(), *at, url)?,
                None => engine.start_visit_at(&elder, service, order.as_ref(), *at)?,
            };
            emit(json, &json!({ "id": id, "state": "checked in" }), || id.to_string());
        }
        VisitCommand::End { visit, note, at, tap } => {
            let id = VisitId::parse(visit)?;
            let view = match tap {
                Some(url) => engine.end_visit_tapped(&id, *at, note.as_deref(), url)?,
                None => engine.end_visit(&id, *at, note.as_deref())?,
            };
            emit(json, &VisitRow::from(&view), || visit_line(&view));
        }
        VisitCommand::Log { elder, service, start, end, order, note } => {
            let past = PastVisit {
                elder: MemberId::parse(elder)?,
                service: service.clone(),
                order: order.as_deref().map(OrderId::parse).transpose()?,
                start: *start,
                end: *end,
                note: note.clone(),
            };
            let id = engine.log_visit(&past)?;
            emit(json, &json!({ "id": id, "state": "saved on phone" }), || id.to_string());
        }
        VisitCommand::Summary { visit } => {
            let summary = engine.visit_summary(&VisitId::parse(visit)?)?;
            emit(json, &json!({ "summary": summary.text() }), || summary.text());
        }
        VisitCommand::Cosign { summary } => {
            let signature = engine.cosign_visit(summary)?;
            emit(json, &json!({ "visit": signature.visit, "signature": signature.text() }), || signature.text());
        }
        VisitCommand::Attach { visit, signature } => {
            let view = engine.attach_cosignature(&VisitId::parse(visit)?, signature)?;
            emit(json, &VisitRow::from(&view), || visit_line(&view));
        }
        VisitCommand::Confirm { visit, by } => {
            let view = engine.confirm_visit(&VisitId::parse(visit)?, ConfirmedBy::parse(by)?)?;
            emit(json, &VisitRow::from(&view), || visit_line(&view));
        }
    }
    Ok(())
}

fn review(engine: &mut Engine, command: &ReviewCommand, json: bool) -> Result<()> {
    let (visit, decision, reason) = match command {
        ReviewCommand::List => {
            let queue = engine.review_queue()?;
            emit(json, &queue, || {
                listing(
                    queue.iter().map(|item| {
                        let flag = item.anomaly.as_deref().map(|a| format!("  ⚠ {a}")).unwrap_or_default();
                        format!("{}  by {}{flag}", visit_line(&item.visit), item.visit.visit.volunteer)
                    }),
                    "nothing to review",
                )
            });
            return Ok(());
        }
        ReviewCommand::VerifiedVisits { rule } => {
            let parsed = VerifiedVisits::parse(rule)
                .ok_or_else(|| timebank_engine::Error::invalid(format!("{rule:?} is not a rule; give queue, bulk or auto")))?;
            engine.set_verified_visits(parsed)?;
            emit(json, &json!({ "verified_visits": parsed.as_str(), "state": "saved on phone" }), || {
                format!("verified visits: {}; the relay applies it after the next sync", parsed.as_str())
            });
            return Ok(());
        }
        ReviewCommand::Approve { visit, reason } => (visit, ReviewDecision::Approve, reason),
        ReviewCommand::Reject { visit, reason } => (visit, ReviewDecision::Reject, reason),
        ReviewCommand::Flag { visit, reason } => (visit, ReviewDecision::Flag, reason),
        ReviewCommand::Reverse { visit, reason } => {
            let id = VisitId::parse(visit)?;
            engine.reverse_review(&id, reason)?;
            emit(json, &json!({ "visit": id, "reversed": true, "reason": reason.trim(), "state": "saved on phone" }), || {
                format!("reversed the review of visit {id}; it waits in the queue again, and the relay acts on it at the next sync")
            });
            return Ok(());
        }
    };
    let id = VisitId::parse(visit)?;
    engine.review_visit(&id, decision, reason)?;
    emit(json, &json!({ "visit": id, "decision": decision.as_str(), "reason": reason, "state": "saved on phone" }), || {
        format!("{} visit {id}; the relay acts on it at the next sync", decision.as_str())
    });
    Ok(())
}

fn redemption(engine: &mut Engine, command: &RedemptionCommand, json: bool) -> Result<()> {
    let (request, action) = match command {
        RedemptionCommand::List => {
            let queue = engine.redemption_queue()?;
            let rows: Vec<_> = queue.iter().map(|(member, r)| json!({ "member": member, "request": r })).collect();
            emit(json, &rows, || {
                listing(
                    queue.iter().map(|(member, r)| {
                        format!("{}  {}  {} for {member}", r.id, local(r.created_at), duration(i64::from(r.minutes)))
                    }),
                    "no redemption waits for a decision",
                )
            });
            return Ok(());
        }
        RedemptionCommand::Fulfil { request } => (request, RedemptionAction::Fulfil),
        RedemptionCommand::Release { request } => (request, RedemptionAction::Release),
    };
    let id = RequestId::parse(request)?;
    engine.decide_redemption(&id, action)?;
    emit(json, &json!({ "request": id, "decision": action, "state": "saved on phone" }), || {
        format!("{action} request {id}; the relay acts on it at the next sync")
    });
    Ok(())
}

fn order(engine: &mut Engine, command: &OrderCommand, json: bool) -> Result<()> {
    match command {
        OrderCommand::Place { service, elder, note, from, to } => {
            let elder = elder.as_deref().map(MemberId::parse).transpose()?;
            let id = engine.place_order_for(elder.as_ref(), service, note, from.zip(*to))?;
            emit(json, &json!({ "id": id, "state": "requested" }), || id.to_string());
        }
        OrderCommand::Dispatch { order, to } => {
            let id = OrderId::parse(order)?;
            engine.dispatch(&id, &MemberId::parse(to)?)?;
            emit(json, &json!({ "order": id, "dispatched_to": to }), || format!("order {id} dispatched to {to}"));
        }
        OrderCommand::Cancel { order } => {
            let id = OrderId::parse(order)?;
            engine.cancel_order(&id)?;
            emit(json, &json!({ "order": id, "state": "cancelled" }), || format!("order {id} cancelled"));
        }
    }
    Ok(())
}
