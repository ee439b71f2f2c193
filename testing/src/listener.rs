//! A raw client of a live channel ([`LiveListener`]): what the relay sends on `/v1/live`
//! (a device's, by its token) or `/console/live` (a console session's, by its cookie),
//! event by event on a thread, heartbeats included, so a test sees exactly what went out.

use std::io::{BufRead as _, BufReader};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use timebank_engine::sync::live::{EventReader, LiveEvent};

/// What the listener heard.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// An event.
    Event(LiveEvent),
    /// A heartbeat comment.
    Heartbeat,
    /// The relay ended the channel.
    End,
}

/// An open live channel, read on a thread; closed when dropped (as a phone going away).
#[derive(Debug)]
pub struct LiveListener {
    heard: Receiver<Heard>,
    agent: ureq::Agent,
}

impl Drop for LiveListener {
    fn drop(&mut self) {
        self.agent.clone().shutdown();
    }
}

impl LiveListener {
    /// A device's channel at the relay `url`, with its `token`: the listener once `hello`
    /// came, or the refusal's status and `Retry-After`.
    pub fn device(url: &str, token: &str) -> Result<LiveListener, (u16, Option<String>)> {
        LiveListener::open(&format!("{url}/v1/live"), ("authorization", &format!("Bearer {token}")))
    }

    /// A console session's channel at the relay `url`, with its session cookie's `token`.
    pub fn console(url: &str, session: &str) -> Result<LiveListener, (u16, Option<String>)> {
        LiveListener::open(&format!("{url}/console/live"), ("cookie", &format!("tb_session={session}")))
    }

    fn open(url: &str, (name, value): (&str, &str)) -> Result<LiveListener, (u16, Option<String>)> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let response = agent.get(url).header(name, value).call().unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            return Err((status, retry));
        }
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let (sender, heard) = mpsc::channel();
        let lines = BufReader::new(response.into_body().into_reader());
        std::thread::spawn(move || {
            let mut reader = EventReader::default();
            for line in lines.lines() {
                let Ok(line) = line else { break };
                let heard = if line.starts_with(": heartbeat") {
                    Some(Heard::Heartbeat)
                } else {
                    reader.line(&line).unwrap().map(|(name, data)| Heard::Event(LiveEvent::decode(&name, &data).unwrap().unwrap()))
                };
                if let Some(heard) = heard
                    && sender.send(heard).is_err()
                {
                    return;
                }
            }
            let _ = sender.send(Heard::End);
        });
        let listener = LiveListener { heard, agent };
        assert!(matches!(listener.next(Duration::from_secs(5)), Some(Heard::Event(LiveEvent::Hello { .. }))), "hello first");
        Ok(listener)
    }

    /// The next thing heard within `within`.
    pub fn next(&self, within: Duration) -> Option<Heard> {
        self.heard.recv_timeout(within).ok()
    }

    /// Everything heard for `spell` (until the channel ends), heartbeats left out.
    pub fn events_for(&self, spell: Duration) -> Vec<Heard> {
        let until = Instant::now() + spell;
        let mut heard = Vec::new();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(Heard::Heartbeat) => {}
                Some(Heard::End) => {
                    heard.push(Heard::End);
                    break;
                }
                Some(other) => heard.push(other),
                None => break,
            }
        }
        heard
    }

    /// The documents named by the hints heard for `spell` (panics on anything else).
    pub fn hinted_for(&self, spell: Duration) -> Vec<String> {
        self.events_for(spell)
            .into_iter()
            .flat_map(|heard| match heard {
                Heard::Event(LiveEvent::Changed { docs, .. }) => docs,
                other => panic!("only hints expected, heard {other:?}"),
            })
            .collect()
    }
}
