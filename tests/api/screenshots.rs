//! Screenshots of every page a person sees (issue 9, §8), in headless
//! Chromium at a desktop and a phone width, for people to look at: they
//! land in `target/tmp/screenshots/` (`NAME-desktop.png`, `NAME-phone.png`,
//! beside the `NAME.html` they were taken from).
//!
//! Chromium cannot easily carry the owner's session cookie, so the test
//! fetches each page with its own signed-in client and makes it
//! self-contained: the stylesheet inlined, the logos doorstep serves to
//! the owner as data URLs, the one script (passkeys) left out, as a
//! browser without JavaScript shows the pages. Chromium then reads the
//! file with the network off.
//!
//! Without Chromium (Debian's `chromium`), the test says so and passes,
//! unless `CI` is set: `.ci/run` installs it.

use crate::tour::{Tour, visit_every_page};
use base64::Engine;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Desktop and phone (an iPhone 12-15's CSS viewport).
const SIZES: &[(&str, u32, u32)] = &[("desktop", 1280, 900), ("phone", 390, 844)];

/// How long one screenshot may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(120);

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DOORSTEP_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The page with everything it needs inside it.
async fn self_contained(tour: &Tour, html: &str, css: &str) -> String {
    let mut out = html.replacen(
        r#"<link rel="stylesheet" href="/static/style.css">"#,
        &format!("<style>{css}</style>"),
        1,
    );
    // The passkey script needs the live origin; without it the pages show
    // what they show without JavaScript.
    while let Some(start) = out.find("<script") {
        let end = out[start..]
            .find("</script>")
            .map(|e| start + e + "</script>".len())
            .expect("closed script");
        out.replace_range(start..end, "");
    }
    // Logos are served to the signed-in owner only.
    while let Some(start) = out.find(r#"src="/auth/logo?"#) {
        let value_start = start + r#"src=""#.len();
        let value_end = value_start + out[value_start..].find('"').expect("quoted src");
        let path = out[value_start..value_end].replace("&amp;", "&");
        let resp = tour
            .browser
            .http
            .get(tour.app.url(&path))
            .send()
            .await
            .expect("logo");
        assert_eq!(resp.status(), 200, "{path}");
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("image/png")
            .to_owned();
        let bytes = resp.bytes().await.expect("logo bytes");
        let data = format!(
            "data:{kind};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        out.replace_range(value_start..value_end, &data);
    }
    out
}

/// One Chromium at a time, at the lowest CPU priority when `nice` is
/// there: the other tests running beside this one keep their time limits.
async fn screenshot(chromium: &Path, html: &Path, png: &Path, width: u32, height: u32) {
    let profile = tempfile::tempdir().unwrap();
    let nice = Path::new("/usr/bin/nice");
    let mut command = if nice.is_file() {
        let mut c = tokio::process::Command::new(nice);
        c.args(["-n", "19"]).arg(chromium);
        c
    } else {
        tokio::process::Command::new(chromium)
    };
    let run = command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            // Nothing here needs the network: keep Chromium off it.
            "--proxy-server=127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("file://{}", html.display()))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(PATIENCE, run)
        .await
        .unwrap_or_else(|_| panic!("chromium took over {PATIENCE:?} for {}", png.display()))
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed for {}: {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A decoded 8-bit PNG: width, height and one `u32` per pixel.
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u32>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut width, mut height, mut channels) = (0u32, 0u32, 0usize);
    let mut idat = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap());
                height = u32::from_be_bytes(data[4..8].try_into().unwrap());
                assert_eq!(data[8], 8, "8-bit channels");
                channels = match data[9] {
                    0 => 1,
                    2 => 3,
                    4 => 2,
                    6 => 4,
                    other => panic!("colour type {other}"),
                };
                assert_eq!(data[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .expect("inflate");
    let stride = width as usize * channels;
    assert_eq!(raw.len(), (stride + 1) * height as usize, "image data size");
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(width as usize * height as usize);
    for row in raw.chunks(stride + 1) {
        let (filter, line) = (row[0], &row[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] } else { 0 };
            let b = prev[i];
            let c = if i >= channels { prev[i - channels] } else { 0 };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                4 => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                other => panic!("filter {other}"),
            };
            cur[i] = line[i].wrapping_add(predicted);
        }
        for px in cur.chunks(channels) {
            let mut v = 0u32;
            for &byte in px {
                v = (v << 8) | byte as u32;
            }
            pixels.push(v);
        }
        prev = cur;
    }
    (width, height, pixels)
}

/// Text on a background: many colours (anti-aliasing), and a real share
/// of the pixels unlike the background.
fn shows_something(pixels: &[u32]) -> Result<(), String> {
    let mut counts = std::collections::HashMap::new();
    for p in pixels {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let background = counts.values().copied().max().unwrap_or(0);
    let other = pixels.len() - background;
    if counts.len() < 16 || other * 1000 < pixels.len() {
        return Err(format!(
            "{} colours, {other} of {} pixels unlike the background",
            counts.len(),
            pixels.len()
        ));
    }
    Ok(())
}

#[test]
fn the_png_reader_tells_a_blank_image_from_one_with_something_on_it() {
    // A 2×2 RGB image, one white row and one red-and-green row, Sub- and
    // Up-filtered: decoding must undo the filters.
    let mut raw = vec![1u8, 255, 255, 255, 0, 0, 0];
    raw.extend([2u8, 0, 1, 1, 0, 255, 1]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &raw).unwrap();
    let idat = z.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        png.extend(kind);
        png.extend(data);
        png.extend([0u8; 4]); // CRC: not checked here
    };
    chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
    chunk(b"IDAT", &idat);
    chunk(b"IEND", &[]);
    let (w, h, pixels) = decode_png(&png);
    assert_eq!((w, h), (2, 2));
    assert_eq!(pixels, [0xffffff, 0xffffff, 0xff0000, 0xfffe00]);
    assert!(shows_something(&[0xffffff; 400]).is_err());
}

#[tokio::test]
async fn every_page_is_photographed_at_desktop_and_phone_widths() {
    let stylesheet =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("static/style.css"))
            .unwrap();
    let declarations = stylesheet.replace(char::is_whitespace, "");
    assert!(
        !declarations.contains("word-break:break-all"),
        "`word-break: break-all` splits words such as \"describes\" and \"127.0.0.1\" on phones"
    );
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Chromium for the screenshots: apt-get install chromium"
        );
        eprintln!("screenshots skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let tour = visit_every_page().await;
    let css = tour
        .app
        .api
        .get(tour.app.url("/static/style.css"))
        .send()
        .await
        .expect("stylesheet")
        .text()
        .await
        .expect("stylesheet text");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let mut seen = std::collections::HashMap::new();
    for page in &tour.pages {
        let html = dir.join(format!("{}.html", page.name));
        std::fs::write(&html, self_contained(&tour, &page.html, &css).await).unwrap();
        for &(size, width, height) in SIZES {
            let png = dir.join(format!("{}-{size}.png", page.name));
            let _ = std::fs::remove_file(&png);
            screenshot(&chromium, &html, &png, width, height).await;
            let bytes = std::fs::read(&png)
                .unwrap_or_else(|e| panic!("no screenshot {}: {e}", png.display()));
            let (w, h, pixels) = decode_png(&bytes);
            assert_eq!((w, h), (width, height), "{}", png.display());
            if let Err(why) = shows_something(&pixels) {
                panic!("{} looks empty: {why}", png.display());
            }
            let fingerprint = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                pixels.hash(&mut h);
                h.finish()
            };
            if let Some(other) = seen.insert(fingerprint, png.clone()) {
                panic!(
                    "{} is the same picture as {}",
                    png.display(),
                    other.display()
                );
            }
        }
    }
    eprintln!("screenshots in {}", dir.display());
}
