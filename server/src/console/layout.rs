//! The page shell every console page shares: navigation, language switch, who is signed
//! in, the sign-out button, the flash message of the last action, and on the lists that
//! update themselves the live updates' script.

use maud::{DOCTYPE, Markup, html};

use crate::console::{Flash, Lang, Signed, live};
use crate::store::ConsoleRole;

/// The navigation: (path, Chinese, English).
pub const NAV: &[(&str, &str, &str)] = &[
    ("/console/review", "审核", "Review"),
    ("/console/visits", "记录", "Visits"),
    ("/console/orders", "订单", "Orders"),
    ("/console/members", "成员", "Members"),
    ("/console/devices", "设备", "Devices"),
    ("/console/tags", "卡片", "Tags"),
    ("/console/ledger", "账本", "Ledger"),
    ("/console/redemptions", "兑换", "Redeem"),
    ("/console/reports", "报表", "Reports"),
    ("/console/audit", "审计", "Audit"),
];

/// A console page for `signed`: the shell around `body`, titled `title`.
pub fn page(signed: &Signed, title: &str, body: Markup) -> Markup {
    page_with_class(signed, title, None, body)
}

/// [`page`] with a class on `body` (`slip`: printing shows only the enrollment slip).
pub fn page_with_class(signed: &Signed, title: &str, class: Option<&str>, body: Markup) -> Markup {
    let lang = signed.lang;
    let role = match &signed.role {
        ConsoleRole::Coordinator { .. } => lang.pick("协调员", "coordinator"),
        ConsoleRole::District { .. } => lang.pick("区级（只读）", "district (read-only)"),
        ConsoleRole::City => lang.pick("市级（只读）", "city (read-only)"),
    };
    let current = NAV.iter().filter(|(path, ..)| signed.path.starts_with(path)).map(|(path, ..)| *path).max_by_key(|p| p.len());
    shell(
        lang,
        title,
        class,
        html! {
            header.top {
                a.brand href="/console/" { (lang.pick("时间银行 · 协调员控制台", "Time bank console")) }
                nav aria-label=(lang.pick("主导航", "Main")) {
                    @for (path, zh, en) in NAV {
                        a href=(path) aria-current=[(current == Some(*path)).then_some("page")] { (lang.pick(*zh, *en)) }
                    }
                    // The districts' figures, for a district's or the city's account.
                    @if signed.station().is_none() {
                        a href="/console/districts" aria-current=[signed.path.starts_with("/console/districts").then_some("page")] {
                            (lang.pick("各区", "Districts"))
                        }
                    }
                }
                div.who {
                    (lang_switch(lang))
                    span.user data-testid="user" translate="no" title=(signed.station_name.as_deref().unwrap_or_default()) { (signed.username) " · " (role) }
                    form method="post" action="/console/logout" {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button.link type="submit" { (lang.pick("退出", "Sign out")) }
                    }
                }
            }
            (live::main(lang, &signed.path, html! {
                (flash(signed.flash.as_ref()))
                h1 { (title) }
                (body)
            }))
        },
    )
}

/// A page without navigation (sign-in).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    shell(
        lang,
        title,
        None,
        html! {
            header.top {
                span.brand { (lang.pick("时间银行 · 协调员控制台", "Time bank · coordinator console")) }
                div.who { (lang_switch(lang)) }
            }
            main.narrow { (body) }
        },
    )
}

/// The flash area: `role="alert"`, class `flash ok|error`.
pub fn flash(flash: Option<&Flash>) -> Markup {
    html! {
        @if let Some(flash) = flash {
            p class=(if flash.ok { "flash ok" } else { "flash error" }) role="alert" { (flash.message) }
        }
    }
}

/// A form error shown above a re-rendered form.
pub fn form_error(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.flash.error role="alert" { (message) }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

fn lang_switch(lang: Lang) -> Markup {
    html! {
        span.lang {
            @if lang == Lang::Zh { strong { "中文" } } @else { a href="?lang=zh" hreflang="zh-CN" { "中文" } }
            " | "
            @if lang == Lang::En { strong { "English" } } @else { a href="?lang=en" hreflang="en" { "English" } }
        }
    }
}

fn shell(lang: Lang, title: &str, class: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.pick("时间银行控制台", "Time bank console")) }
                link rel="stylesheet" href="/console/static/console.css";
                link rel="icon" href="data:,";
            }
            body class=[class] { (body) }
        }
    }
}
