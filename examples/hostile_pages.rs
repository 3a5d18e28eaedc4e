//! CPU seconds to read hostile client pages (issue 11; CID-10, SEC-7), run
//! by `bench/hostile_pages.sh`. Each page is just under the 512 KB cap.
//!
//! For every shape it prints the CPU time of `html::parse_page` (the
//! bounded parse discovery uses) and its outcome; with `--before` also the
//! CPU time of the unbounded `scraper::Html::parse_document` that discovery
//! used before, which takes minutes in all for the worst shapes.
//!
//! Usage: hostile_pages [--before] [--no-header] [SHAPE...], or
//! hostile_pages --list for the shape names.

use std::time::Duration;

use doorstep::clients::html;
use url::Url;

const CAP: usize = 512 * 1024 - 64;

/// Repeat `unit` (numbered through `{}`) until the page would pass the cap.
fn fill(prefix: &str, unit: &str, suffix: &str) -> String {
    let mut out = String::from(prefix);
    let mut n = 0u64;
    loop {
        let next = unit.replace("{}", &n.to_string());
        if out.len() + next.len() + suffix.len() > CAP {
            break;
        }
        out.push_str(&next);
        n += 1;
    }
    out.push_str(suffix);
    out
}

/// Opening units until half the cap, then closing or stray units.
fn half_and_half(open: &str, then: &str) -> String {
    let mut out = String::new();
    while out.len() + open.len() < CAP / 2 {
        out.push_str(open);
    }
    while out.len() + then.len() < CAP {
        out.push_str(then);
    }
    out
}

/// A large honest page: a blog home with an h-app, rel links and many
/// posts, markup nested about a dozen deep.
fn honest() -> String {
    let mut out = String::from(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example blog</title>
<link rel="redirect_uri" href="/callback"><link rel="stylesheet" href="/s.css">
<script>window.x = 1 < 2 && [1,2,3].map(a => a > 1);</script></head><body>
<header class="site"><nav><ul><li><a href="/">Home</a><li><a href="/about">About</a></ul></nav>
<div class="h-app"><img class="u-logo" src="/logo.png" alt=""><a class="u-url p-name" href="/">Example App</a></div></header><main>"#,
    );
    let post = r#"<article class="h-entry post"><header><h2 class="p-name"><a class="u-url" href="/posts/{}">Post number {}</a></h2>
<div class="meta"><time class="dt-published" datetime="2024-01-01">1 Jan</time> by <span class="p-author h-card"><img class="u-photo" src="/me.jpg" alt="">Me</span></div></header>
<div class="e-content"><p>Some <b>bold</b> and <i>italic</i> text, <a href="https://example.net/{}">a link</a>, and <code>code</code>.<p>Another paragraph
<ul><li>one<li>two<li><span><em>three</em></span></ul><table><tr><td>a<td>b<tr><td>c<td>d</table></div>
<footer><a class="u-in-reply-to" href="https://other.example/{}">reply</a></footer></article>
"#;
    let mut n = 0;
    while out.len() + post.len() * 2 < CAP {
        out.push_str(&post.replace("{}", &n.to_string()));
        n += 1;
    }
    out.push_str("</main><footer>bye</footer></body></html>");
    out
}

fn shapes() -> Vec<(&'static str, String)> {
    vec![
        ("honest-blog", honest()),
        ("nested-div", fill("", "<div>", "")),
        ("nested-span-stray-ends", half_and_half("<span>", "</x>")),
        ("nested-div-stray-ends", half_and_half("<div>", "</x>")),
        ("nested-b-i", fill("", "<b><i>", "")),
        ("distinct-b-then-p", fill("", "<b id={}><p>x", "")),
        ("misnested-b-p", fill("", "<b id={}><p>x</b>y", "")),
        ("unclosed-a-div", fill("", "<a href=x><div>", "")),
        ("unclosed-a", fill("", "<a href={}>x", "")),
        ("nested-table", fill("", "<table><tr><td>", "")),
        ("unclosed-table", fill("", "<table>x", "")),
        ("nested-object", fill("", "<object><b>", "")),
        ("nested-select", fill("", "<select><option>", "")),
        ("many-attributes", fill("<p", " a{}", ">")),
        ("body-attributes", fill("<body>", "<body z{}>", "")),
        (
            "nested-h-apps",
            format!(
                "{}{}",
                "<div class=\"h-app\">".repeat(20),
                fill("", "<span>", "")
            ),
        ),
        (
            "giant-class",
            fill("<div class=\"h-app", " c{}", "\">x</div>"),
        ),
        (
            "frameset-script-attributes",
            fill("<frameset><script><p", " a{}", ">"),
        ),
    ]
}

/// CPU time of this thread (Linux), else wall time.
fn cpu<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    fn now() -> Option<Duration> {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        Some(Duration::from_nanos(
            stat.split_ascii_whitespace().next()?.parse().ok()?,
        ))
    }
    let (start, wall) = (now(), std::time::Instant::now());
    let out = f();
    let spent = match (start, now()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall.elapsed(),
    };
    (out, spent)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    if flag("--list") {
        for (name, _) in shapes() {
            println!("{name}");
        }
        return;
    }
    let before = flag("--before");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let page_url = Url::parse("https://app.example.com/").expect("static URL");
    if !flag("--no-header") {
        println!(
            "{:<28} {:>8} {:>11} {:>11}  outcome (bounded parse)",
            "shape", "KB", "before s", "after s"
        );
    }
    for (name, page) in shapes() {
        if !only.is_empty() && !only.iter().any(|o| o.as_str() == name) {
            continue;
        }
        let old = if before {
            let (_, t) = cpu(|| scraper::Html::parse_document(&page));
            format!("{:.3}", t.as_secs_f64())
        } else {
            "-".into()
        };
        let (result, t) = cpu(|| html::parse_page(&page, &page_url));
        let outcome = match result {
            Ok(p) => format!(
                "read: {} app(s), {} redirect_uri(s)",
                p.apps.len(),
                p.redirect_uris.len()
            ),
            Err(e) => format!("refused: {e:?}"),
        };
        println!(
            "{:<28} {:>8} {:>11} {:>11.3}  {}",
            name,
            page.len() / 1024,
            old,
            t.as_secs_f64(),
            outcome
        );
    }
}
