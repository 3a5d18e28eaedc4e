//! Reading a legacy HTML client page: microformats2 `h-app` / `h-x-app`
//! items and `rel=redirect_uri` links (CID-20, CID-21; IA-2018 §4.2.1-2).
//!
//! This module owns the subset of microformats2 parsing that matters for a
//! client page: the `name`, `url`, `logo` and `photo` properties, explicit
//! and implied, with URLs resolved against the document base URL. It never
//! fetches anything, never recurses (deeply nested hostile markup must not
//! overflow the stack), never parses a page outside the CPU bounds of
//! [`html_budget`](super::html_budget) and returns only owned, absolute
//! http(s) URLs.

use std::sync::atomic::AtomicBool;

use scraper::{ElementRef, Html, Node};
use url::Url;

use super::canon::{clean_name, is_http_url, is_publishable_redirect};
use super::html_budget::{self, Limits};

pub use super::html_budget::Unread;

/// One `h-app` or `h-x-app` item found on the page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct App {
    /// `name` property (explicit `p-name`, else implied), cleaned.
    pub name: Option<String>,
    /// All `url` values (explicit `u-url`, else implied), absolute http(s).
    pub urls: Vec<Url>,
    /// `logo` values, absolute http(s).
    pub logos: Vec<Url>,
    /// `photo` values (explicit or implied), absolute http(s).
    pub photos: Vec<Url>,
    /// True when the item is not nested inside another microformat.
    pub top_level: bool,
}

/// What a client page says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// App items, top-level items first, then nested ones, each group in
    /// document order.
    pub apps: Vec<App>,
    /// `redirect_uri` rels from `<link>`, `<a>` and `<area>`, resolved.
    pub redirect_uris: Vec<Url>,
}

/// At most this many items or links are kept: enough for any real page.
const MAX_ITEMS: usize = 20;
const MAX_LINKS: usize = 100;

/// Parse an HTML client page fetched from `page_url`. A page whose shape
/// would cost more than the default [`Limits`] is refused whole.
pub fn parse_page(html: &str, page_url: &Url) -> Result<Page, Unread> {
    parse_page_within(html, page_url, &Limits::default(), &AtomicBool::new(false))
}

/// As [`parse_page`] within `limits`, giving up as soon as `cancel` is
/// set: the caller's deadline has passed and nobody will read the result.
pub fn parse_page_within(
    html: &str,
    page_url: &Url,
    limits: &Limits,
    cancel: &AtomicBool,
) -> Result<Page, Unread> {
    let doc = html_budget::parse_document(html, limits, cancel)?;
    Ok(read_page(&doc, page_url))
}

fn read_page(doc: &Html, page_url: &Url) -> Page {
    let base = base_url(doc, page_url);
    let mut page = Page::default();
    for el in doc.root_element().descendent_elements() {
        let classes = Classes::of(&el);
        if classes.is_app() && page.apps.len() < MAX_ITEMS {
            let top_level = !el
                .ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| Classes::of(&a).is_item());
            page.apps.push(parse_app(el, &base, top_level));
        }
        let name = el.value().name();
        if matches!(name, "link" | "a" | "area")
            && has_rel(&el, "redirect_uri")
            && page.redirect_uris.len() < MAX_LINKS
            && let Some(u) = el.attr("href").and_then(|h| resolve_redirect(&base, h))
        {
            page.redirect_uris.push(u);
        }
    }
    // Stable: top-level items keep document order ahead of nested ones.
    page.apps.sort_by_key(|a| !a.top_level);
    page
}

/// Every `<link>`/`<a>` with `rel` among its tokens, resolved to absolute
/// http(s) URLs in document order (used for rels other than
/// `redirect_uri`, such as the start-up check of the owner's homepage).
/// A page refused by the CPU bounds has none.
pub fn rel_urls(html: &str, page_url: &Url, rel: &str) -> Vec<Url> {
    let Ok(doc) = html_budget::parse_document(html, &Limits::default(), &AtomicBool::new(false))
    else {
        return Vec::new();
    };
    let base = base_url(&doc, page_url);
    doc.root_element()
        .descendent_elements()
        .filter(|el| matches!(el.value().name(), "link" | "a" | "area") && has_rel(el, rel))
        .filter_map(|el| el.attr("href").and_then(|h| resolve(&base, h)))
        .take(MAX_LINKS)
        .collect()
}

/// The document base URL: the first `<base href>`, resolved against the
/// page URL (HTML §4.2.3), if it is http(s); else the page URL.
fn base_url(doc: &Html, page_url: &Url) -> Url {
    doc.root_element()
        .descendent_elements()
        .find(|e| e.value().name() == "base" && e.attr("href").is_some())
        .and_then(|e| e.attr("href"))
        .and_then(|h| page_url.join(h.trim()).ok())
        .filter(is_http_url)
        .unwrap_or_else(|| page_url.clone())
}

/// `rel` is a space-separated, ASCII case-insensitive token list.
fn has_rel(el: &ElementRef<'_>, rel: &str) -> bool {
    el.attr("rel").is_some_and(|r| {
        r.split_ascii_whitespace()
            .any(|t| t.eq_ignore_ascii_case(rel))
    })
}

/// Resolve an attribute value to an absolute http(s) URL, or drop it.
fn resolve(base: &Url, href: &str) -> Option<Url> {
    base.join(href.trim()).ok().filter(is_http_url)
}

/// Resolve a `rel=redirect_uri` href. Native apps publish their custom
/// scheme here, as Indigenous for iOS does with `indigenous://auth/callback`
/// on its client_id page (IndiePass/indiepass-ios; IA §4.2.2, CID-21,
/// LEG-4), so any scheme a JSON `redirect_uris` list may carry is kept;
/// script-bearing schemes and fragments are still dropped (CID-22).
fn resolve_redirect(base: &Url, href: &str) -> Option<Url> {
    base.join(href.trim()).ok().filter(is_publishable_redirect)
}

/// The microformats2 class tokens of an element (mf2 parsing §"class names").
struct Classes {
    tokens: Vec<String>,
}

impl Classes {
    fn of(el: &ElementRef<'_>) -> Classes {
        Classes {
            tokens: el.value().classes().map(str::to_owned).collect(),
        }
    }

    fn is_item(&self) -> bool {
        self.tokens.iter().any(|t| is_mf2_class(t, "h-"))
    }

    fn is_app(&self) -> bool {
        self.tokens.iter().any(|t| t == "h-app" || t == "h-x-app")
    }

    /// Property names with the given prefix (`p-`, `u-`, `e-`, `dt-`).
    fn props<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tokens
            .iter()
            .filter(move |t| is_mf2_class(t, prefix))
            .filter_map(move |t| t.strip_prefix(prefix))
    }
}

/// mf2 class names are a prefix followed by lower-case letters, digits and
/// hyphens, not starting or ending with a hyphen (mf2 parsing, "class names").
fn is_mf2_class(token: &str, prefix: &str) -> bool {
    token.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('-')
            && !rest.ends_with('-')
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

/// What the explicit property walk found inside one item.
#[derive(Default)]
struct Found {
    names: Vec<String>,
    urls: Vec<Url>,
    logos: Vec<Url>,
    photos: Vec<Url>,
    any_p_or_e: bool,
    any_u: bool,
    nested_item: bool,
}

fn parse_app(root: ElementRef<'_>, base: &Url, top_level: bool) -> App {
    let mut found = Found::default();
    // Explicit properties: walk descendants with a stack, not descending
    // into nested items (their properties are their own, mf2 §"parse an
    // element for properties"), but reading property classes on them.
    let mut stack: Vec<ElementRef<'_>> = root.child_elements().collect();
    stack.reverse();
    while let Some(el) = stack.pop() {
        let classes = Classes::of(&el);
        collect_props(&el, &classes, base, &mut found);
        if classes.is_item() {
            found.nested_item = true;
            continue;
        }
        let before = stack.len();
        stack.extend(el.child_elements());
        stack[before..].reverse();
    }

    let names = if found.names.is_empty() && !found.any_p_or_e && !found.nested_item {
        implied_name(root).into_iter().collect()
    } else {
        found.names
    };
    let implicit_u_allowed = !found.any_u && !found.nested_item;
    let urls = if found.urls.is_empty() && implicit_u_allowed {
        implied_url(root, base).into_iter().collect()
    } else {
        found.urls
    };
    let photos = if found.photos.is_empty() && implicit_u_allowed {
        implied_photo(root, base).into_iter().collect()
    } else {
        found.photos
    };
    App {
        name: names.iter().find_map(|n| clean_name(n)),
        urls,
        logos: found.logos,
        photos,
        top_level,
    }
}

fn collect_props(el: &ElementRef<'_>, classes: &Classes, base: &Url, found: &mut Found) {
    for p in classes.props("p-") {
        found.any_p_or_e = true;
        if p == "name" {
            found.names.push(p_value(el));
        }
    }
    if classes.props("e-").next().is_some() {
        found.any_p_or_e = true;
    }
    for u in classes.props("u-") {
        found.any_u = true;
        let target = match u {
            "url" => &mut found.urls,
            "logo" => &mut found.logos,
            "photo" => &mut found.photos,
            _ => continue,
        };
        if target.len() < MAX_ITEMS
            && let Some(v) = u_value(el, base)
        {
            target.push(v);
        }
    }
}

/// mf2 "parsing a p- property": title, value, alt, else text content.
fn p_value(el: &ElementRef<'_>) -> String {
    let v = el.value();
    let attr = match v.name() {
        "abbr" | "link" => v.attr("title"),
        "data" | "input" => v.attr("value"),
        "img" | "area" => v.attr("alt"),
        _ => None,
    };
    attr.map(str::to_owned).unwrap_or_else(|| text_content(el))
}

/// mf2 "parsing a u- property": the element's URL attribute, else its
/// p-style value, resolved against the base URL.
fn u_value(el: &ElementRef<'_>, base: &Url) -> Option<Url> {
    let v = el.value();
    let attr = match v.name() {
        "a" | "area" | "link" => v.attr("href"),
        "img" | "audio" | "source" | "iframe" => v.attr("src"),
        "video" => v.attr("src").or_else(|| v.attr("poster")),
        "object" => v.attr("data"),
        "abbr" => v.attr("title"),
        "data" | "input" => v.attr("value"),
        _ => None,
    };
    let raw = attr.map(str::to_owned).unwrap_or_else(|| text_content(el));
    resolve(base, &raw)
}

/// Text content, skipping `script`/`style`/`template` and replacing an
/// `img` by its `alt` (mf2 "textContent" with the img rule), iteratively.
fn text_content(el: &ElementRef<'_>) -> String {
    let mut out = String::new();
    let mut stack = vec![**el];
    while let Some(node) = stack.pop() {
        match node.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                match e.name() {
                    "script" | "style" | "template" => continue,
                    "img" => {
                        if let Some(alt) = e.attr("alt") {
                            out.push(' ');
                            out.push_str(alt);
                            out.push(' ');
                        }
                        continue;
                    }
                    _ => {}
                }
                let before = stack.len();
                stack.extend(node.children());
                stack[before..].reverse();
            }
            _ => {}
        }
        // Enough text for a name; stop reading a huge element early.
        if out.len() > 4096 {
            break;
        }
    }
    out
}

/// The only element child of `el`, if it has exactly one and it is not
/// itself a microformat (mf2 ":only-child:not[.h-*]").
fn only_child(el: ElementRef<'_>) -> Option<ElementRef<'_>> {
    let mut kids = el.child_elements();
    let first = kids.next()?;
    if kids.next().is_some() || Classes::of(&first).is_item() {
        return None;
    }
    Some(first)
}

/// The element itself, its only child, and that child's only child: the
/// three places mf2's implied-property rules look.
fn implied_candidates(root: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    let mut out = vec![root];
    if let Some(child) = only_child(root) {
        out.push(child);
        if let Some(grandchild) = only_child(child) {
            out.push(grandchild);
        }
    }
    out
}

/// mf2 implied name: img/area alt or abbr title on the root, its only child
/// or grandchild; else the root's text content.
fn implied_name(root: ElementRef<'_>) -> Option<String> {
    for el in implied_candidates(root) {
        let v = el.value();
        let found = match v.name() {
            "img" | "area" => v.attr("alt"),
            "abbr" => v.attr("title"),
            _ => None,
        };
        if let Some(n) = found.filter(|n| !n.trim().is_empty()) {
            return Some(n.to_owned());
        }
    }
    Some(text_content(&root))
}

/// mf2 implied photo: img src / object data on the root, only child or
/// grandchild.
fn implied_photo(root: ElementRef<'_>, base: &Url) -> Option<Url> {
    implied_candidates(root).into_iter().find_map(|el| {
        let v = el.value();
        let raw = match v.name() {
            "img" => v.attr("src"),
            "object" => v.attr("data"),
            _ => None,
        }?;
        resolve(base, raw)
    })
}

/// mf2 implied url: a/area href on the root, only child or grandchild.
fn implied_url(root: ElementRef<'_>, base: &Url) -> Option<Url> {
    implied_candidates(root).into_iter().find_map(|el| {
        let v = el.value();
        let raw = match v.name() {
            "a" | "area" => v.attr("href"),
            _ => None,
        }?;
        resolve(base, raw)
    })
}

#[cfg(test)]
mod tests;
