//! wasm-bindgen's closure shims that nothing can call, given an `unreachable` body.
//!
//! Each `#[wasm_bindgen]` import with a closure argument (js-sys's `Array::every`,
//! `Array::find`, …) has a describe function, and the linker keeps every one of them (the
//! crates export them), used or not. A describe puts the `invoke` shim of its closure type into
//! the function table: the shim JS calls to run a Rust closure of that type. wasm-bindgen reads
//! the describes, deletes them and exports the shims of the closure types the program passes to
//! JS (`wasm_bindgen__convert__closures_____invoke__h…`, named after the function); the others
//! stay in the table, where wasm-opt must keep them whole (a `call_indirect` could reach any
//! entry), although nothing reaches them: only a describe ever held their table index, and JS
//! calls shims through the exports. [`stub_uncalled`] empties those: about 1.6 KB of wasm,
//! 0.45 KB gzip, per entry.
//!
//! The shims are found by the name wasm-bindgen gives them (its output keeps the name section);
//! a module whose shims or exports are not named as expected is left alone, and an exported
//! shim whose function is not found fails the build rather than guess.

use std::fs;
use std::path::Path;

use crate::util::Result;
use crate::wasm_names::{write_leb, Reader};

/// The name wasm-bindgen (demangled) gives an `invoke` shim, before its hash (`h` + 16 hex).
const SHIM: &str = "wasm_bindgen::convert::closures::_::invoke::";
/// The name it exports a shim under, before the same hash.
const EXPORTED: &str = "wasm_bindgen__convert__closures_____invoke__";
/// A function body of no locals that traps: `unreachable`, `end`.
const STUB: &[u8] = &[0x00, 0x00, 0x0b];

/// `wasm` with the bodies of the `invoke` shims it does not export replaced by [`STUB`], and
/// how many were.
pub(crate) fn stub_uncalled(wasm: &[u8]) -> Result<(Vec<u8>, usize)> {
    let sections = sections(wasm)?;
    let mut imported_functions = 0u64;
    let mut exported = Vec::new();
    let mut names = Vec::new();
    for (id, payload) in &sections {
        match id {
            2 => imported_functions = count_imported_functions(payload)?,
            7 => exported = exported_hashes(payload)?,
            0 => names.extend(function_names(payload)?),
            _ => {}
        }
    }
    let stubbed: Vec<u64> = names
        .iter()
        .filter_map(|(index, name)| Some((*index, name.strip_prefix(SHIM)?)))
        .filter(|(_, hash)| is_hash(hash) && !exported.iter().any(|e| e == hash))
        .map(|(index, _)| index)
        .collect();
    for hash in &exported {
        if !names.iter().any(|(_, name)| name.strip_prefix(SHIM) == Some(hash.as_str())) {
            return Err(format!(
                "the wasm exports the closure shim {EXPORTED}{hash} but names no function {SHIM}{hash}"
            ));
        }
    }
    let mut out = wasm[..8].to_vec();
    let mut count = 0;
    for (id, payload) in sections {
        let payload = if id == 10 {
            let (code, n) = stub_bodies(payload, imported_functions, &stubbed)?;
            count = n;
            code
        } else {
            payload.to_vec()
        };
        out.push(id);
        write_leb(&mut out, payload.len() as u64);
        out.extend_from_slice(&payload);
    }
    Ok((out, count))
}

/// [`stub_uncalled`] of the file `wasm`, in place; prints what it did.
pub(crate) fn stub_uncalled_file(wasm: &Path) -> Result<()> {
    let bytes = fs::read(wasm).map_err(|e| format!("read {}: {e}", wasm.display()))?;
    let (out, count) = stub_uncalled(&bytes).map_err(|e| format!("{}: {e}", wasm.display()))?;
    fs::write(wasm, &out).map_err(|e| format!("write {}: {e}", wasm.display()))?;
    println!(
        "pkg: {}: {count} closure shim(s) no one calls stubbed; {} → {} B",
        wasm.file_name().unwrap_or_default().to_string_lossy(),
        bytes.len(),
        out.len()
    );
    Ok(())
}

/// The sections of `wasm`: `(id, payload)`.
fn sections(wasm: &[u8]) -> Result<Vec<(u8, &[u8])>> {
    const HEADER: &[u8] = b"\0asm\x01\0\0\0";
    if !wasm.starts_with(HEADER) {
        return Err("not a wasm module (version 1)".into());
    }
    let mut r = Reader { bytes: wasm, at: HEADER.len() };
    let mut sections = Vec::new();
    while r.at < wasm.len() {
        let id = r.byte()?;
        let size = r.leb()? as usize;
        sections.push((id, r.take(size)?));
    }
    Ok(sections)
}

fn is_hash(s: &str) -> bool {
    s.len() == 17 && s.starts_with('h') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn count_imported_functions(section: &[u8]) -> Result<u64> {
    let mut r = Reader { bytes: section, at: 0 };
    let mut functions = 0;
    for _ in 0..r.leb()? {
        r.name()?;
        r.name()?;
        match r.byte()? {
            0 => {
                r.leb()?;
                functions += 1;
            }
            kind => return Err(format!("the wasm imports something of kind {kind}; only functions are expected")),
        }
    }
    r.end("import")?;
    Ok(functions)
}

/// The hashes of the closure shims among the exports.
fn exported_hashes(section: &[u8]) -> Result<Vec<String>> {
    let mut r = Reader { bytes: section, at: 0 };
    let mut hashes = Vec::new();
    for _ in 0..r.leb()? {
        let name = r.name()?;
        r.byte()?;
        r.leb()?;
        if let Some(hash) = name.strip_prefix(EXPORTED).filter(|hash| is_hash(hash)) {
            hashes.push(hash.to_string());
        }
    }
    r.end("export")?;
    Ok(hashes)
}

/// The function names of a custom section, if it is the `name` section: `(index, name)`.
fn function_names(section: &[u8]) -> Result<Vec<(u64, String)>> {
    let mut r = Reader { bytes: section, at: 0 };
    if r.name()? != "name" {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    while r.at < section.len() {
        let id = r.byte()?;
        let size = r.leb()? as usize;
        let sub = r.take(size)?;
        if id != 1 {
            continue;
        }
        let mut s = Reader { bytes: sub, at: 0 };
        for _ in 0..s.leb()? {
            let index = s.leb()?;
            names.push((index, s.name()?));
        }
        s.end("name")?;
    }
    Ok(names)
}

/// The code section with the bodies of the functions `stubbed` (absolute indices, after the
/// `imported` ones) replaced by [`STUB`]; and how many were.
fn stub_bodies(section: &[u8], imported: u64, stubbed: &[u64]) -> Result<(Vec<u8>, usize)> {
    let mut r = Reader { bytes: section, at: 0 };
    let count = r.leb()?;
    let mut out = Vec::with_capacity(section.len());
    write_leb(&mut out, count);
    let mut n = 0;
    for i in 0..count {
        let size = r.leb()? as usize;
        let body = r.take(size)?;
        let body = if stubbed.contains(&(imported + i)) {
            n += 1;
            STUB
        } else {
            body
        };
        write_leb(&mut out, body.len() as u64);
        out.extend_from_slice(body);
    }
    r.end("code")?;
    Ok((out, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module of two imported and three defined functions (bodies `nop`), the second and third
    /// defined ones named as closure shims, the third exported as one.
    fn module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        let section = |m: &mut Vec<u8>, id: u8, payload: &[u8]| {
            m.push(id);
            write_leb(m, payload.len() as u64);
            m.extend_from_slice(payload);
        };
        let name = |out: &mut Vec<u8>, s: &str| {
            write_leb(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        };
        section(&mut m, 1, &[1, 0x60, 0, 0]);
        let mut imports = vec![2];
        for f in ["a", "b"] {
            name(&mut imports, "m");
            name(&mut imports, f);
            imports.extend([0, 0]);
        }
        section(&mut m, 2, &imports);
        section(&mut m, 3, &[3, 0, 0, 0]);
        let (unused, used) = ("h0123456789abcdef", "hfedcba9876543210");
        let mut exports = vec![1];
        name(&mut exports, &format!("{EXPORTED}{used}"));
        exports.extend([0, 4]);
        section(&mut m, 7, &exports);
        section(&mut m, 10, &[3, 3, 0, 0x01, 0x0b, 3, 0, 0x01, 0x0b, 3, 0, 0x01, 0x0b]);
        let mut names = Vec::new();
        name(&mut names, "name");
        let mut sub = vec![3];
        for (i, n) in [(2, "f".to_string()), (3, format!("{SHIM}{unused}")), (4, format!("{SHIM}{used}"))] {
            sub.push(i);
            name(&mut sub, &n);
        }
        names.push(1);
        write_leb(&mut names, sub.len() as u64);
        names.extend(sub);
        section(&mut m, 0, &names);
        m
    }

    #[test]
    fn only_the_shims_not_exported_are_stubbed() {
        let wasm = module();
        let (out, n) = stub_uncalled(&wasm).unwrap();
        assert_eq!(n, 1);
        let code: Vec<(u8, Vec<u8>)> = sections(&out).unwrap().into_iter().map(|(id, p)| (id, p.to_vec())).collect();
        let (_, code) = code.iter().find(|(id, _)| *id == 10).unwrap();
        assert_eq!(code, &[3, 3, 0, 0x01, 0x0b, 3, 0, 0x00, 0x0b, 3, 0, 0x01, 0x0b]);
        // Everything else is as it was.
        let rest = |m: &[u8]| {
            sections(m)
                .unwrap()
                .into_iter()
                .filter(|(id, _)| *id != 10)
                .map(|(id, p)| (id, p.to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(rest(&out), rest(&wasm));
    }

    #[test]
    fn an_exported_shim_without_its_function_fails() {
        let mut wasm = module();
        let at = wasm.windows(17).rposition(|w| w == b"hfedcba9876543210").unwrap();
        wasm[at + 16] = b'1';
        assert!(stub_uncalled(&wasm).is_err());
    }
}
