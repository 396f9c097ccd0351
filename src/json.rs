//! JSON for SMH request and reply bodies and checkpoint records: a small reader with limits and
//! a writer.
//!
//! Why not `serde_json`: the browser package has a size budget (`size-budget.json`), and
//! `serde_json` with serde's derives was the largest single part of the wasm (its generic
//! deserializers, float parsing and float printing). The SDK reads a handful of small, flat
//! replies, so a tree reader is enough.
//!
//! The reader is strict (RFC 8259) and bounded: input of at most [`MAX_INPUT`] bytes, nesting
//! of at most [`MAX_DEPTH`] arrays/objects, valid UTF-8, no lone surrogates. Any other input is
//! a [`ParseError`] with a fixed reason and a byte offset — never a panic, and never a piece of
//! the input (replies may echo tokens). Numbers are kept as their text ([`Number`]): a CRC-64
//! above 2^53 stays exact, and no float parsing or printing is compiled in.
//!
//! In a page, the reader is the browser's `JSON.parse` (src/platform/browser/adapters.js), which
//! hands over the value flattened into one string that [`parse`] rebuilds: the same limits and
//! numbers as their text, but lone surrogates become U+FFFD and a refusal says neither why nor
//! where. The package is smaller by it (`cargo xtask test --only pkg` prints the sizes). The
//! mini-program's wasm (whose logic layer runs no snippets) and native code read with the reader
//! below.

/// Largest input [`parse`] reads. SMH's biggest reply an upload meets is a task query listing
/// up to 10 000 parts (≈ 1.5 MB).
pub const MAX_INPUT: usize = 16 << 20;
/// Deepest nesting of arrays and objects [`parse`] accepts (SMH replies nest 3 levels).
pub const MAX_DEPTH: usize = 64;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    /// Members in the order written; [`Value::get`] finds the last of duplicate names, as
    /// `JSON.parse` does.
    Object(Vec<(String, Value)>),
}

/// A JSON number, as the text it was written with (grammar-checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The text, e.g. `12`, `-1.5e3`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why [`parse`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong, e.g. `"unexpected character"`.
    pub reason: &'static str,
    /// Byte offset in the input where it was found; `None` where the reader does not tell (a
    /// page's `JSON.parse`).
    pub offset: Option<usize>,
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else).
pub fn parse(input: &[u8]) -> Result<Value, ParseError> {
    if input.len() > MAX_INPUT {
        return Err(ParseError { reason: "input too large", offset: Some(MAX_INPUT) });
    }
    read(input)
}

/// [`parse`] in a page: `JSON.parse`'s value, rebuilt from its flat form.
#[cfg(all(target_arch = "wasm32", not(feature = "miniprogram")))]
fn read(input: &[u8]) -> Result<Value, ParseError> {
    let flat = crate::platform::browser::json::parse_flat(input);
    let refused = ParseError { reason: "not UTF-8 JSON, or nested too deeply", offset: None };
    flat.and_then(|flat| unflatten(&mut flat.as_str())).ok_or(refused)
}

/// The value at the start of `flat`, in src/platform/browser/adapters.js's flat form, which it
/// consumes (`None` if it is not one, which that code never writes).
#[cfg(all(target_arch = "wasm32", not(feature = "miniprogram")))]
fn unflatten(flat: &mut &str) -> Option<Value> {
    // A byte scan: `find(';')` would link core's character searcher.
    let bytes = flat.as_bytes();
    let mut end = 1;
    while *bytes.get(end)? != b';' {
        end += 1;
    }
    let (tag, head) = (bytes[0], flat.get(1..end)?);
    *flat = &flat[end + 1..];
    // A string's length, or an array's or object's count (read once; unused for the others).
    let count = parse_u64(head).map(|n| n as usize);
    Some(match tag {
        b'n' => Value::Null,
        b't' => Value::Bool(true),
        b'f' => Value::Bool(false),
        b'#' => Value::Number(Number(head.to_string())),
        b'"' => {
            let text = flat.get(..count?)?;
            *flat = &flat[text.len()..];
            Value::String(text.to_string())
        }
        b'[' => {
            let mut items = Vec::new();
            for _ in 0..count? {
                items.push(unflatten(flat)?);
            }
            Value::Array(items)
        }
        b'{' => {
            let mut members = Vec::new();
            for _ in 0..count? {
                let Value::String(name) = unflatten(flat)? else { return None };
                members.push((name, unflatten(flat)?));
            }
            Value::Object(members)
        }
        _ => return None,
    })
}

/// [`parse`] natively and in the mini-program.
#[cfg(any(not(target_arch = "wasm32"), feature = "miniprogram"))]
fn read(input: &[u8]) -> Result<Value, ParseError> {
    let text = core::str::from_utf8(input)
        .map_err(|e| ParseError { reason: "invalid UTF-8", offset: Some(e.valid_up_to()) })?;
    let mut reader = Reader { text, pos: 0, depth: 0 };
    let value = reader.value()?;
    reader.skip_whitespace();
    if reader.pos != text.len() {
        return Err(reader.error("trailing characters"));
    }
    Ok(value)
}

#[cfg(any(not(target_arch = "wasm32"), feature = "miniprogram"))]
struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

#[cfg(any(not(target_arch = "wasm32"), feature = "miniprogram"))]
impl Reader<'_> {
    fn error(&self, reason: &'static str) -> ParseError {
        ParseError { reason, offset: Some(self.pos) }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after whitespace) or fails with `reason`.
    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), ParseError> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(self.error(reason));
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.nested(Reader::object),
            Some(b'[') => self.nested(Reader::array),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn nested(&mut self, read: fn(&mut Self) -> Result<Value, ParseError>) -> Result<Value, ParseError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.depth += 1;
        self.pos += 1; // the opening bracket
        let value = read(self);
        self.depth -= 1;
        value
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, ParseError> {
        if !self.text.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            return Err(self.error("unexpected character"));
        }
        self.pos += word.len();
        Ok(value)
    }

    /// Consumes `close` if it comes next (after whitespace); says whether it did.
    fn closes(&mut self, close: u8) -> bool {
        self.skip_whitespace();
        let closed = self.peek() == Some(close);
        self.pos += usize::from(closed);
        closed
    }

    /// After an item: `,` (more follow: `false`) or `close` (the end: `true`).
    fn item_end(&mut self, close: u8, reason: &'static str) -> Result<bool, ParseError> {
        if self.closes(close) {
            return Ok(true);
        }
        self.expect(b',', reason).map(|()| false)
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        let mut items = Vec::new();
        if !self.closes(b']') {
            loop {
                items.push(self.value()?);
                if self.item_end(b']', "expected `,` or `]`")? {
                    break;
                }
            }
        }
        Ok(Value::Array(items))
    }

    fn object(&mut self) -> Result<Value, ParseError> {
        let mut members = Vec::new();
        if !self.closes(b'}') {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a member name"));
                }
                let name = self.string()?;
                self.expect(b':', "expected `:`")?;
                members.push((name, self.value()?));
                if self.item_end(b'}', "expected `,` or `}`")? {
                    break;
                }
            }
        }
        Ok(Value::Object(members))
    }

    /// A string, the cursor on its opening quote.
    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character. Those are all
            // ASCII, so the run ends on a character boundary of the (valid UTF-8) text.
            let bytes = self.text.as_bytes();
            let start = self.pos;
            while let Some(&b) = bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// The character of an escape, the cursor after its backslash.
    fn escape(&mut self) -> Result<char, ParseError> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by `\u` and a low one.
                        if !self.text.as_bytes()[self.pos..].starts_with(b"\\u") {
                            return Err(self.error("lone surrogate"));
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error("lone surrogate"));
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone surrogate")),
                    _ => unit,
                };
                return char::from_u32(code).ok_or_else(|| self.error("lone surrogate"));
            }
            _ => return Err(self.error("invalid escape")),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error("invalid \\u escape")),
            };
            unit = unit * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        Ok(Value::Number(Number(self.text[start..self.pos].to_string())))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), ParseError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("invalid number"));
        }
        self.digits();
        Ok(())
    }
}

/// Reads `text` as a whole non-negative decimal integer (`0`…`18446744073709551615`, no sign,
/// no leading `+`, no fraction); `None` for anything else, overflow included.
pub fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for b in text.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// The decimal text of `n` (without `core::fmt`).
pub fn u64_to_string(n: u64) -> String {
    let mut out = String::new();
    push_u64(&mut out, n);
    out
}

pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

impl Value {
    /// The member `name` of an object (the last one if repeated); `None` for other values.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string member `name`.
    pub fn str_at(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_str()
    }

    /// The member `name` if it is a [`Value::as_u64`] integer.
    pub fn u64_at(&self, name: &str) -> Option<u64> {
        self.get(name)?.as_u64()
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// A number that is a whole non-negative integer fitting `u64` (`12`, not `12.0`, `-1` or
    /// `1e3`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => parse_u64(&n.0),
            _ => None,
        }
    }

    /// [`Value::as_u64`], or a string holding such an integer: SMH sends sizes and CRCs as
    /// strings in some replies and as numbers in others.
    pub fn to_u64(&self) -> Option<u64> {
        match self {
            Value::String(s) => parse_u64(s),
            other => other.as_u64(),
        }
    }

    /// An object from `(name, value)` pairs.
    pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
        Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The compact JSON text of this value.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => out.push_str(&n.0),
            Value::String(s) => write_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, name);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Compact JSON text written piece by piece, without building a [`Value`] first: the same text
/// [`Value::to_json`] gives. Each piece is one call, not a tree of values to build and drop,
/// which keeps the wasm small (`size-budget.json`).
pub struct Writer {
    out: String,
    /// Whether the next value is the first of its array or object, or a member's value: no `,`.
    first: bool,
}

impl Default for Writer {
    fn default() -> Writer {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer { out: String::new(), first: true }
    }

    /// The separator a value needs here; `out` to write it to.
    fn next(&mut self) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        &mut self.out
    }

    /// Starts an object (`{`) or an array (`[`).
    pub fn open(&mut self, bracket: char) -> &mut Writer {
        self.next().push(bracket);
        self.first = true;
        self
    }

    /// Ends the innermost object (`}`) or array (`]`).
    pub fn close(&mut self, bracket: char) -> &mut Writer {
        self.out.push(bracket);
        self.first = false;
        self
    }

    /// A member's name; its value is written next.
    pub fn key(&mut self, name: &str) -> &mut Writer {
        write_string(self.next(), name);
        self.out.push(':');
        self.first = true;
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Writer {
        write_string(self.next(), s);
        self
    }

    pub fn u64(&mut self, n: u64) -> &mut Writer {
        push_u64(self.next(), n);
        self
    }

    pub fn value(&mut self, v: &Value) -> &mut Writer {
        v.write(self.next());
        self
    }

    /// The member `name`: `s`.
    pub fn str_member(&mut self, name: &str, s: &str) -> &mut Writer {
        self.key(name).str(s)
    }

    /// The member `name`: `n`.
    pub fn u64_member(&mut self, name: &str, n: u64) -> &mut Writer {
        self.key(name).u64(n)
    }

    /// The text written.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

/// `s` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\t`, … or `\u00XX`;
/// everything else (non-ASCII included) written as is.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(HEX[(c as usize) >> 4]));
                out.push(char::from(HEX[(c as usize) & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(Number(u64_to_string(n)))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Value {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    fn err(text: &[u8]) -> ParseError {
        match parse(text) {
            Err(e) => e,
            Ok(v) => panic!("{:?} parsed as {v:?}", String::from_utf8_lossy(text)),
        }
    }

    #[test]
    fn reads_documents() {
        let v = ok(r#" {"a": [1, -2.5e+3, true, false, null], "b": {"c": "d"}, "e": ""} "#);
        assert_eq!(v.get("a").and_then(Value::as_array).map(<[Value]>::len), Some(5));
        assert_eq!(v.get("a").unwrap().as_array().unwrap()[1], Value::Number(Number("-2.5e+3".into())));
        assert_eq!(v.get("b").and_then(|b| b.get("c")).and_then(Value::as_str), Some("d"));
        assert_eq!(v.get("e").and_then(Value::as_str), Some(""));
        assert_eq!(ok("[]"), Value::Array(vec![]));
        assert_eq!(ok("{}"), Value::Object(vec![]));
        assert_eq!(ok("0"), Value::Number(Number("0".into())));
        assert_eq!(ok(r#"{"k": 1, "k": 2}"#).get("k").and_then(Value::as_u64), Some(2), "the last duplicate wins");
    }

    #[test]
    fn string_escapes_and_surrogates() {
        assert_eq!(ok(r#""a\"b\\c\/d\b\f\n\r\t""#).as_str(), Some("a\"b\\c/d\u{8}\u{c}\n\r\t"));
        assert_eq!(ok(r#""\u00e9\u4E2D""#).as_str(), Some("é中"));
        assert_eq!(ok(r#""\ud83d\ude00""#).as_str(), Some("😀"));
        assert_eq!(ok("\"é中😀\"").as_str(), Some("é中😀"));
        for bad in
            [r#""\ud83d""#, r#""\ud83dx""#, r#""\ud83d\u0041""#, r#""\ude00""#, r#""\u12""#, r#""\u12g4""#, r#""\x""#]
        {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(err(b"\"a\nb\"").reason, "control character in a string");
        assert_eq!(err(b"\"abc").reason, "unterminated string");
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in include!("../tests/support/not_json.rs") {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(err(b"\"\xff\"").reason, "invalid UTF-8");
        assert_eq!(err(b"{\"a\": 1} x").offset, Some(9));
    }

    #[test]
    fn depth_and_size_limits() {
        let deep_ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(deep_ok.as_bytes()).is_ok());
        let too_deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(err(too_deep.as_bytes()).reason, "nested too deeply");
        // Far deeper than any stack could recurse: refused at the limit, no overflow.
        assert_eq!(err("[{\"a\":".repeat(100_000).as_bytes()).reason, "nested too deeply");
        assert_eq!(err(&vec![b' '; MAX_INPUT + 1]).reason, "input too large");
    }

    #[test]
    fn integers() {
        assert_eq!(ok("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(ok("18446744073709551616").as_u64(), None);
        assert_eq!(ok("\"14969823782951187105\"").to_u64(), Some(14_969_823_782_951_187_105));
        for not in ["-1", "1.0", "1e3", "\"\"", "\" 1\"", "\"+1\"", "\"-0\"", "true", "null"] {
            assert_eq!(ok(not).to_u64(), None, "{not}");
        }
        assert_eq!(u64_to_string(0), "0");
        assert_eq!(u64_to_string(u64::MAX), "18446744073709551615");
        assert_eq!(u64_to_string(1_000), "1000");
    }

    #[test]
    fn writes_what_it_reads() {
        let v = Value::object([
            ("s", Value::from("q\"b\\n\n\u{1}é😀")),
            ("n", Value::from(12u64)),
            ("none", Value::from(None::<String>)),
            ("list", Value::Array(vec![Value::from(true), Value::object([])])),
        ]);
        let text = v.to_json();
        assert_eq!(text, r#"{"s":"q\"b\\n\n\u0001é😀","n":12,"none":null,"list":[true,{}]}"#);
        assert_eq!(parse(text.as_bytes()), Ok(v));
    }

    #[test]
    fn writer_writes_what_values_write() {
        let info = Value::object([("a", Value::Array(vec![Value::Null, Value::object([])]))]);
        let mut w = Writer::new();
        w.open('[').open('{').close('}').open('[').close(']');
        w.open('{').str_member("s\"\n", "q\"\u{1}é").u64_member("n", u64::MAX).key("info").value(&info);
        w.key("list").open('[').u64(0).str("").value(&Value::Bool(false)).close(']').close('}').close(']');
        let expected = Value::Array(vec![
            Value::object([]),
            Value::Array(vec![]),
            Value::object([
                ("s\"\n", Value::from("q\"\u{1}é")),
                ("n", Value::from(u64::MAX)),
                ("info", info.clone()),
                ("list", Value::Array(vec![Value::from(0u64), Value::from(""), Value::from(false)])),
            ]),
        ]);
        let text = w.finish();
        assert_eq!(text, expected.to_json());
        assert_eq!(
            text,
            r#"[{},[],{"s\"\n":"q\"\u0001é","n":18446744073709551615,"info":{"a":[null,{}]},"list":[0,"",false]}]"#
        );
    }
}
