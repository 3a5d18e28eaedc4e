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

mod prescan;
pub use prescan::prescan;

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
mod tests;
