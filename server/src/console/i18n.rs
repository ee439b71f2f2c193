//! The console's two languages (zh-CN by default, English on request) and the formatting
//! of times and coins. Every page keeps its own strings inline with [`Lang::pick`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, FixedOffset};

use crate::console::cookie;
use crate::store::Millis;

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "tb_lang";

/// Times are shown in China Standard Time (UTC+8), where the stations are.
pub const DISPLAY_OFFSET_SECONDS: i32 = 8 * 3600;

/// A console language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (zh-CN), the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en` as written in `?lang=` and the cookie; anything else is not a language.
    pub fn parse(raw: &str) -> Option<Lang> {
        match raw {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The code used in `?lang=` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The string for this language: `lang.pick("中文", "English")`.
    pub fn pick<T>(self, zh: T, en: T) -> T {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The language a request asks for: `?lang=`, else the cookie, else Chinese.
    pub fn of_request(parts: &Parts) -> Lang {
        query_lang(parts.uri.query())
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).as_deref().and_then(Lang::parse))
            .unwrap_or_default()
    }

    /// A time as `2026-11-29 18:05` (UTC+8).
    pub fn datetime(self, at: Millis) -> String {
        local(at).map_or_else(|| at.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    }

    /// A day as `2026-11-29` (UTC+8).
    pub fn date(self, at: Millis) -> String {
        local(at).map_or_else(|| at.to_string(), |t| t.format("%Y-%m-%d").to_string())
    }

    /// A time of day as `18:05` (UTC+8).
    pub fn time(self, at: Millis) -> String {
        local(at).map_or_else(|| at.to_string(), |t| t.format("%H:%M").to_string())
    }

    /// An order's time slot: `2026-12-05 09:00–11:00` (UTC+8; the end's day too when it
    /// differs).
    pub fn slot(self, slot: timebank_engine::model::Slot) -> String {
        let (start, end) = (slot.start.timestamp_millis(), slot.end.timestamp_millis());
        let until = if self.date(start) == self.date(end) { self.time(end) } else { self.datetime(end) };
        format!("{}–{until}", self.datetime(start))
    }

    /// Minutes as a duration people read: `1 小时 30 分` / `1 h 30 min`.
    pub fn duration(self, minutes: i64) -> String {
        let (h, m) = (minutes / 60, minutes % 60);
        match (self, h, m) {
            (Lang::Zh, 0, m) => format!("{m} 分钟"),
            (Lang::Zh, h, 0) => format!("{h} 小时"),
            (Lang::Zh, h, m) => format!("{h} 小时 {m} 分"),
            (Lang::En, 0, m) => format!("{m} min"),
            (Lang::En, h, 0) => format!("{h} h"),
            (Lang::En, h, m) => format!("{h} h {m} min"),
        }
    }
}

/// The `lang` in a query string, if it names a language.
pub fn query_lang(query: Option<&str>) -> Option<Lang> {
    query?.split('&').find_map(|pair| pair.strip_prefix("lang=")).and_then(Lang::parse)
}

/// Coins from minutes (1 hour = 1 coin), as `1.5`, `-0.25`, `2`: at most two decimals.
pub fn coins(minutes: i64) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let abs = minutes.unsigned_abs();
    let hundredths = (abs * 100 + 30) / 60;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => format!("{sign}{whole}"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
        f => format!("{sign}{whole}.{f:02}"),
    }
}

fn local(at: Millis) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(DISPLAY_OFFSET_SECONDS)?;
    DateTime::from_timestamp_millis(at).map(|t| t.with_timezone(&offset))
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang::of_request(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coins_show_hours_with_at_most_two_decimals() {
        assert_eq!(coins(60), "1");
        assert_eq!(coins(90), "1.5");
        assert_eq!(coins(-15), "-0.25");
        assert_eq!(coins(20), "0.33");
        assert_eq!(coins(0), "0");
    }

    #[test]
    fn chinese_is_the_default_and_english_is_asked_for() {
        assert_eq!(query_lang(Some("a=1&lang=en")), Some(Lang::En));
        assert_eq!(query_lang(Some("lang=fr")), None);
        assert_eq!(Lang::default().pick("中", "en"), "中");
        assert_eq!(Lang::En.duration(90), "1 h 30 min");
        assert_eq!(Lang::Zh.datetime(0), "1970-01-01 08:00");
    }
}
