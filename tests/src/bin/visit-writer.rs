//! `visit-writer DIR`: logs paper visits into the store in DIR in an endless loop, printing
//! each visit id only after the engine acknowledged it. The durability test kills it with
//! SIGKILL at random moments and checks that every printed id survived.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{Duration, Utc};
use timebank_engine::model::{MemberId, Role, StationId};
use timebank_engine::{Engine, NewIdentity, PastVisit};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: visit-writer DIR");
        return ExitCode::from(2);
    };
    match run(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &std::path::Path) -> timebank_engine::Result<()> {
    let mut engine = match Engine::open(dir) {
        Ok(engine) => engine,
        Err(timebank_engine::Error::NoStore(_)) => Engine::create(
            dir,
            NewIdentity { member: MemberId::parse("v-1")?, station: StationId::parse("s-1")?, role: Role::Volunteer },
        )?,
        Err(e) => return Err(e),
    };
    let elder = MemberId::parse("e-1")?;
    let mut stdout = std::io::stdout().lock();
    for i in 0_i64.. {
        let start = Utc::now() - Duration::days(2) + Duration::seconds(i % 3600);
        let id = engine.log_visit(&PastVisit {
            elder: elder.clone(),
            service: "companionship".into(),
            order: None,
            start,
            end: start + Duration::minutes(45),
            note: format!("visit {i}"),
        })?;
        if i % 40 == 39 {
            engine.compact()?;
        }
        // The id is printed only after log_visit returned: the user saw "saved".
        if writeln!(stdout, "{id}").and_then(|()| stdout.flush()).is_err() {
            break;
        }
    }
    Ok(())
}
