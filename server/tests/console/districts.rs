//! Districts and the city in the console: a district's account reads its own stations
//! only, the city's reads every station, both change nothing, and a coordinator still sees
//! their own station only, whatever they ask for.

use axum::http::StatusCode;

use crate::support::Console;

/// Every member page and list, per account: who sees whom.
#[test]
fn each_account_reads_its_stations_and_nothing_beyond() {
    let console = Console::new();
    let here = console.member("elder", "曹杨老人");
    let there = console.member_elsewhere("elder", "甘泉老人");
    let across = console.member_at(&console.across, "elder", "新华老人");
    let cases: [(&str, &[&str], &[&str]); 5] = [
        ("li", &["曹杨老人"], &["甘泉老人", "新华老人"]),
        ("zhao", &["甘泉老人"], &["曹杨老人", "新华老人"]),
        ("qu", &["曹杨老人", "甘泉老人"], &["新华老人"]),
        ("chang", &["新华老人"], &["曹杨老人", "甘泉老人"]),
        ("shi", &["曹杨老人", "甘泉老人", "新华老人"], &[]),
    ];
    let pages = [(&here, "曹杨老人"), (&there, "甘泉老人"), (&across, "新华老人")];
    for (username, seen, unseen) in cases {
        let mut browser = console.signed_in(username);
        let list = browser.get("/console/members");
        assert_eq!(list.status, StatusCode::OK, "{username}");
        for name in seen {
            assert!(list.text.contains(name), "{username} should see {name}");
        }
        for name in unseen {
            assert!(!list.text.contains(name), "{username} should not see {name}");
        }
        for (member, name) in pages {
            let page = browser.get(&format!("/console/members/{}", member.id));
            if seen.contains(&name) {
                assert_eq!(page.status, StatusCode::OK, "{username} reads {name}");
            } else {
                assert_eq!(page.status, StatusCode::NOT_FOUND, "{username} must not read {name}");
                assert!(!page.text.contains(name), "{username}: {name} leaked");
            }
        }
    }
}

#[test]
fn asking_for_a_station_outside_ones_reach_shows_nothing_of_it() {
    let console = Console::new();
    console.member("elder", "曹杨老人");
    console.member_at(&console.across, "elder", "新华老人");
    // A district asking for the other district's station: refused, nothing of it shown.
    let mut district = console.signed_in("qu");
    for page in ["members", "review", "visits", "reports", "ledger", "audit"] {
        let asked = district.get(&format!("/console/{page}?station={}", console.across.id));
        assert_eq!(asked.status, StatusCode::NOT_FOUND, "{page}: {}", asked.text);
        assert!(!asked.text.contains("新华老人") && !asked.text.contains("新华路街道"), "{page}");
    }
    // Its own stations it may pick, and the choice lists only them.
    let own = district.get(&format!("/console/members?station={}", console.station.id));
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.text.contains("曹杨老人"));
    let review = district.get("/console/review");
    assert!(review.text.contains("甘泉路街道") && !review.text.contains("新华路街道"), "the district's choice of station");
    // A coordinator naming another station still reads their own only.
    let mut coordinator = console.signed_in("li");
    let asked = coordinator.get(&format!("/console/members?station={}", console.across.id));
    assert!(asked.text.contains("曹杨老人") && !asked.text.contains("新华老人"), "{}", asked.text);
    // The city reads the other district's station when it asks for it.
    let mut city = console.signed_in("shi");
    let asked = city.get(&format!("/console/members?station={}", console.across.id));
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.text.contains("新华老人") && !asked.text.contains("曹杨老人"));
}

#[test]
fn district_and_city_accounts_change_nothing() {
    let console = Console::new();
    let elder = console.member("elder", "陈老伯");
    let before = console.store().station_members(&console.station.id).unwrap().len();
    for username in ["qu", "shi"] {
        let mut reader = console.signed_in(username);
        let page = reader.get("/console/members");
        assert!(page.text.contains("陈老伯") && !page.text.contains("data-testid=\"register\""), "{username}");
        let fields = [("name", "新人"), ("role", "elder"), ("birth_year", "1940")];
        let refused = reader.post("/console/members", &fields);
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{username}");
        assert!(refused.text.contains("只能查看"), "{username}: {}", refused.text);
        let code = reader.post(&format!("/console/members/{}/enroll-code", elder.id), &[]);
        assert_eq!(code.status, StatusCode::FORBIDDEN, "{username}");
    }
    assert_eq!(console.store().station_members(&console.station.id).unwrap().len(), before);
}

#[test]
fn moving_a_station_moves_who_reads_it() {
    let console = Console::new();
    console.member_elsewhere("elder", "甘泉老人");
    let mut district = console.signed_in("qu");
    assert!(district.get("/console/members").text.contains("甘泉老人"));
    let changning = console.across.district.to_string();
    timebank_server::registry::move_station(&console.relay, console.other.id.as_str(), &changning).unwrap();
    // The next page asked for reads the store as it is now.
    assert!(!district.get("/console/members").text.contains("甘泉老人"), "the district no longer reads the moved station");
    let mut theirs = console.signed_in("chang");
    assert!(theirs.get("/console/members").text.contains("甘泉老人"), "its new district does");
    let mut coordinator = console.signed_in("zhao");
    assert!(coordinator.get("/console/members").text.contains("甘泉老人"), "its coordinator keeps it");
}
