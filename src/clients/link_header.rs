//! A tolerant parser for HTTP `Link` headers (RFC 8288 §3).
//!
//! This module owns turning `Link` header field values into targets and
//! parameters. It resolves nothing and fetches nothing; callers resolve the
//! target against the URL they fetched (RFC 8288 §3.1, CID-21). It must never
//! panic on hostile input: malformed link-values are skipped, the rest kept.

/// One link-value: the target as written between `<` and `>`, and its
/// parameters in order, names lower-cased (RFC 8288 §3: names are
/// case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub params: Vec<(String, String)>,
}

impl Link {
    /// The relation types of this link, lower-cased. Only the first `rel`
    /// parameter counts (RFC 8288 §3.3); its value is a space-separated list
    /// compared case-insensitively.
    pub fn rels(&self) -> Vec<String> {
        self.param("rel")
            .map(|v| {
                v.split_ascii_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first parameter with this (lower-case) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when the link carries this relation type (case-insensitive).
    pub fn has_rel(&self, rel: &str) -> bool {
        self.rels().iter().any(|r| r.eq_ignore_ascii_case(rel))
    }
}

/// Parse every `Link` header field value given (a response may repeat the
/// header; each value may hold several comma-separated link-values).
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Link> {
    values.into_iter().flat_map(parse).collect()
}

/// Parse one `Link` header field value.
pub fn parse(value: &str) -> Vec<Link> {
    let mut cur = Cursor { s: value, pos: 0 };
    let mut links = Vec::new();
    loop {
        cur.skip_while(|c| c == ',' || is_ows(c));
        match cur.peek() {
            None => break,
            Some('<') => {
                cur.bump();
                let Some(target) = cur.take_until('>') else {
                    break; // unterminated target: nothing more can be trusted
                };
                let params = parse_params(&mut cur);
                links.push(Link {
                    target: target.to_owned(),
                    params,
                });
            }
            // Not a link-value: skip to the next top-level comma.
            Some(_) => cur.skip_element(),
        }
    }
    links
}

/// Parameters after a target, up to the comma that ends the link-value.
fn parse_params(cur: &mut Cursor<'_>) -> Vec<(String, String)> {
    let mut params = Vec::new();
    loop {
        cur.skip_while(is_ows);
        match cur.peek() {
            None | Some(',') => break,
            Some(';') => {
                cur.bump();
                cur.skip_while(is_ows);
                let name = cur.take_while(is_token_char).to_ascii_lowercase();
                cur.skip_while(is_ows);
                let value = if cur.peek() == Some('=') {
                    cur.bump();
                    cur.skip_while(is_ows);
                    if cur.peek() == Some('"') {
                        cur.bump();
                        cur.quoted_string()
                    } else {
                        cur.take_while(|c| c != ';' && c != ',' && !is_ows(c))
                            .to_owned()
                    }
                } else {
                    String::new()
                };
                if !name.is_empty() {
                    params.push((name, value));
                }
            }
            // Junk between parameters: drop it up to the next `;` or `,`.
            Some(_) => {
                cur.bump();
                cur.skip_while(|c| c != ';' && c != ',');
            }
        }
    }
    params
}

/// Format links back into one header value: the inverse of [`parse`] for
/// well-formed input (used by tests and handy for building headers).
pub fn format(links: &[Link]) -> String {
    links
        .iter()
        .map(|l| {
            let mut s = format!("<{}>", l.target);
            for (name, value) in &l.params {
                s.push_str("; ");
                s.push_str(name);
                s.push_str("=\"");
                for c in value.chars() {
                    if c == '"' || c == '\\' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 §5.6.2 tchar.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A cursor over a string that only ever moves by whole characters, so
/// slicing can never split a UTF-8 sequence.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c| !f(c)).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or("")
    }

    fn skip_while(&mut self, f: impl Fn(char) -> bool) {
        self.take_while(f);
    }

    /// Text up to `end` (exclusive), consuming `end`; None if it never comes.
    fn take_until(&mut self, end: char) -> Option<&'a str> {
        let rest = self.rest();
        let len = rest.find(end)?;
        self.pos += len + end.len_utf8();
        rest.get(..len)
    }

    /// The body of a quoted-string whose opening quote was consumed
    /// (RFC 9110 §5.6.4): backslash escapes the next character; an
    /// unterminated string runs to the end of the value.
    fn quoted_string(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(next) = self.bump() {
                        out.push(next);
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// Skip a malformed element up to the next comma outside quotes and
    /// angle brackets.
    fn skip_element(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ',' => break,
                '"' => {
                    self.bump();
                    self.quoted_string();
                }
                '<' => {
                    self.bump();
                    if self.take_until('>').is_none() {
                        self.pos = self.s.len();
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rels_of(v: &str) -> Vec<(String, Vec<String>)> {
        parse(v)
            .into_iter()
            .map(|l| (l.target.clone(), l.rels()))
            .collect()
    }

    #[test]
    fn single_link_with_rel() {
        assert_eq!(
            rels_of(r#"</redirect>; rel="redirect_uri""#),
            vec![("/redirect".into(), vec!["redirect_uri".into()])]
        );
    }

    #[test]
    fn several_links_in_one_value() {
        let v = r#"<https://a.example/cb>; rel=redirect_uri, <https://b.example/>; rel="me""#;
        assert_eq!(
            rels_of(v),
            vec![
                ("https://a.example/cb".into(), vec!["redirect_uri".into()]),
                ("https://b.example/".into(), vec!["me".into()]),
            ]
        );
    }

    #[test]
    fn quoted_strings_may_hold_commas_and_semicolons() {
        let v = r#"</a>; title="x, y; z"; rel="redirect_uri", </b>; rel=next"#;
        let links = parse(v);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].param("title"), Some("x, y; z"));
        assert!(links[0].has_rel("redirect_uri"));
        assert!(links[1].has_rel("next"));
    }

    #[test]
    fn escaped_quotes_in_quoted_strings() {
        let links = parse(r#"</a>; title="say \"hi\" \\ ok"; rel=x"#);
        assert_eq!(links[0].param("title"), Some(r#"say "hi" \ ok"#));
        assert!(links[0].has_rel("x"));
    }

    #[test]
    fn multi_token_rel_and_case_insensitivity() {
        let links = parse(r#"</cb>; REL="Me Redirect_URI  authorization_endpoint""#);
        assert!(links[0].has_rel("redirect_uri"));
        assert!(links[0].has_rel("me"));
        assert!(links[0].has_rel("authorization_endpoint"));
    }

    #[test]
    fn only_the_first_rel_parameter_counts() {
        let links = parse(r#"</cb>; rel="me"; rel="redirect_uri""#);
        assert!(!links[0].has_rel("redirect_uri"));
    }

    #[test]
    fn targets_may_hold_commas() {
        let links = parse(r#"<https://a.example/x,y?q=1,2>; rel=redirect_uri"#);
        assert_eq!(links[0].target, "https://a.example/x,y?q=1,2");
    }

    #[test]
    fn several_header_values_are_combined() {
        let links = parse_all([
            "</a>; rel=redirect_uri",
            "</b>; rel=redirect_uri, </c>; rel=x",
        ]);
        let targets: Vec<_> = links.iter().map(|l| l.target.as_str()).collect();
        assert_eq!(targets, ["/a", "/b", "/c"]);
    }

    #[test]
    fn malformed_values_are_skipped_not_fatal() {
        let links = parse(r#"garbage "with, quotes", </ok>; rel=redirect_uri, <unterminated"#);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].target, "/ok");
        assert!(parse("").is_empty());
        assert!(parse(";;;,,,").is_empty());
        let links = parse(r#"</a> junk ; rel = "redirect_uri" ; x ; =y"#);
        assert!(links[0].has_rel("redirect_uri"));
        assert_eq!(links[0].param("x"), Some(""));
    }

    #[test]
    fn whitespace_around_equals_is_tolerated() {
        let links = parse("</a> ;\trel = redirect_uri");
        assert!(links[0].has_rel("redirect_uri"));
    }

    fn arb_link() -> impl Strategy<Value = Link> {
        (
            "[^<>]{0,40}",
            prop::collection::vec(
                ("[a-z][a-z0-9_*-]{0,10}", "[^\\x00-\\x1f\\x7f]{0,20}"),
                0..4,
            ),
        )
            .prop_map(|(target, params)| Link { target, params })
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in ".{0,300}") {
            let _ = parse(&s);
        }

        #[test]
        fn parser_never_panics_on_link_like_input(s in "[<>;,=\" \\\\a-z/]{0,200}") {
            for l in parse(&s) {
                let _ = l.rels();
            }
        }

        #[test]
        fn whatever_parses_formats_back_to_itself(s in "[<>;,=\" \\a-z/\t]{0,120}") {
            let links = parse(&s);
            prop_assert_eq!(parse(&format(&links)), links);
        }

        #[test]
        fn format_then_parse_round_trips(links in prop::collection::vec(arb_link(), 0..5)) {
            let parsed = parse(&format(&links));
            prop_assert_eq!(parsed, links);
        }
    }
}
