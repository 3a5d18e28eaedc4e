//! Unit and property tests of the HTML parse's CPU bounds: the pre-scan,
//! the metered sink and the chunked feed.

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
