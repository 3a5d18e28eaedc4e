//! The CPU bound on turning an untrusted HTML page into a tree (CID-10,
//! SEC-7): any page within the size cap costs well under a second.
//!
//! The size cap alone does not bound the work. html5ever's tree builder
//! walks the stack of open elements (and the list of active formatting
//! elements) for many tokens, so 500 KB of nested `<div>`s, unclosed
//! `<span>`s followed by stray end tags, or misnested `<b id=…>` cost on
//! the order of 10^10 steps; its tokenizer checks every attribute of a tag
//! against all the earlier ones, so one tag with 70,000 attributes is
//! quadratic too. Three limits keep both in check:
//!
//! - [`prescan`], a linear pass over the bytes before html5ever sees them,
//!   refuses a page with a tag carrying more than [`Limits::max_attributes`]
//!   attributes (the tokenizer's quadratic case, which no sink can see);
//! - the tree builder talks to a metered sink that counts its steps (every
//!   name lookup and node comparison of those walks), and the page is fed
//!   in small chunks and refused once the count passes
//!   [`Limits::max_work`] — deep nesting, misnesting and the adoption
//!   agency all show up there, whatever the markup looks like — or once
//!   it has created more than [`Limits::max_elements`] elements;
//! - between chunks, a cancel flag (set when the discovery deadline has
//!   passed) and a budget of the thread's own CPU time stop any shape the
//!   other two missed.
//!
//! It owns nothing about microformats (that is `html`). It must never
//! panic or recurse, and never hand out a partial tree: a page stopped
//! half-way is refused whole.

use std::borrow::Cow;
use std::cell::{Cell, Ref};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, QualName};
use scraper::{Html, HtmlTreeSink};

/// Why a page was not turned into a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unread {
    /// The page's shape would cost more than the limits allow.
    TooComplex,
    /// The caller gave up (its deadline passed) while the page was parsed.
    Cancelled,
}

/// How much one page may cost.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Attributes on one tag. Real pages stay under a few dozen; the
    /// tokenizer's duplicate check makes a tag cost this squared.
    pub max_attributes: usize,
    /// Tree-builder steps (see the module doc). A real 500 KB page takes
    /// well under a million; this many run in about 0.1 s.
    pub max_work: u64,
    /// Elements created. Reconstructing formatting elements can create
    /// far more than the page has tags, each a node in memory; a dense
    /// real 500 KB page has a few tens of thousands.
    pub max_elements: u64,
    /// CPU time of the parsing thread, checked between chunks.
    pub max_cpu: Duration,
    /// Bytes fed to the parser at a time: the most work done between two
    /// checks is one chunk's tokens times the stack depth.
    pub chunk: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attributes: 512,
            max_work: 20_000_000,
            max_elements: 100_000,
            max_cpu: Duration::from_millis(500),
            chunk: 512,
        }
    }
}

/// Parse `html` as a document within `limits`, giving up as soon as
/// `cancel` is set. Equivalent to `Html::parse_document` for every page it
/// accepts.
pub fn parse_document(html: &str, limits: &Limits, cancel: &AtomicBool) -> Result<Html, Unread> {
    prescan(html.as_bytes(), limits.max_attributes)?;
    let cpu = CpuMeter::start();
    let meter = Rc::new(Meter::default());
    let sink = MeteredSink {
        inner: HtmlTreeSink::new(Html::new_document()),
        meter: meter.clone(),
    };
    let mut parser = html5ever::parse_document(sink, Default::default());
    let mut rest = html;
    let mut fed = 0usize;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(char_boundary_at(rest, limits.chunk.max(4)));
        parser.process(StrTendril::from_slice(chunk));
        rest = tail;
        fed += 1;
        if cancel.load(Ordering::Relaxed) {
            return Err(Unread::Cancelled);
        }
        if meter.work.get() > limits.max_work || meter.elements.get() > limits.max_elements {
            return Err(Unread::TooComplex);
        }
        // Reading the CPU clock costs a few microseconds: not every chunk.
        if fed.is_multiple_of(8) && cpu.spent() > limits.max_cpu {
            return Err(Unread::TooComplex);
        }
    }
    let doc = parser.finish();
    if cancel.load(Ordering::Relaxed) {
        return Err(Unread::Cancelled);
    }
    Ok(doc)
}

/// The largest char boundary of `s` at or below `at`, but at least one
/// whole character, so that every chunk makes progress.
fn char_boundary_at(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    if i == 0 {
        s.chars().next().map_or(s.len(), char::len_utf8)
    } else {
        i
    }
}

/// A linear pass over the page that refuses it when one tag carries more
/// than `max_attributes` attributes, the one cost the metered sink cannot
/// see (html5ever's tokenizer compares each new attribute name with every
/// earlier one of the same tag, before the tree builder gets the tag).
///
/// It follows the tokenizer closely enough for real pages: comments,
/// doctypes and bogus comments are skipped, and so is the text of HTML
/// `script`, `style`, `textarea`, `title`, `xmp`, `iframe`, `noembed` and
/// `noframes` (whose "tags" are no tags). Where it may disagree with
/// html5ever (`noscript`, SVG and MathML, which turn raw text back into
/// markup; the escapes inside scripts; after `<frameset>`, where the tree
/// builder ignores every raw-text tag but `noframes`), it reads markup, so
/// it counts at least what the tokenizer sees. A shape it still misses is
/// left to the CPU budget of [`parse_document`].
pub fn prescan(bytes: &[u8], max_attributes: usize) -> Result<(), Unread> {
    let mut i = 0;
    // Inside `<svg>` or `<math>`, `script` and `style` are plain elements.
    let mut foreign = 0usize;
    let mut frameset = false;
    while let Some(lt) = find_byte(bytes, i, b'<') {
        i = lt + 1;
        match bytes.get(i) {
            Some(b'!') => {
                i = if bytes[i..].starts_with(b"!--") {
                    skip_comment(bytes, i + 3)
                } else {
                    skip_past(bytes, i, b">")
                };
            }
            Some(b'?') => i = skip_past(bytes, i, b">"),
            Some(b'/') => {
                i += 1;
                if bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    let (name, after) = tag_name(bytes, i);
                    if foreign > 0 && (eq_name(name, b"svg") || eq_name(name, b"math")) {
                        foreign -= 1;
                    }
                    // End tags carry attributes through the tokenizer too.
                    i = skip_attributes(bytes, after, max_attributes)?.0;
                } else {
                    i = skip_past(bytes, i, b">");
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let (name, after) = tag_name(bytes, i);
                let (end, self_closing) = skip_attributes(bytes, after, max_attributes)?;
                i = end;
                frameset |= eq_name(name, b"frameset");
                let raw_text = if frameset {
                    eq_name(name, b"noframes")
                } else {
                    RAW_TEXT.iter().any(|raw| eq_name(name, raw))
                };
                if eq_name(name, b"svg") || eq_name(name, b"math") {
                    if !self_closing {
                        foreign += 1;
                    }
                } else if foreign == 0 && raw_text {
                    i = skip_raw_text(bytes, i, name);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Elements whose content the tokenizer reads as text in HTML content.
const RAW_TEXT: [&[u8]; 8] = [
    b"script",
    b"style",
    b"textarea",
    b"title",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
];

fn find_byte(bytes: &[u8], from: usize, b: u8) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&c| c == b)
        .map(|p| p + from)
}

fn find_seq(bytes: &[u8], from: usize, seq: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(seq.len())
        .position(|w| w == seq)
        .map(|p| p + from)
}

/// The index just past the next `seq` at or after `from`, or the end.
fn skip_past(bytes: &[u8], from: usize, seq: &[u8]) -> usize {
    find_seq(bytes, from, seq).map_or(bytes.len(), |p| p + seq.len())
}

/// After `<!--`: `<!-->` and `<!--->` end at once; otherwise the first
/// `--` followed by `>` or `!>` ends the comment.
fn skip_comment(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    if rest.starts_with(b">") {
        return from + 1;
    }
    if rest.starts_with(b"->") {
        return from + 2;
    }
    let mut i = from;
    while let Some(p) = find_seq(bytes, i, b"--") {
        let after = &bytes[p + 2..];
        if after.starts_with(b">") {
            return p + 3;
        }
        if after.starts_with(b"!>") {
            return p + 4;
        }
        i = p + 1;
    }
    bytes.len()
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// The tag name starting at `from` (up to space, `/` or `>`), and where
/// it ends.
fn tag_name(bytes: &[u8], from: usize) -> (&[u8], usize) {
    let len = bytes
        .get(from..)
        .unwrap_or_default()
        .iter()
        .position(|&c| is_space(c) || c == b'/' || c == b'>')
        .unwrap_or(bytes.len() - from);
    (&bytes[from..from + len], from + len)
}

fn eq_name(name: &[u8], want: &[u8]) -> bool {
    name.eq_ignore_ascii_case(want)
}

/// Reads a tag's attributes as the tokenizer does (names, `=`, quoted and
/// unquoted values) up to its `>`, counting them. Returns the index after
/// the tag and whether it ended in `/>`.
fn skip_attributes(bytes: &[u8], from: usize, max: usize) -> Result<(usize, bool), Unread> {
    let mut i = from;
    let mut count = 0usize;
    let mut slash = false;
    loop {
        let Some(&c) = bytes.get(i) else {
            return Ok((i, false));
        };
        match c {
            b'>' => return Ok((i + 1, slash)),
            b'/' => {
                slash = true;
                i += 1;
                continue;
            }
            c if is_space(c) => {
                i += 1;
                continue;
            }
            _ => {}
        }
        slash = false;
        count += 1;
        if count > max {
            return Err(Unread::TooComplex);
        }
        // The name: its first character may be `=`.
        i += 1;
        while bytes
            .get(i)
            .is_some_and(|&c| !is_space(c) && !matches!(c, b'/' | b'>' | b'='))
        {
            i += 1;
        }
        while bytes.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while bytes.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                i = find_byte(bytes, i + 1, q).map_or(bytes.len(), |p| p + 1);
            }
            _ => {
                while bytes.get(i).is_some_and(|&c| !is_space(c) && c != b'>') {
                    i += 1;
                }
            }
        }
    }
}

/// Skips the text of a raw-text element up to its end tag (`</name`
/// followed by space, `/` or `>`, in any case); returns the index of that
/// end tag's `<`, so the main loop reads it.
fn skip_raw_text(bytes: &[u8], from: usize, name: &[u8]) -> usize {
    let mut i = from;
    while let Some(p) = find_seq(bytes, i, b"</") {
        let start = p + 2;
        let end = start + name.len();
        if bytes
            .get(start..end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            && bytes
                .get(end)
                .is_none_or(|&c| is_space(c) || c == b'/' || c == b'>')
        {
            return p;
        }
        i = p + 2;
    }
    bytes.len()
}

/// CPU time of the current thread where the platform tells it (Linux);
/// elsewhere, time since the start, which is never less.
struct CpuMeter {
    cpu_at_start: Option<Duration>,
    wall_at_start: Instant,
}

impl CpuMeter {
    fn start() -> Self {
        CpuMeter {
            cpu_at_start: thread_cpu_time(),
            wall_at_start: Instant::now(),
        }
    }

    fn spent(&self) -> Duration {
        match (self.cpu_at_start, thread_cpu_time()) {
            (Some(start), Some(now)) => now.saturating_sub(start),
            _ => self.wall_at_start.elapsed(),
        }
    }
}

/// The first field of `/proc/thread-self/schedstat`: nanoseconds this
/// thread has run on a CPU.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_ascii_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// scraper's tree sink with a counter of the tree builder's steps. Every
/// walk over the stack of open elements or the list of active formatting
/// elements asks the sink for a name or a node comparison per entry, so
/// the count follows the real cost of whatever the markup does.
struct MeteredSink {
    inner: HtmlTreeSink,
    meter: Rc<Meter>,
}

/// What the tree builder has done so far.
#[derive(Default)]
struct Meter {
    work: Cell<u64>,
    elements: Cell<u64>,
}

type Handle = <HtmlTreeSink as TreeSink>::Handle;

impl MeteredSink {
    fn charge(&self, steps: usize) {
        let steps = u64::try_from(steps).unwrap_or(u64::MAX);
        let work = &self.meter.work;
        work.set(work.get().saturating_add(steps));
    }

    /// Attributes already on `node` (0 for anything but an element).
    fn attribute_count(&self, node: &Handle) -> usize {
        let html = self.inner.0.borrow();
        html.tree
            .get(*node)
            .and_then(|n| n.value().as_element())
            .map_or(0, |e| e.attrs.len())
    }

    fn child_count(&self, node: &Handle) -> usize {
        let html = self.inner.0.borrow();
        html.tree.get(*node).map_or(0, |n| n.children().count())
    }
}

impl TreeSink for MeteredSink {
    type Handle = Handle;
    type Output = Html;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Html {
        self.inner.finish()
    }

    fn parse_error(&self, msg: Cow<'static, str>) {
        self.inner.parse_error(msg);
    }

    fn get_document(&self) -> Self::Handle {
        self.inner.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a Self::Handle) -> Ref<'a, QualName> {
        self.charge(1);
        self.inner.elem_name(target)
    }

    fn create_element(
        &self,
        name: QualName,
        attrs: Vec<Attribute>,
        flags: ElementFlags,
    ) -> Self::Handle {
        self.charge(1 + attrs.len());
        let elements = &self.meter.elements;
        elements.set(elements.get().saturating_add(1));
        self.inner.create_element(name, attrs, flags)
    }

    fn create_comment(&self, text: StrTendril) -> Self::Handle {
        self.charge(1);
        self.inner.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> Self::Handle {
        self.charge(1);
        self.inner.create_pi(target, data)
    }

    fn append(&self, parent: &Self::Handle, child: NodeOrText<Self::Handle>) {
        self.charge(1);
        self.inner.append(parent, child);
    }

    fn append_based_on_parent_node(
        &self,
        element: &Self::Handle,
        prev_element: &Self::Handle,
        child: NodeOrText<Self::Handle>,
    ) {
        self.charge(1);
        self.inner
            .append_based_on_parent_node(element, prev_element, child);
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.charge(1);
        self.inner
            .append_doctype_to_document(name, public_id, system_id);
    }

    fn mark_script_already_started(&self, node: &Self::Handle) {
        self.inner.mark_script_already_started(node);
    }

    fn pop(&self, node: &Self::Handle) {
        self.charge(1);
        self.inner.pop(node);
    }

    fn get_template_contents(&self, target: &Self::Handle) -> Self::Handle {
        self.charge(1);
        self.inner.get_template_contents(target)
    }

    fn same_node(&self, x: &Self::Handle, y: &Self::Handle) -> bool {
        self.charge(1);
        self.inner.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode);
    }

    fn append_before_sibling(&self, sibling: &Self::Handle, new_node: NodeOrText<Self::Handle>) {
        self.charge(1);
        self.inner.append_before_sibling(sibling, new_node);
    }

    fn add_attrs_if_missing(&self, target: &Self::Handle, attrs: Vec<Attribute>) {
        // Each one is a search and an insertion into the element's list.
        self.charge(attrs.len() * (1 + self.attribute_count(target)));
        self.inner.add_attrs_if_missing(target, attrs);
    }

    fn associate_with_form(
        &self,
        target: &Self::Handle,
        form: &Self::Handle,
        nodes: (&Self::Handle, Option<&Self::Handle>),
    ) {
        self.inner.associate_with_form(target, form, nodes);
    }

    fn remove_from_parent(&self, target: &Self::Handle) {
        self.charge(1);
        self.inner.remove_from_parent(target);
    }

    fn reparent_children(&self, node: &Self::Handle, new_parent: &Self::Handle) {
        self.charge(1 + self.child_count(node));
        self.inner.reparent_children(node, new_parent);
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &Self::Handle) -> bool {
        self.inner
            .is_mathml_annotation_xml_integration_point(handle)
    }

    fn set_current_line(&self, line_number: u64) {
        self.inner.set_current_line(line_number);
    }

    fn allow_declarative_shadow_roots(&self, intended_parent: &Self::Handle) -> bool {
        self.inner.allow_declarative_shadow_roots(intended_parent)
    }

    fn attach_declarative_shadow(
        &self,
        location: &Self::Handle,
        template: &Self::Handle,
        attrs: &[Attribute],
    ) -> bool {
        self.inner
            .attach_declarative_shadow(location, template, attrs)
    }

    fn maybe_clone_an_option_into_selectedcontent(&self, option: &Self::Handle) {
        self.inner
            .maybe_clone_an_option_into_selectedcontent(option);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The meter and the pre-scan alone: no CPU budget to blur outcomes.
    fn meter_only(max_work: u64) -> Limits {
        Limits {
            max_work,
            max_cpu: Duration::from_secs(3600),
            ..Limits::default()
        }
    }

    fn parse(html: &str, limits: &Limits) -> Result<Html, Unread> {
        parse_document(html, limits, &AtomicBool::new(false))
    }

    fn attrs(n: usize) -> String {
        (0..n).map(|i| format!(" a{i}")).collect()
    }

    #[test]
    fn prescan_counts_the_attributes_of_each_tag() {
        let at_limit = format!("<p{}>x</p>", attrs(10));
        assert_eq!(prescan(at_limit.as_bytes(), 10), Ok(()));
        let over = format!("<p{}>x</p>", attrs(11));
        assert_eq!(prescan(over.as_bytes(), 10), Err(Unread::TooComplex));
        // Valueless, quoted, unquoted and spaced-out values all count once;
        // a quoted `>` or space does not end the tag or start a name.
        let mixed = r#"<p a b=1 c = "x > y z" d='q r>' e=u/v f/>"#;
        assert_eq!(prescan(mixed.as_bytes(), 6), Ok(()));
        assert_eq!(prescan(mixed.as_bytes(), 5), Err(Unread::TooComplex));
        // End tags go through the tokenizer's attribute states too.
        let end = format!("<p></p{}>", attrs(11));
        assert_eq!(prescan(end.as_bytes(), 10), Err(Unread::TooComplex));
        // Many small tags are fine: the limit is per tag.
        let many = "<p a b c>".repeat(1000);
        assert_eq!(prescan(many.as_bytes(), 3), Ok(()));
    }

    #[test]
    fn prescan_skips_what_the_tokenizer_reads_as_text() {
        let hidden = format!("<p {}>", attrs(50));
        for page in [
            format!("<!-- {hidden} -->"),
            format!("<!-- a -- b {hidden} --><!---->"),
            format!("<!DOCTYPE html {hidden}><?xml {hidden}"),
            format!("<script>if (a {hidden} ) {{}}</script>"),
            format!("<SCRIPT type=module>{hidden}</script >"),
            format!("<style>{hidden}</style/>"),
            format!("<textarea>{hidden}</TEXTAREA>"),
            format!("<title>{hidden}"),
            format!("a < b <3{} > c", attrs(50)),
        ] {
            assert_eq!(prescan(page.as_bytes(), 10), Ok(()), "{page}");
        }
    }

    #[test]
    fn prescan_reads_markup_wherever_the_tokenizer_might() {
        let hidden = format!("<p {}>", attrs(50));
        for page in [
            // `<!-->` and `<!--->` are whole (empty) comments.
            format!("<!-->{hidden}-->"),
            format!("<!--->{hidden}-->"),
            // In SVG and MathML, script and style hold markup.
            format!("<svg><script>{hidden}</script></svg>"),
            format!("<math><style>{hidden}</style></math>"),
            // The script ends at its first end tag; `</scripts>` is none.
            format!("<script></script>{hidden}"),
            format!("<script></scripts>x</script>{hidden}"),
            // noscript's content is markup when scripting is off.
            format!("<noscript>{hidden}</noscript>"),
            // In a frameset the tree builder ignores `<script>`, so the
            // tokenizer never reads its content as text.
            format!("<frameset><script>{hidden}</script>"),
        ] {
            assert_eq!(
                prescan(page.as_bytes(), 10),
                Err(Unread::TooComplex),
                "{page}"
            );
        }
        let after_svg = format!("<svg/><script>{hidden}</script>");
        assert_eq!(prescan(after_svg.as_bytes(), 10), Ok(()));
        let noframes = format!("<frameset><noframes>{hidden}</noframes>");
        assert_eq!(prescan(noframes.as_bytes(), 10), Ok(()));
    }

    #[test]
    fn accepted_pages_parse_exactly_as_scraper_does() {
        let page = "<!doctype html><title>T</title><link rel=redirect_uri href=/cb>\
            <div class=h-app><p>é ü 漢字 🎉<b>x<i>y</b>z</i><table>t<tr><td>c</table>\
            <svg><g><rect/></g></svg><a href=/>A</a></div>"
            .repeat(5);
        let limits = Limits {
            chunk: 5,
            ..meter_only(u64::MAX)
        };
        let chunked = parse(&page, &limits).unwrap();
        assert_eq!(chunked.html(), Html::parse_document(&page).html());
    }

    #[test]
    fn deep_nesting_is_refused_by_the_meter() {
        let page = "<div>".repeat(5_000);
        assert_eq!(
            parse(&page, &meter_only(1_000_000)).err(),
            Some(Unread::TooComplex)
        );
        // Nested spans are cheap to build; stray end tags then walk the
        // whole stack each.
        let page = format!("{}{}", "<span>".repeat(5_000), "</x>".repeat(5_000));
        assert_eq!(
            parse(&page, &meter_only(1_000_000)).err(),
            Some(Unread::TooComplex)
        );
        // Misnested formatting elements.
        let page: String = (0..3_000).map(|i| format!("<b id={i}><p>x")).collect();
        assert_eq!(
            parse(&page, &meter_only(1_000_000)).err(),
            Some(Unread::TooComplex)
        );
    }

    #[test]
    fn reconstructed_formatting_elements_are_refused_by_the_element_cap() {
        // Each `<p>` closes the `<b>`s opened in the last one, and each
        // text reopens every one of them: elements grow with the square.
        let page: String = (0..400).map(|i| format!("<b id={i}><p>x")).collect();
        let limits = Limits {
            max_elements: 10_000,
            ..meter_only(u64::MAX)
        };
        assert_eq!(parse(&page, &limits).err(), Some(Unread::TooComplex));
        let tags = 400 * 2 + 3;
        let limits = Limits {
            max_elements: tags,
            ..meter_only(u64::MAX)
        };
        let fair: String = (0..400)
            .map(|i| format!("<b id={i}>x</b><p>y</p>"))
            .collect();
        assert!(parse(&fair, &limits).is_ok());
    }

    #[test]
    fn shallow_pages_of_the_same_size_are_accepted() {
        let page = "<div><p>text <b>bold</b> <a href=/x>link</a></p></div>".repeat(1_000);
        assert!(page.len() > 50_000);
        assert!(parse(&page, &meter_only(1_000_000)).is_ok());
        // Deep but cheap markup stays readable.
        let page = format!("{}x{}", "<span>".repeat(5_000), "</span>".repeat(5_000));
        assert!(parse(&page, &meter_only(1_000_000)).is_ok());
    }

    #[test]
    fn a_tag_with_too_many_attributes_is_refused_before_parsing() {
        let page = format!("<p{}>", attrs(Limits::default().max_attributes + 1));
        assert_eq!(
            parse(&page, &meter_only(u64::MAX)).err(),
            Some(Unread::TooComplex)
        );
    }

    #[test]
    fn the_cpu_budget_stops_what_the_other_limits_miss() {
        let page = "<p>x</p>".repeat(1_000);
        let limits = Limits {
            max_cpu: Duration::ZERO,
            ..meter_only(u64::MAX)
        };
        assert_eq!(parse(&page, &limits).err(), Some(Unread::TooComplex));
    }

    #[test]
    fn a_cancelled_parse_stops() {
        let cancel = AtomicBool::new(true);
        let page = "<p>x</p>".repeat(100);
        assert_eq!(
            parse_document(&page, &Limits::default(), &cancel).err(),
            Some(Unread::Cancelled)
        );
    }

    #[test]
    fn chunks_end_on_character_boundaries() {
        assert_eq!(char_boundary_at("abc", 10), 3);
        assert_eq!(char_boundary_at("ab🎉", 3), 2);
        assert_eq!(char_boundary_at("🎉a", 2), 4, "at least one character");
        assert_eq!(char_boundary_at("", 4), 0);
    }

    proptest! {
        #[test]
        fn prescan_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), max in 0usize..8) {
            let _ = prescan(&bytes, max);
        }

        #[test]
        fn prescan_never_panics_on_tag_soup(
            parts in prop::collection::vec(prop::sample::select(vec![
                "<", ">", "</", "<!--", "-->", "--!>", "<!", "<?", "/>", "=", "\"", "'", " ", "a",
                "<p", "<script>", "</script", "<svg>", "</svg>", "<math", "<style>", "x=\"",
            ]), 0..60),
            max in 0usize..5,
        ) {
            let _ = prescan(parts.concat().as_bytes(), max);
        }

        #[test]
        fn chunked_parsing_builds_the_same_tree(s in "[<>a-z/=\"' éü🎉!-]{0,200}", chunk in 4usize..16) {
            let limits = Limits { chunk, ..meter_only(u64::MAX) };
            let ours = parse(&s, &limits);
            prop_assert!(ours.is_ok() || prescan(s.as_bytes(), limits.max_attributes).is_err());
            if let Ok(doc) = ours {
                prop_assert_eq!(doc.html(), Html::parse_document(&s).html());
            }
        }
    }
}
