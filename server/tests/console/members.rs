//! Members at the console: registering (and refusing bad values), contact details kept to
//! the station, enrollment codes that really enroll, devices revoked, other stations' ids.

use axum::http::StatusCode;
use timebank_server::store::MemberContact;

use crate::support::Console;

fn register<'a>(fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("name", "王芳"),
        ("phone", "138 0013 8000"),
        ("birth_year", "1948"),
        ("household", "h-12"),
        ("id_last4", "123x"),
        ("address", "曹杨新村 12 号 301 室"),
        ("role", "elder"),
    ];
    for (k, v) in fields {
        all.retain(|(key, _)| key != k);
        all.push((k, v));
    }
    all
}

#[test]
fn a_coordinator_registers_a_person_with_minimal_contact_details() {
    let console = Console::new();
    let mut browser = console.signed_in("li");
    browser.get("/console/members");
    let done = browser.post("/console/members", &register(&[("hardship", "on")]));
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let to = done.location.unwrap();
    let id = to.trim_start_matches("/console/members/");
    let member = console.store().member(&timebank_engine::model::MemberId::parse(id).unwrap()).unwrap().unwrap();
    assert_eq!((member.display_name.as_str(), member.birth_year, member.hardship), ("王芳", Some(1948), true));
    assert_eq!(member.station, console.station.id);
    assert_eq!(
        console.store().member_contact(&member.id).unwrap(),
        MemberContact {
            phone: Some("138 0013 8000".into()),
            id_last4: Some("123X".into()),
            address: Some("曹杨新村 12 号 301 室".into()),
        }
    );
    // The phone number and the address are not in the member's document (it would reach phones).
    let doc = console.store().document(&format!("member/{id}")).unwrap().unwrap().bytes;
    assert!(!String::from_utf8_lossy(&doc).contains("0013") && !String::from_utf8_lossy(&doc).contains("301 室"));
    let page = browser.get(&to);
    assert!(page.text.contains("已登记") && page.text.contains("138 0013 8000"), "{}", page.text);
    assert_eq!(page.testid("address").as_deref(), Some("曹杨新村 12 号 301 室"));
    let list = browser.get("/console/members");
    assert!(list.text.contains(&format!("data-member=\"{id}\"")));
    // The district sees the member, not the contact details; the other station sees neither.
    let mut district = console.signed_in("qu");
    let seen = district.get(&to);
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.text.contains("王芳") && !seen.text.contains("0013") && !seen.text.contains("12 号 301 室"), "{}", seen.text);
    let mut other = console.signed_in("zhao");
    let guessed = other.get(&to);
    assert_eq!(guessed.status, StatusCode::NOT_FOUND);
    assert!(guessed.text.contains("在您的服务站找不到") && !guessed.text.contains("王芳"));
    assert!(!other.get("/console/members").text.contains("王芳"));
    let audit = console.store().audit_entries(Some(&console.station.id), 10).unwrap();
    assert!(audit.iter().any(|e| e.action == "member.create" && e.target == id && e.username == "li"), "{audit:?}");
}

#[test]
fn bad_values_are_refused_with_a_clear_message_and_nothing_is_registered() {
    let console = Console::new();
    let mut browser = console.signed_in("li");
    browser.get("/console/members");
    let before = console.store().station_members(&console.station.id).unwrap().len();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("birth_year", "nineteen")], "不是年份"),
        (&[("birth_year", "1800")], "出生年份 1800 不合理"),
        (&[("name", "  ")], "请填写姓名"),
        (&[("role", "boss")], "请选择角色"),
        (&[("phone", "call me")], "电话号码“call me”无法使用"),
        (&[("id_last4", "12345")], "身份证后四位“12345”无法使用"),
        (&[("household", "H 1")], "户号“H 1”无法使用"),
    ];
    for (fields, expected) in cases {
        let page = browser.post("/console/members", &register(fields));
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{fields:?}");
        assert!(page.text.contains(expected), "{fields:?}: {}", page.text);
        assert!(page.text.contains("role=\"alert\""));
    }
    assert_eq!(console.store().station_members(&console.station.id).unwrap().len(), before);
}

#[test]
fn a_name_with_markup_is_shown_as_text() {
    let console = Console::new();
    let mut browser = console.signed_in("li");
    browser.get("/console/members");
    let done = browser.post("/console/members", &register(&[("name", "<script>alert(1)</script>")]));
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    for page in [browser.get(done.location.as_deref().unwrap()), browser.get("/console/members"), browser.get("/console/audit")] {
        assert!(!page.text.contains("<script>alert(1)</script>"), "{}", page.text);
        assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}

#[test]
fn the_district_reads_but_cannot_register_issue_codes_or_revoke() {
    let console = Console::new();
    let elder = console.member("elder", "陈老伯");
    let mut district = console.signed_in("qu");
    let page = district.get("/console/members");
    assert!(page.text.contains("陈老伯") && !page.text.contains("data-testid=\"register\""));
    let refused = district.post("/console/members", &register(&[]));
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text.contains("只能查看"));
    let code = district.post(&format!("/console/members/{}/enroll-code", elder.id), &[]);
    assert_eq!(code.status, StatusCode::FORBIDDEN);
    assert_eq!(console.store().station_members(&console.station.id).unwrap().len(), 2);
}

#[test]
fn an_enrollment_code_from_the_page_enrolls_one_device_which_can_then_be_revoked() {
    let console = Console::new();
    let volunteer = console.member("volunteer", "张阿姨");
    let mut browser = console.signed_in("li");
    browser.get(&format!("/console/members/{}", volunteer.id));
    let page = browser.post(&format!("/console/members/{}/enroll-code", volunteer.id), &[]);
    assert_eq!(page.status, StatusCode::OK);
    let code = page.testid("enroll-code").unwrap();
    assert_eq!(code.len(), 10, "{code}");
    assert!(page.text.contains("<svg"), "a QR code is shown");
    // The code enrolls a device, as a phone would.
    let actor = automerge::ActorId::random();
    let body = timebank_engine::sync::wire::encode(&timebank_engine::sync::wire::EnrollRequest {
        code: code.clone(),
        actor: actor.to_hex_string(),
        signing_key: None,
    });
    let enroll = |body: Vec<u8>| {
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/v1/enroll")
            .header("content-type", "application/octet-stream")
            .body(axum::body::Body::from(body))
            .unwrap();
        console.call(&console.router, request).status()
    };
    assert_eq!(enroll(body.clone()), StatusCode::OK);
    assert_ne!(enroll(body), StatusCode::OK, "one device per code");
    let device = console.store().device_by_actor(&actor.to_hex_string()).unwrap().unwrap();
    let page = browser.get(&format!("/console/members/{}", volunteer.id));
    assert!(page.text.contains(&device.id));

    // Another station's coordinator cannot revoke it, even knowing its id.
    let mut other = console.signed_in("zhao");
    other.get("/console/members");
    assert_eq!(other.post(&format!("/console/devices/{}/revoke", device.id), &[]).status, StatusCode::NOT_FOUND);
    assert!(console.store().device_by_actor(&actor.to_hex_string()).unwrap().unwrap().revoked_at.is_none());

    let done = browser.post(&format!("/console/devices/{}/revoke", device.id), &[]);
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(console.store().device_by_actor(&actor.to_hex_string()).unwrap().unwrap().revoked_at.is_some());
    let page = browser.get(done.location.as_deref().unwrap());
    assert!(page.text.contains("设备已停用"));
    let actions: Vec<String> =
        console.store().audit_entries(Some(&console.station.id), 20).unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"member.enroll-code".into()) && actions.contains(&"device.revoke".into()), "{actions:?}");
}

#[test]
fn another_stations_member_urls_are_not_found_and_change_nothing() {
    let console = Console::new();
    let theirs = console.member_elsewhere("elder", "外站老人");
    let mut browser = console.signed_in("li");
    browser.get("/console/members");
    for path in [
        format!("/console/members/{}", theirs.id),
        "/console/members/m-nonexistent".to_owned(),
        "/console/members/not an id".to_owned(),
    ] {
        let page = browser.get(&path.replace(' ', "%20"));
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.text.contains("外站老人"));
    }
    let code = browser.post(&format!("/console/members/{}/enroll-code", theirs.id), &[]);
    assert_eq!(code.status, StatusCode::NOT_FOUND);
    assert!(console.store().audit_entries(None, 50).unwrap().iter().all(|e| e.action != "member.enroll-code"));
}
