//! Long lists a page at a time: `?page=N`, [`PER_PAGE`] rows to a page, with links to the
//! pages before and after that keep the list's search and filters; and the search box
//! every list has.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::Lang;

/// Rows on one page of a list.
pub const PER_PAGE: usize = 50;

/// The search, filter and page of a list: `?q=` (words), `?page=`, the filters some lists
/// have (`?role=`, `?state=`, `?day=`) and the district's `?station=`; every one optional.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Words to find.
    pub q: Option<String>,
    /// The page, from 1.
    pub page: Option<String>,
    /// The one station the district reads.
    pub station: Option<String>,
    /// A state to show alone (orders, devices).
    pub state: Option<String>,
    /// A role to show alone (members).
    pub role: Option<String>,
    /// A day to show alone, `YYYY-MM-DD` (orders).
    pub day: Option<String>,
}

impl ListQuery {
    /// The words asked for (empty when none).
    pub fn words(&self) -> String {
        self.q.clone().unwrap_or_default()
    }
}

/// A list's request: its [`ListQuery`] and the query string as sent, which the page links
/// keep ([`nav`]). A query that cannot be read is an empty one (every part is optional).
#[derive(Debug, Default)]
pub struct Listed {
    /// The search, filter and page.
    pub query: ListQuery,
    /// The query string as sent.
    pub raw: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Listed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Listed, Self::Rejection> {
        let raw = parts.uri.query().map(str::to_owned);
        let query = Query::<ListQuery>::try_from_uri(&parts.uri).map(|Query(q)| q).unwrap_or_default();
        Ok(Listed { query, raw })
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paged<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// This page, from 1.
    pub page: usize,
    /// How many pages there are (at least 1).
    pub pages: usize,
    /// Rows in the whole list.
    pub total: usize,
}

impl<T> Paged<T> {
    /// Page `page` (`?page=`, from 1) of `all`; a missing or unreadable page number is the
    /// first page, one past the end the last.
    pub fn of(all: Vec<T>, page: Option<&str>) -> Paged<T> {
        let total = all.len();
        let pages = total.div_ceil(PER_PAGE).max(1);
        let page = page.and_then(|p| p.trim().parse::<usize>().ok()).unwrap_or(1).clamp(1, pages);
        let items = all.into_iter().skip((page - 1) * PER_PAGE).take(PER_PAGE).collect();
        Paged { items, page, pages, total }
    }
}

/// `query` (a request's raw query string) with `page` set to `page` and the language
/// choice left out (the cookie remembers it).
fn with_page(query: Option<&str>, page: usize) -> String {
    let kept = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, v)| k != "page" && k != "lang" && !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect::<Vec<_>>();
    let mut out = form_urlencoded::Serializer::new(String::new());
    out.extend_pairs(kept);
    out.append_pair("page", &page.to_string());
    out.finish()
}

/// The line under a list: how many rows, which page, and links to the pages either side.
/// `path` is the list's address, `query` the request's query string.
pub fn nav<T>(lang: Lang, paged: &Paged<T>, path: &str, query: Option<&str>) -> Markup {
    let link = |page: usize| format!("{path}?{}", with_page(query, page));
    html! {
        nav.pages aria-label=(lang.pick("分页", "Pages")) data-testid="pages" {
            @if paged.page > 1 {
                a.button href=(link(paged.page - 1)) rel="prev" { (lang.pick("← 上一页", "← Previous")) }
            }
            span.hint {
                @match lang {
                    Lang::Zh => { "共 " (paged.total) " 条 · 第 " (paged.page) " / " (paged.pages) " 页" },
                    Lang::En => { (paged.total) " in all · page " (paged.page) " of " (paged.pages) },
                }
            }
            @if paged.page < paged.pages {
                a.button href=(link(paged.page + 1)) rel="next" { (lang.pick("下一页 →", "Next →")) }
            }
        }
    }
}

/// A list at `path`: `empty` when the page has no rows, else `table` and the page links.
pub fn list<T>(lang: Lang, paged: &Paged<T>, path: &str, query: Option<&str>, empty: &str, table: Markup) -> Markup {
    html! {
        @if paged.items.is_empty() {
            p.empty { (empty) }
        } @else {
            (table)
            (nav(lang, paged, path, query))
        }
    }
}

/// A search box for a list at `path`: the words typed (`q`), what may be typed, and any
/// other fields of the list's filter (`extra`).
pub fn search(lang: Lang, path: &str, q: &str, placeholder: &str, extra: Markup) -> Markup {
    html! {
        form.search method="get" action=(path) role="search" {
            label.grow { (lang.pick("搜索", "Search"))
                input type="search" name="q" value=(q) placeholder=(placeholder);
            }
            (extra)
            div.actions {
                button.primary type="submit" { (lang.pick("搜索", "Search")) }
                @if !q.is_empty() { a href=(path) { (lang.pick("清除", "Clear")) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_cut_into_pages_and_out_of_range_pages_are_the_nearest() {
        let all: Vec<usize> = (0..120).collect();
        let first = Paged::of(all.clone(), None);
        assert_eq!((first.page, first.pages, first.total, first.items.len()), (1, 3, 120, PER_PAGE));
        let last = Paged::of(all.clone(), Some("3"));
        assert_eq!(last.items, (100..120).collect::<Vec<_>>());
        assert_eq!(Paged::of(all.clone(), Some("99")).page, 3);
        assert_eq!(Paged::of(all.clone(), Some("0")).page, 1);
        assert_eq!(Paged::of(all, Some("two")).page, 1);
        let empty = Paged::of(Vec::<u8>::new(), Some("2"));
        assert_eq!((empty.page, empty.pages, empty.total), (1, 1, 0));
    }

    #[test]
    fn page_links_keep_the_filters_and_drop_the_language() {
        assert_eq!(with_page(Some("q=%E7%8E%8B&page=2&lang=en&role="), 3), "q=%E7%8E%8B&page=3");
        assert_eq!(with_page(None, 2), "page=2");
        let paged = Paged::of((0..60).collect::<Vec<_>>(), Some("1"));
        let html = nav(Lang::Zh, &paged, "/console/members", Some("q=li")).into_string();
        assert!(html.contains("href=\"/console/members?q=li&amp;page=2\""), "{html}");
        assert!(!html.contains("rel=\"prev\""), "no page before the first");
        assert!(html.contains("共 60 条"));
    }
}
