//! A station of a thousand members: every list comes a page at a time, names in pinyin
//! order, found by name, pinyin or initials, and each page still answers quickly.

use std::time::{Duration, Instant};

use timebank_server::console::paging::PER_PAGE;
use timebank_server::console::pinyin_order;

use crate::support::Console;

const SURNAMES: [&str; 20] =
    ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "曾"];
const GIVEN: [&str; 25] = [
    "建国", "桂兰", "秀英", "志强", "红梅", "伟", "芳", "丽", "敏", "静", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞",
    "平", "刚", "玉珍", "德华", "淑贞",
];

/// The names on a page, in the order shown (the links of the list's first column).
fn names(page: &str) -> Vec<String> {
    page.split("<a class=\"name\"").skip(1).filter_map(|rest| Some(rest[rest.find('>')? + 1..rest.find("</a>")?].to_owned())).collect()
}

#[test]
fn a_thousand_members_come_a_page_at_a_time_in_pinyin_order_and_are_found_by_pinyin() {
    let console = Console::new();
    for i in 0..1000 {
        let name = format!("{}{}{}", SURNAMES[i % 20], GIVEN[(i / 20) % 25], if i >= 500 { "二" } else { "" });
        console.member(if i % 5 < 3 { "volunteer" } else { "elder" }, &name);
    }
    let mut li = console.signed_in("li");
    for path in [
        "/console/members",
        "/console/members?role=volunteer",
        "/console/ledger",
        "/console/devices",
        "/console/visits",
        "/console/review",
        "/console/reports",
        "/console/orders",
        "/console/audit",
    ] {
        let started = Instant::now();
        let page = li.get(path);
        let took = started.elapsed();
        assert_eq!(page.status, axum::http::StatusCode::OK, "{path}");
        assert!(took < Duration::from_secs(10), "{path} took {took:?} for a thousand members");
    }

    let first = li.get("/console/members?role=volunteer");
    let shown = names(&first.text);
    assert_eq!(shown.len(), PER_PAGE, "one page of the 600 volunteers");
    assert!(first.text.contains("共 600 条 · 第 1 / 12 页"), "{}", &first.text[first.text.len().saturating_sub(600)..]);
    let mut sorted = shown.clone();
    sorted.sort_by(|a, b| pinyin_order::compare(a, b));
    assert_eq!(shown, sorted, "pinyin order");
    assert!(shown.iter().all(|n| n.starts_with('高')), "高 (gao) first of the volunteers' surnames: {shown:?}");
    let last = li.get("/console/members?role=volunteer&page=12");
    assert!(names(&last.text).iter().all(|n| n.starts_with('赵')), "赵 (zhao) last: {:?}", names(&last.text));
    assert!(!last.text.contains("rel=\"next\"") && last.text.contains("rel=\"prev\""));

    let found = li.get("/console/members?q=zjg");
    assert_eq!(
        names(&found.text),
        ["张建国", "张建国二", "赵建国", "赵建国二", "曾建国", "曾建国二", "周建国", "周建国二", "朱建国", "朱建国二"],
        "initials find every z… 建国, volunteers first, each group in pinyin order"
    );
    assert_eq!(names(&li.get("/console/members?q=zhangjianguo").text), ["张建国", "张建国二"], "the full pinyin finds 张建国 alone");
    let found = li.get(&format!("/console/members?q={}", "zeng%20yu%20zhen"));
    assert_eq!(names(&found.text).len(), 2, "曾玉珍 by its pinyin, spaces ignored");
    let ledger = li.get("/console/ledger?q=chen");
    assert!(names(&ledger.text).iter().all(|n| n.starts_with('陈')), "{:?}", names(&ledger.text));
    assert!(ledger.text.contains("共 50 条"), "the fifty 陈");
    // 曾 read as the surname zēng, after 吴 (wu) and before 周 (zhou); read as céng it
    // would come first, before 陈 (chen).
    let mut surnames = |page: u32| -> Vec<char> {
        let shown = names(&li.get(&format!("/console/members?role=elder&page={page}")).text);
        let mut firsts: Vec<char> = shown.iter().filter_map(|n| n.chars().next()).collect();
        firsts.dedup();
        firsts
    };
    let order: Vec<Vec<char>> = [1, 5, 6, 7].into_iter().map(&mut surnames).collect();
    assert_eq!(order, [vec!['陈'], vec!['吴'], vec!['曾'], vec!['周']]);
}
