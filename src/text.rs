//! Messages and small strings built without `core::fmt`.
//!
//! `format!` links the formatting machinery (`fmt::Arguments`, `Formatter`, per-type `Display`
//! code) into the wasm, and every call site builds an argument table for it. [`fill`] does what
//! the SDK needs — strings and decimal integers into a template — with one small function, and
//! the browser package is smaller without `format!` (xtask/src/size.rs measures it).

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
}
