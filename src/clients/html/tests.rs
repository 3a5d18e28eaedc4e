//! Unit and property tests of the microformats reading in `html`.

use super::*;
use proptest::prelude::*;

fn page_url() -> Url {
    Url::parse("https://app.example.com/").unwrap()
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

const TV16: &str = r#"<link rel="redirect_uri" href="/redirect">
<div class="h-app"><img src="/logo.png" class="u-logo"><a href="/" class="u-url p-name">Example App</a></div>"#;

#[test]
fn tv16_h_app_page() {
    let page = parse_page(TV16, &page_url()).unwrap();
    assert_eq!(
        page.redirect_uris,
        [url("https://app.example.com/redirect")]
    );
    assert_eq!(page.apps.len(), 1);
    let app = &page.apps[0];
    assert_eq!(app.name.as_deref(), Some("Example App"));
    assert_eq!(app.urls, [url("https://app.example.com/")]);
    assert_eq!(app.logos, [url("https://app.example.com/logo.png")]);
    assert!(
        app.photos.is_empty(),
        "explicit u-* properties suppress the implied photo"
    );
}

#[test]
fn tv16_h_x_app_page() {
    let page = parse_page(&TV16.replace("h-app", "h-x-app"), &page_url()).unwrap();
    let app = &page.apps[0];
    assert_eq!(app.name.as_deref(), Some("Example App"));
    assert_eq!(app.logos, [url("https://app.example.com/logo.png")]);
    assert_eq!(
        page.redirect_uris,
        [url("https://app.example.com/redirect")]
    );
}

#[test]
fn other_microformats_are_not_apps() {
    let page = parse_page(
        r#"<div class="h-card"><a class="u-url p-name" href="/">Me</a></div>"#,
        &page_url(),
    )
    .unwrap();
    assert!(page.apps.is_empty());
    let page = parse_page(
        r#"<div class="h-apps x-h-app H-APP"><p class="p-name">N</p></div>"#,
        &page_url(),
    )
    .unwrap();
    assert!(page.apps.is_empty());
}

#[test]
fn implied_name_url_and_photo() {
    let page = parse_page(
        r#"<a class="h-app" href="/app"><img src="icon.png" alt="Quill"></a>"#,
        &url("https://quill.example/sub/"),
    )
    .unwrap();
    let app = &page.apps[0];
    assert_eq!(app.name.as_deref(), Some("Quill"));
    assert_eq!(app.urls, [url("https://quill.example/app")]);
    assert_eq!(app.photos, [url("https://quill.example/sub/icon.png")]);
}

#[test]
fn implied_name_from_text_content_skips_scripts() {
    let page = parse_page(
        "<div class=\"h-app\">  My\n  <b>App</b><script>evil()</script> </div>",
        &page_url(),
    )
    .unwrap();
    assert_eq!(page.apps[0].name.as_deref(), Some("My App"));
}

#[test]
fn abbr_title_and_img_alt_values() {
    let page = parse_page(
        r#"<div class="h-app"><abbr class="p-name" title="Full Name">FN</abbr></div>"#,
        &page_url(),
    )
    .unwrap();
    assert_eq!(page.apps[0].name.as_deref(), Some("Full Name"));
    let page = parse_page(
        r#"<div class="h-app"><abbr title="Implied">I</abbr></div>"#,
        &page_url(),
    )
    .unwrap();
    assert_eq!(page.apps[0].name.as_deref(), Some("Implied"));
}

#[test]
fn name_with_markup_is_kept_as_text() {
    let page = parse_page(
            r#"<div class="h-app"><span class="p-name">&lt;script&gt;alert(1)&lt;/script&gt; App</span></div>"#,
            &page_url(),
        )
        .unwrap();
    assert_eq!(
        page.apps[0].name.as_deref(),
        Some("<script>alert(1)</script> App")
    );
}

#[test]
fn javascript_and_data_urls_are_dropped() {
    let html = r#"<div class="h-app"><img class="u-logo" src="javascript:alert(1)"><img class="u-photo" src="data:image/png;base64,AA"><a class="u-url p-name" href="/">A</a></div>
            <link rel="redirect_uri" href="javascript:alert(1)">"#;
    let page = parse_page(html, &page_url()).unwrap();
    assert!(page.apps[0].logos.is_empty());
    assert!(page.apps[0].photos.is_empty());
    assert!(page.redirect_uris.is_empty());
}

#[test]
fn custom_scheme_redirect_uris_are_kept_cid_21() {
    // Indigenous for iOS publishes its app callback on its client page.
    let html = r#"<link rel="redirect_uri" href="indigenous://auth/callback">
            <link rel="redirect_uri" href="com.example.app:/cb">
            <link rel="redirect_uri" href="data:text/html,x">
            <link rel="redirect_uri" href="indigenous://auth/callback#frag">"#;
    let page = parse_page(html, &page_url()).unwrap();
    assert_eq!(
        page.redirect_uris
            .iter()
            .map(Url::as_str)
            .collect::<Vec<_>>(),
        ["indigenous://auth/callback", "com.example.app:/cb"]
    );
}

#[test]
fn base_href_is_honoured() {
    let html = r#"<head><base href="https://cdn.example.net/assets/"><link rel="redirect_uri" href="cb"></head>
            <div class="h-app"><img class="u-logo" src="logo.png"><a class="u-url p-name" href="https://app.example.com/">A</a></div>"#;
    let page = parse_page(html, &page_url()).unwrap();
    assert_eq!(
        page.apps[0].logos,
        [url("https://cdn.example.net/assets/logo.png")]
    );
    assert_eq!(
        page.redirect_uris,
        [url("https://cdn.example.net/assets/cb")]
    );
}

#[test]
fn rel_is_a_case_insensitive_token_list() {
    let html = r#"<a rel="me REDIRECT_URI" href="/a">x</a><link rel="redirect_uris" href="/no"><link rel="xredirect_uri" href="/no2"><area rel="redirect_uri" href="/b">"#;
    let page = parse_page(html, &page_url()).unwrap();
    assert_eq!(
        page.redirect_uris,
        [
            url("https://app.example.com/a"),
            url("https://app.example.com/b")
        ]
    );
}

#[test]
fn top_level_items_come_first_and_nested_properties_stay_nested() {
    let html = r#"<div class="h-card"><div class="p-author h-app"><span class="p-name">Nested</span></div></div>
            <div class="h-app"><span class="p-name">Top</span>
              <div class="h-card"><a class="u-url p-name" href="https://author.example/">Author</a></div></div>"#;
    let page = parse_page(html, &page_url()).unwrap();
    assert_eq!(page.apps.len(), 2);
    assert_eq!(page.apps[0].name.as_deref(), Some("Top"));
    assert!(page.apps[0].top_level);
    assert!(
        page.apps[0].urls.is_empty(),
        "the nested h-card's url is not the app's"
    );
    assert_eq!(page.apps[1].name.as_deref(), Some("Nested"));
    assert!(!page.apps[1].top_level);
}

#[test]
fn deeply_nested_markup_does_not_overflow() {
    let depth = 50_000;
    let html = format!(
        "<div class=\"h-app\">{}Deep{}</div>",
        "<span>".repeat(depth),
        "</span>".repeat(depth)
    );
    // The CPU backstop is lifted: what is tested here is the depth, and
    // an unoptimised build on a busy machine may take its half second.
    let limits = Limits {
        max_cpu: std::time::Duration::from_secs(3600),
        ..Limits::default()
    };
    let page = parse_page_within(&html, &page_url(), &limits, &AtomicBool::new(false)).unwrap();
    assert_eq!(page.apps.len(), 1);
}

proptest! {
    #[test]
    fn parser_never_panics(s in ".{0,400}") {
        let _ = parse_page(&s, &page_url());
    }

    #[test]
    fn parser_never_panics_on_tag_soup(
        parts in prop::collection::vec(prop::sample::select(vec![
            "<div class=\"h-app\">", "<div class=\"h-x-app h-card\">", "</div>", "<a class=\"u-url p-name\" href=\"/x\">",
            "</a>", "<img class=\"u-logo\" src=\"//e.example/l.png\" alt=\"A\">", "<base href=\"../\">", "<link rel=\"redirect_uri\" href=\"?q\">",
            "text", "<abbr class=\"p-name\" title=\"T\">", "</abbr>", "<script>", "</script>", "<span class=\"e-x u-photo\">",
            "</span>", "<template>", "</template>", "&amp;", "\u{202e}",
        ]), 0..40)
    ) {
        let html: String = parts.concat();
        for app in parse_page(&html, &page_url()).unwrap().apps {
            for u in app.urls.iter().chain(&app.logos).chain(&app.photos) {
                prop_assert!(is_http_url(u));
            }
        }
    }
}
