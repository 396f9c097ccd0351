//! Messages and small strings built without `core::fmt`, and substring search without core's
//! string searchers: std's general code for these is a large part of a wasm this size.
//!
//! `format!` links the formatting machinery (`fmt::Arguments`, `Formatter`, per-type `Display`
//! code) into the wasm, and every call site builds an argument table for it. [`fill`] does what
//! the SDK needs — strings and decimal integers into a template — with one small function, and
//! the browser package is smaller without `format!` (xtask/src/size.rs measures it).
//!
//! Likewise `str::find(&str)`, `contains(&str)`, `split(&str)`, `replace(&str, _)` link core's
//! two-way searcher, and `split(char)` / `rsplit(char)` its character searchers: about 2.5 KB of
//! wasm for what [`find`], [`split`] and [`split_last`] do in a few lines. The SDK searches short needles in
//! small texts (reply headers, XML replies, messages), where a plain scan is as fast. [`concat`]
//! and [`join`] stand in for the slice methods of those names for the same reason.

/// One value [`fill`] puts into a template.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    Str(&'a str),
    /// Written in decimal.
    Num(u64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Arg<'a> {
        Arg::Str(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Arg<'a> {
        Arg::Str(s)
    }
}

impl From<u64> for Arg<'_> {
    fn from(n: u64) -> Self {
        Arg::Num(n)
    }
}

impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Num(n.into())
    }
}

impl From<u16> for Arg<'_> {
    fn from(n: u16) -> Self {
        Arg::Num(n.into())
    }
}

/// `template` with each `{}` replaced by the next of `args`, like `format!` with `{}` only
/// (`{}` beyond the last argument stay as they are).
pub fn fill(template: &str, args: &[Arg<'_>]) -> String {
    let mut out = String::with_capacity(template.len() + 16 * args.len());
    let mut rest = template;
    for arg in args {
        let bytes = rest.as_bytes();
        let mut at = 0;
        while at + 1 < bytes.len() && !(bytes[at] == b'{' && bytes[at + 1] == b'}') {
            at += 1;
        }
        if at + 1 >= bytes.len() {
            break;
        }
        out.push_str(&rest[..at]);
        match *arg {
            Arg::Str(s) => out.push_str(s),
            Arg::Num(n) => crate::json::push_u64(&mut out, n),
        }
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

/// `parts` one after another: `[..].concat()` without std's join code (~1.5 KB of wasm for its
/// two instances, `&str` and `String` parts).
pub fn concat(parts: &[&str]) -> String {
    join(parts, "")
}

/// `parts` with `separator` between them (`[..].join(separator)`).
pub fn join<S: AsRef<str>>(parts: &[S], separator: &str) -> String {
    // No capacity computed first: the parts are short, and the sum costs more wasm than the
    // few reallocations it saves.
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(part.as_ref());
    }
    out
}

/// Byte offset of the first `needle` in `hay` (0 for an empty `needle`).
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    (0..(hay.len() + 1).checked_sub(needle.len())?).find(|&at| hay[at..].starts_with(needle))
}

/// Whether `hay` contains `needle`.
pub fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// `s` before and after the first `separator`.
pub fn split_once<'a>(s: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let at = find(s, separator)?;
    Some((&s[..at], &s[at + separator.len()..]))
}

/// `s` before and after its last `separator`, an ASCII character.
pub fn split_last(s: &str, separator: u8) -> Option<(&str, &str)> {
    let at = s.bytes().rposition(|b| b == separator)?;
    Some((&s[..at], &s[at + 1..]))
}

/// Whether `s` holds a control character (`char::is_control`: C0, DEL and C1). Bytes, not
/// chars: C1 is U+0080–U+009F, in UTF-8 0xC2 then 0x80–0x9F, and a byte below 0x80 is never part
/// of a longer character.
pub fn has_control(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().any(|&b| b < 0x20 || b == 0x7F) || bytes.windows(2).any(|w| w[0] == 0xC2 && w[1] < 0xA0)
}

/// The pieces of `s` between each `separator`, an ASCII character: `s.split(char)` without
/// core's character searcher.
pub fn split(s: &str, separator: u8) -> Split<'_> {
    Split { rest: Some(s), separator }
}

/// The iterator of [`split`].
pub struct Split<'a> {
    rest: Option<&'a str>,
    separator: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == self.separator) {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// `s` without the whitespace (`char::is_whitespace`, Unicode's) it starts and ends with:
/// `str::trim` in one forward pass, without core's pattern code and backward char decoding.
pub fn trim(s: &str) -> &str {
    let (mut start, mut end) = (None, 0);
    for (i, c) in s.char_indices() {
        if !c.is_whitespace() {
            start.get_or_insert(i);
            end = i + c.len_utf8();
        }
    }
    &s[start.unwrap_or(0)..end]
}

/// The words of `s`, the pieces between runs of whitespace: `s.split_whitespace()` collected,
/// without core's `SplitWhitespace`.
pub fn words(s: &str) -> Vec<&str> {
    let (mut words, mut start) = (Vec::new(), None);
    for (i, c) in s.char_indices() {
        if !c.is_whitespace() {
            start.get_or_insert(i);
        } else if let Some(word) = start.take() {
            words.push(&s[word..i]);
        }
    }
    if let Some(word) = start {
        words.push(&s[word..]);
    }
    words
}

/// `s` without the `c`s it starts with, an ASCII character: `s.trim_start_matches(char)`
/// without core's character pattern code.
pub fn trim_start(s: &str, c: u8) -> &str {
    let mut start = 0;
    while s.as_bytes().get(start) == Some(&c) {
        start += 1;
    }
    &s[start..]
}

/// `s` without the `c`s it ends with, an ASCII character (`s.trim_end_matches(char)`).
pub fn trim_end(s: &str, c: u8) -> &str {
    let mut end = s.len();
    while end > 0 && s.as_bytes()[end - 1] == c {
        end -= 1;
    }
    &s[..end]
}

/// What follows the last `/` of `s` (all of `s` without one): a path's last segment.
pub fn last_segment(s: &str) -> &str {
    split_last(s, b'/').map_or(s, |(_, last)| last)
}

/// `s` with every `from` replaced by `to` (`s` as it is for an empty `from`).
pub fn replace(s: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = find(rest, from).filter(|_| !from.is_empty()) {
        out.push_str(&rest[..at]);
        out.push_str(to);
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_strings_and_numbers_in_order() {
        let name = String::from("getAccessToken");
        assert_eq!(
            fill("{} did not settle within {} ms ({})", &[(&name).into(), 300u64.into(), "requestTimeout".into()]),
            "getAccessToken did not settle within 300 ms (requestTimeout)"
        );
        assert_eq!(
            fill("part {}: {} of {}", &[0u32.into(), u64::MAX.into(), 7u16.into()]),
            "part 0: 18446744073709551615 of 7"
        );
        assert_eq!(fill("no arguments", &[]), "no arguments");
        assert_eq!(fill("{} and {}", &["one".into()]), "one and {}");
        assert_eq!(fill("{ filePath, size } {}", &["x".into()]), "{ filePath, size } x");
    }

    #[test]
    fn searches_like_the_str_methods() {
        for (hay, needle) in [
            ("<a><b>x</b></a>", "</b>"),
            ("abc", "abc"),
            ("abc", "c"),
            ("ab", "abc"),
            ("", "a"),
            ("abc", ""),
            ("aaab", "aab"),
            ("größe: ä", "ä"),
            ("no such", "zz"),
        ] {
            assert_eq!(find(hay, needle), hay.find(needle), "{hay:?} / {needle:?}");
            assert_eq!(contains(hay, needle), hay.contains(needle));
            assert_eq!(split_once(hay, needle), hay.split_once(needle));
            assert_eq!(
                replace(hay, needle, "*"),
                if needle.is_empty() { hay.into() } else { hay.replace(needle, "*") }
            );
        }
        for s in ["a/b/c", "/c", "c", "a/", "", "ä/ö", "//", "a//b/", "//ä//"] {
            assert_eq!(split(s, b'/').collect::<Vec<_>>(), s.split('/').collect::<Vec<_>>(), "{s:?}");
            assert_eq!(split_last(s, b'/'), s.rsplit_once('/'), "{s:?}");
            assert_eq!(last_segment(s), s.rsplit('/').next().unwrap(), "{s:?}");
            assert_eq!(trim_start(s, b'/'), s.trim_start_matches('/'), "{s:?}");
            assert_eq!(trim_end(s, b'/'), s.trim_end_matches('/'), "{s:?}");
        }
        assert_eq!(replace("x TOKEN y TOKENTOKEN", "TOKEN", "***"), "x *** y ******");
    }

    #[test]
    fn trims_and_splits_words_as_str_does() {
        // Every whitespace character (and a few that are not) at either end, inside, alone.
        let spaces: Vec<char> = (0..=0x3000u32).filter_map(char::from_u32).filter(|c| c.is_whitespace()).collect();
        assert_eq!(spaces.len(), 25);
        for ws in spaces.iter().map(char::to_string).chain(["".into(), "\u{200b}".into(), "\u{feff}".into()]) {
            for s in ["", "a", "a b", "中文", "x\u{85}y", "\u{a0}"] {
                for t in [
                    s.to_string(),
                    [&ws, s].concat(),
                    [s, &ws].concat(),
                    [&ws, &ws, s, &ws].concat(),
                    [&ws, s, &ws, s, &ws].concat(),
                ] {
                    assert_eq!(trim(&t), t.trim(), "{t:?}");
                    assert_eq!(words(&t), t.split_whitespace().collect::<Vec<_>>(), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn control_characters_as_char_says() {
        for s in ["", "plain", "a\nb", "\u{7f}", "\u{80}x", "x\u{9f}", "\u{a0}", "中文\u{85}", "é ü", "\u{1}"] {
            assert_eq!(has_control(s), s.chars().any(char::is_control), "{s:?}");
        }
    }

    #[test]
    fn joins_like_the_slice_methods() {
        assert_eq!(concat(&["up:", "", "ab", "ä"]), ["up:", "", "ab", "ä"].concat());
        assert_eq!(concat(&[]), "");
        let segments = vec![String::from("a"), String::new(), String::from("c")];
        assert_eq!(join(&segments, "/"), segments.join("/"));
        assert_eq!(join(&["one"], ", "), "one");
        assert_eq!(join::<&str>(&[], ", "), "");
    }
}
