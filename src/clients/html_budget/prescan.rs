//! The pre-scan: a linear pass over the bytes of a page, before html5ever
//! sees them, that finds the tokenizer's one quadratic case (a tag with
//! very many attributes), which no tree sink can see.

use super::Unread;

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
/// left to the CPU budget of [`parse_document`](super::parse_document).
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
