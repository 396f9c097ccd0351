//! Short names on the boundary between a browser entry's wasm and its JS glue.
//!
//! wasm-bindgen names each import of the wasm after its JS function plus a 16-hex-digit hash
//! (`__wbg_now_463ac581d2fc7ea3`) and exports the closure shims under mangled Rust paths; every
//! such name is spelled out twice, in the wasm's import or export section and in the glue, and
//! the hashes do not compress. [`minify`] renames them in the wasm to one or two characters and
//! [`rename_in_glue`] / [`rename_in_dts`] make the same renaming in the glue and its `.d.ts`.
//!
//! The renaming is done here rather than with binaryen's `--minify-imports-and-exports`: that
//! pass renames every export, with no way to keep one, and the upload Worker
//! (pkg-template/smh_upload_worker.js) instantiates the same module without the glue and looks
//! up `memory` and the `smh_worker_*` kernels by name ([`kept_export`]); its imports it stubs by
//! whatever names `WebAssembly.Module.imports` lists, so those may all change.
//!
//! Only the two sections are rewritten (everything else is copied byte for byte), and the glue
//! is edited only where the names are known to stand; any name of the wasm the glue does not
//! spell exactly as expected fails the build rather than leave a page with an import it cannot
//! satisfy.

use std::fs;
use std::path::Path;

use crate::util::Result;

/// An export the renaming leaves alone in every build: JS outside the glue reads it by name.
/// The upload Worker reads `memory` and the `smh_worker_*` kernels (src/bindings/worker.rs); the
/// bench does too (bench/upload/bench.js); adapters.js (inlined into the glue, but not where the
/// glue's own names stand) calls `smh_poll_task`, `smh_settle` (src/platform/browser/spawn.rs), `smh_progress` (xhr.rs) and, in pages
/// without the Worker, the kernels. `__wbindgen_malloc` stays for tests/e2e/panic.test.mjs, whose
/// trap is a real abort inside Rust (an allocation larger than the address space) reached
/// through the `init()` result.
fn kept_export(name: &str) -> bool {
    name == "memory"
        || name == "__wbindgen_malloc"
        || name == "smh_poll_task"
        || name == "smh_settle"
        || name == "smh_progress"
        || name.starts_with("smh_worker_")
}

/// How [`minify`] renames, for one kind of glue.
pub(crate) struct Plan<'a> {
    /// The module the wasm imports the glue's own functions from: the imports renamed are its.
    pub glue_module: &'a str,
    /// Whether the import module names are shortened too (the web glue builds its import object
    /// itself; the mini-program's index.js names the module).
    pub modules: bool,
    /// What every new import name starts with.
    pub import_prefix: &'a str,
    /// Exports kept besides the [`kept_export`]s.
    pub keep: &'a [&'a str],
}

impl Plan<'_> {
    /// wasm-bindgen's web glue, whose wasm imports from `glue_module`.
    pub(crate) fn web(glue_module: &str) -> Plan<'_> {
        Plan { glue_module, modules: true, import_prefix: "", keep: &[] }
    }

    fn kept(&self, export: &str) -> bool {
        kept_export(export) || self.keep.contains(&export)
    }
}

/// What [`minify`] renamed: `(old, new)` pairs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Renamed {
    /// Import module names (wasm-bindgen's web glue has one: `./{stem}_bg.js`).
    pub modules: Vec<(String, String)>,
    /// Names of the imports from the glue's own module.
    pub imports: Vec<(String, String)>,
    /// Export names, the kept ones left out.
    pub exports: Vec<(String, String)>,
}

/// `wasm` with short names as `plan` says: of the imports from `plan.glue_module`, of the
/// exports but the kept ones, and of the import modules if `plan.modules`; and what was
/// renamed. The imports from other modules keep
/// their names: wasm-bindgen imports a snippet's function straight from the snippet's module
/// (`import * as import1 from "./snippets/…"` in the glue) when it needs no shim, and there the
/// name is the snippet's. Fails on a module that is not well formed or that imports anything
/// but functions (the glue supplies functions only, and so does the Worker).
pub(crate) fn minify(wasm: &[u8], plan: &Plan) -> Result<(Vec<u8>, Renamed)> {
    const HEADER: &[u8] = b"\0asm\x01\0\0\0";
    if !wasm.starts_with(HEADER) {
        return Err("not a wasm module (version 1)".into());
    }
    let mut out = HEADER.to_vec();
    let mut renamed = Renamed::default();
    let mut at = Reader { bytes: wasm, at: HEADER.len() };
    while at.at < wasm.len() {
        let id = at.byte()?;
        let size = at.leb()? as usize;
        let payload = at.take(size)?;
        let payload = match id {
            2 => rename_imports(payload, plan, &mut renamed)?,
            7 => rename_exports(payload, plan, &mut renamed)?,
            _ => payload.to_vec(),
        };
        out.push(id);
        write_leb(&mut out, payload.len() as u64);
        out.extend_from_slice(&payload);
    }
    Ok((out, renamed))
}

/// [`minify`] of the file `wasm`, in place; prints what it did.
pub(crate) fn minify_file(wasm: &Path, plan: &Plan) -> Result<Renamed> {
    let bytes = fs::read(wasm).map_err(|e| format!("read {}: {e}", wasm.display()))?;
    let (small, renamed) = minify(&bytes, plan).map_err(|e| format!("{}: {e}", wasm.display()))?;
    fs::write(wasm, &small).map_err(|e| format!("write {}: {e}", wasm.display()))?;
    println!(
        "pkg: {}: short boundary names: {} import(s), {} export(s) renamed; {} → {} B",
        wasm.file_name().unwrap_or_default().to_string_lossy(),
        renamed.imports.len(),
        renamed.exports.len(),
        bytes.len(),
        small.len()
    );
    Ok(renamed)
}

fn rename_imports(section: &[u8], plan: &Plan, renamed: &mut Renamed) -> Result<Vec<u8>> {
    let mut r = Reader { bytes: section, at: 0 };
    let count = r.leb()?;
    let mut out = Vec::with_capacity(section.len());
    write_leb(&mut out, count);
    // Per module: its name, its short name, and the short names its imports got so far.
    let mut modules: Vec<(String, String, ShortNames)> = Vec::new();
    for _ in 0..count {
        let module = r.name()?;
        let name = r.name()?;
        let kind = r.byte()?;
        if kind != 0 {
            return Err(format!("the wasm imports {module}.{name} of kind {kind}; only functions are renamed"));
        }
        let type_index = r.leb()?;
        let slot = match modules.iter().position(|(old, _, _)| *old == module) {
            Some(slot) => slot,
            None => {
                let short = ShortNames::default().nth(modules.len()).ok_or("too many import modules")?;
                modules.push((module.clone(), short, ShortNames::default()));
                if plan.modules {
                    renamed.modules.push((module.clone(), modules[modules.len() - 1].1.clone()));
                }
                modules.len() - 1
            }
        };
        let new_module = if plan.modules { modules[slot].1.clone() } else { module.clone() };
        let new_name = if module == plan.glue_module {
            let short = format!("{}{}", plan.import_prefix, modules[slot].2.next().ok_or("too many imports")?);
            renamed.imports.push((name, short.clone()));
            short
        } else {
            name
        };
        write_name(&mut out, &new_module);
        write_name(&mut out, &new_name);
        out.push(kind);
        write_leb(&mut out, type_index);
    }
    r.end("import")?;
    Ok(out)
}

fn rename_exports(section: &[u8], plan: &Plan, renamed: &mut Renamed) -> Result<Vec<u8>> {
    let mut r = Reader { bytes: section, at: 0 };
    let count = r.leb()?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let name = r.name()?;
        let kind = r.byte()?;
        let index = r.leb()?;
        entries.push((name, kind, index));
    }
    r.end("export")?;
    // A new name must not be a kept one (`memory` is no short name, but the rule is cheap).
    let kept: Vec<String> = entries.iter().map(|(name, _, _)| name).filter(|name| plan.kept(name)).cloned().collect();
    let mut shorts = ShortNames::default().filter(|short| !kept.contains(short));
    let mut out = Vec::with_capacity(section.len());
    write_leb(&mut out, count);
    for (name, kind, index) in entries {
        let new_name = if plan.kept(&name) {
            name
        } else {
            let short = shorts.next().ok_or("too many exports")?;
            renamed.exports.push((name, short.clone()));
            short
        };
        write_name(&mut out, &new_name);
        out.push(kind);
        write_leb(&mut out, index);
    }
    Ok(out)
}

/// Short JS identifiers, shortest first: `a`…`Z`, `$`, `_`, then two characters. Reserved words
/// are left out: a property may be named `in`, but nothing is gained by testing every tool that
/// reads the glue (bundlers, minifiers) on that.
#[derive(Default)]
struct ShortNames {
    n: usize,
}

impl Iterator for ShortNames {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$_";
        const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$_0123456789";
        loop {
            let n = self.n;
            self.n += 1;
            let name = if n < FIRST.len() {
                (FIRST[n] as char).to_string()
            } else {
                let n = n - FIRST.len();
                let (first, rest) = (n / REST.len(), n % REST.len());
                format!("{}{}", *FIRST.get(first)? as char, REST[rest] as char)
            };
            if !["do", "if", "in"].contains(&name.as_str()) {
                return Some(name);
            }
        }
    }
}

/// A cursor over the bytes of a wasm module or one of its sections.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or("the wasm ends early")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    /// An unsigned LEB128 number (at most 64 bits).
    pub(crate) fn leb(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a LEB128 number in the wasm is too long".into())
    }

    pub(crate) fn name(&mut self) -> Result<String> {
        let len = self.leb()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| "a name in the wasm is not UTF-8".to_string())
    }

    pub(crate) fn end(&self, section: &str) -> Result<()> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(format!("the wasm's {section} section has {} bytes after its entries", self.bytes.len() - self.at))
        }
    }
}

pub(crate) fn write_leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    write_leb(out, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

/// Byte offsets of the whole-word occurrences of `word` in `text`.
fn word_at(text: &str, word: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    text.match_indices(word)
        .map(|(at, _)| at)
        .filter(|&at| {
            let before = at.checked_sub(1).map(|b| bytes[b]);
            let after = bytes.get(at + word.len()).copied();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        })
        .collect()
}

/// wasm-bindgen's web glue `glue` (`wasm` holding the instance's exports) with the names of
/// `renamed`:
/// - an import module is the key `"{old}":` of the object `__wbg_get_imports` returns: once in
///   the glue (which may name it elsewhere: a snippet's `import` statement), or once per function
///   the wasm imports from a snippet directly (wasm-bindgen gives each a namespace import
///   `importN` of its own, of the same module): the first is renamed, the others' lines dropped;
/// - an import is the key `{old}:` of that module's object (web glue) or the function `export
///   function {old}(` (bundler glue, whose exports the wasm imports): its name exactly once in
///   the glue, in one of these two forms;
/// - an export is read as `wasm.{old}`: every such read is renamed, and afterwards no `.{old}`,
///   `"{old}"` or `'{old}'` may be left (an export read some other way).
///
/// The glue may read an export not at all (wasm-bindgen's `__abort_handler`, say).
pub(crate) fn rename_in_glue(glue: &str, renamed: &Renamed) -> Result<String> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (old, new) in &renamed.modules {
        let key = format!("\"{old}\"");
        let found: Vec<usize> = glue
            .match_indices(&key)
            .map(|(at, _)| at)
            .filter(|at| glue[at + key.len()..].trim_start().starts_with(':'))
            .collect();
        let Some((&first, more)) = found.split_first() else {
            return Err(format!("the glue has the import module {key} as a key 0 times"));
        };
        edits.push((first, key.len(), format!("\"{new}\"")));
        for &at in more {
            let line = glue[at..].split_inclusive('\n').next().unwrap_or_default();
            let value = line[key.len()..].trim().trim_start_matches(':').trim_start().trim_end_matches(',');
            if !(value.starts_with("import") && value[6..].bytes().all(|b| b.is_ascii_digit())) {
                return Err(format!(
                    "the glue has the import module {key} as a key more than once, not each for an importN"
                ));
            }
            edits.push((at, line.len(), String::new()));
        }
    }
    for (old, new) in &renamed.imports {
        let found = word_at(glue, old);
        let [at] = found[..] else {
            return Err(format!("the glue names the wasm's import {old} {} times, not once", found.len()));
        };
        let key = glue[at + old.len()..].trim_start().starts_with(':');
        let function = glue[..at].ends_with("export function ") && glue[at + old.len()..].starts_with('(');
        if !(key || function) {
            return Err(format!("the glue names the wasm's import {old} other than as a key or an exported function"));
        }
        edits.push((at, old.len(), new.clone()));
    }
    for at in word_at(glue, "wasm") {
        let start = at + "wasm".len();
        if glue.as_bytes().get(start) != Some(&b'.') {
            continue;
        }
        let name_end = glue[start + 1..].bytes().position(|c| !is_ident(c)).map_or(glue.len(), |len| start + 1 + len);
        let name = &glue[start + 1..name_end];
        if let Some((_, new)) = renamed.exports.iter().find(|(old, _)| old == name) {
            edits.push((start + 1, name.len(), new.clone()));
        }
    }
    let text = apply(glue, edits);
    for (old, _) in &renamed.exports {
        let bytes = text.as_bytes();
        for at in word_at(&text, old) {
            let before = at.checked_sub(1).map(|b| bytes[b]);
            let after = bytes.get(at + old.len()).copied();
            if before == Some(b'.') || (matches!(before, Some(b'"' | b'\'')) && before == after) {
                return Err(format!("the glue reads the wasm's export {old} other than as `wasm.{old}`"));
            }
        }
    }
    Ok(text)
}

/// The `.d.ts` with the renamed exports' members of `InitOutput` (what `init()` resolves with)
/// renamed, so that it keeps describing the object the page gets.
pub(crate) fn rename_in_dts(dts: &str, renamed: &Renamed) -> Result<String> {
    let mut edits = Vec::new();
    let Some(start) = dts.find("export interface InitOutput {") else {
        return Err("the .d.ts declares no InitOutput".into());
    };
    let end = dts[start..].find("\n}").map(|end| start + end).ok_or("InitOutput does not end")?;
    let mut line_start = start;
    for line in dts[start..end].split_inclusive('\n') {
        let member = line.trim_start();
        if let Some(rest) = member.strip_prefix("readonly ") {
            let name = rest.split(|c: char| !is_ident(c as u8) || !c.is_ascii()).next().unwrap_or_default();
            if let Some((_, new)) = renamed.exports.iter().find(|(old, _)| old == name) {
                let at = line_start + (line.len() - member.len()) + "readonly ".len();
                edits.push((at, name.len(), new.clone()));
            }
        }
        line_start += line.len();
    }
    Ok(apply(dts, edits))
}

/// `text` with each `(at, len, with)` edit made (the edits do not overlap).
fn apply(text: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    edits.sort_by_key(|(at, _, _)| *at);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, len, with) in edits {
        out.push_str(&text[copied..at]);
        out.push_str(&with);
        copied = at + len;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `imports` ((module, name) functions of type 0) and exporting `exports`
    /// (functions 0, 1, …; `memory` as memory 0), with a custom section between to show other
    /// sections pass through.
    fn module(imports: &[(&str, &str)], exports: &[&str]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        let section = |wasm: &mut Vec<u8>, id: u8, payload: Vec<u8>| {
            wasm.push(id);
            write_leb(wasm, payload.len() as u64);
            wasm.extend(payload);
        };
        section(&mut wasm, 1, vec![1, 0x60, 0, 0]); // type 0: [] -> []
        let mut payload = Vec::new();
        write_leb(&mut payload, imports.len() as u64);
        for (module, name) in imports {
            write_name(&mut payload, module);
            write_name(&mut payload, name);
            payload.extend([0, 0]);
        }
        section(&mut wasm, 2, payload);
        let mut custom = Vec::new();
        write_name(&mut custom, "note");
        custom.extend(b"kept as is");
        section(&mut wasm, 0, custom);
        let mut payload = Vec::new();
        write_leb(&mut payload, exports.len() as u64);
        for (i, name) in exports.iter().enumerate() {
            write_name(&mut payload, name);
            payload.push(if *name == "memory" { 2 } else { 0 });
            write_leb(&mut payload, if *name == "memory" { 0 } else { 200 + i as u64 });
        }
        section(&mut wasm, 7, payload);
        wasm
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn short_names_are_identifiers_shortest_first_without_keywords() {
        let names: Vec<String> = ShortNames::default().take(200).collect();
        assert_eq!(&names[..3], ["a", "b", "c"]);
        assert_eq!(names[53], "_");
        assert_eq!(names[54], "aa");
        assert!(!names.iter().any(|n| ["do", "if", "in"].contains(&n.as_str())));
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(names.iter().all(|n| !n.as_bytes()[0].is_ascii_digit() && n.bytes().all(is_ident)));
    }

    #[test]
    fn the_wasm_gets_short_names_but_the_kept_exports() {
        let wasm = module(
            &[
                ("./x_bg.js", "__wbg_now_463ac581d2fc7ea3"),
                ("./snippets/s.js", "smhWorkerCrc64"),
                ("./x_bg.js", "__wbg_get_2080c49015e35254"),
            ],
            &[
                "memory",
                "__smh_new",
                "smh_worker_crc64",
                "__wbindgen_malloc",
                "wasm_bindgen__convert__closures_____invoke__h1",
            ],
        );
        let (small, renamed) = minify(&wasm, &Plan::web("./x_bg.js")).unwrap();
        assert_eq!(
            renamed,
            Renamed {
                modules: pairs(&[("./x_bg.js", "a"), ("./snippets/s.js", "b")]),
                imports: pairs(&[("__wbg_now_463ac581d2fc7ea3", "a"), ("__wbg_get_2080c49015e35254", "b")]),
                exports: pairs(&[("__smh_new", "a"), ("wasm_bindgen__convert__closures_____invoke__h1", "b")]),
            }
        );
        // The snippet's function keeps its name: the glue hands over the snippet's module as is.
        assert_eq!(
            small,
            module(
                &[("a", "a"), ("b", "smhWorkerCrc64"), ("a", "b")],
                &["memory", "a", "smh_worker_crc64", "__wbindgen_malloc", "b"]
            )
        );
        // Renaming again renames nothing more, only to the same short names.
        assert_eq!(minify(&small, &Plan::web("a")).unwrap().0, small);
        // The mini-program's plan: module names kept, import names prefixed, one more export kept.
        let plan = Plan { glue_module: "./x_bg.js", modules: false, import_prefix: "__", keep: &["__smh_new"] };
        let (small, renamed) = minify(&wasm, &plan).unwrap();
        assert_eq!(
            renamed,
            Renamed {
                modules: vec![],
                imports: pairs(&[("__wbg_now_463ac581d2fc7ea3", "__a"), ("__wbg_get_2080c49015e35254", "__b")]),
                exports: pairs(&[("wasm_bindgen__convert__closures_____invoke__h1", "a")]),
            }
        );
        assert_eq!(
            small,
            module(
                &[("./x_bg.js", "__a"), ("./snippets/s.js", "smhWorkerCrc64"), ("./x_bg.js", "__b")],
                &["memory", "__smh_new", "smh_worker_crc64", "__wbindgen_malloc", "a"]
            )
        );
    }

    #[test]
    fn a_broken_wasm_or_a_non_function_import_fails() {
        let plan = Plan::web("m");
        assert!(minify(b"\0asm\x02\0\0\0", &plan).is_err());
        let wasm = module(&[("m", "f")], &["e"]);
        assert!(minify(&wasm[..wasm.len() - 1], &plan).is_err(), "cut short");
        let mut table = wasm.clone();
        let at = table.windows(3).position(|w| w == [1, b'f', 0]).unwrap() + 2;
        table[at] = 3; // a global
        assert!(minify(&table, &plan).unwrap_err().contains("only functions"));
    }

    const GLUE: &str = r#"import * as import1 from "./snippets/s.js"
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_now_463ac581d2fc7ea3: function() {
            return Date.now();
        },
        __wbg_get_2080c49015e35254: function(arg0, arg1) {
            const ret = passStringToWasm0(arg0, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            wasm.__wbindgen_realloc(ret, 1);
        },
    };
    return {
        __proto__: null,
        "./x_bg.js": import0,
        "./snippets/s.js": import1,
    };
}
function wasm_bindgen__convert__closures_____invoke__h1(arg0) {
    wasm.wasm_bindgen__convert__closures_____invoke__h1(arg0);
}
// the wasm.
const cached = wasm.memory.buffer;
"#;

    fn glue_names() -> Renamed {
        Renamed {
            modules: pairs(&[("./x_bg.js", "a"), ("./snippets/s.js", "b")]),
            imports: pairs(&[("__wbg_now_463ac581d2fc7ea3", "a"), ("__wbg_get_2080c49015e35254", "b")]),
            exports: pairs(&[("__wbindgen_realloc", "a"), ("wasm_bindgen__convert__closures_____invoke__h1", "b")]),
        }
    }

    #[test]
    fn the_glue_gets_the_same_names() {
        let glue = rename_in_glue(GLUE, &glue_names()).unwrap();
        let expected = GLUE
            .replace("__wbg_now_463ac581d2fc7ea3:", "a:")
            .replace("__wbg_get_2080c49015e35254:", "b:")
            .replace("\"./x_bg.js\":", "\"a\":")
            .replace("\"./snippets/s.js\":", "\"b\":")
            .replace("wasm.__wbindgen_realloc", "wasm.a")
            .replace("wasm.wasm_bindgen__convert__closures_____invoke__h1", "wasm.b");
        assert_eq!(glue, expected);
        // The glue's own function of the same name as an export is not the export.
        assert!(glue.contains("function wasm_bindgen__convert__closures_____invoke__h1(arg0)"));
        assert!(glue.contains("wasm.__wbindgen_malloc") && glue.contains("wasm.memory.buffer"));
        assert!(glue.starts_with("import * as import1 from \"./snippets/s.js\"\n"), "the snippet's import stays");
    }

    #[test]
    fn a_snippet_imported_directly_by_several_functions_is_one_key() {
        // wasm-bindgen gives each function the wasm imports from a snippet without a shim a
        // namespace import of its own, all keys of the same module.
        let twice = GLUE
            .replace(
                "import * as import1 from \"./snippets/s.js\"\n",
                "import * as import1 from \"./snippets/s.js\"\nimport * as import2 from \"./snippets/s.js\"\n",
            )
            .replace(
                "        \"./snippets/s.js\": import1,\n",
                "        \"./snippets/s.js\": import1,\n        \"./snippets/s.js\": import2,\n",
            );
        let glue = rename_in_glue(&twice, &glue_names()).unwrap();
        assert_eq!(glue.matches("\"b\": import1,\n").count(), 1, "{glue}");
        assert!(!glue.contains("import2,") && !glue.contains("\"./snippets/s.js\":"), "{glue}");
        // Anything else as the repeated key's value is not known.
        let other = twice.replace("\": import2,", "\": somethingElse,");
        assert!(rename_in_glue(&other, &glue_names()).unwrap_err().contains("more than once"));
    }

    #[test]
    fn the_bundler_glue_gets_the_same_names() {
        // wasm-bindgen's bundler glue: the wasm imports the glue module's own exports.
        let glue = "export function __wbg_now_463ac581d2fc7ea3() {\n    return Date.now();\n}\nexport function __wbg_get_2080c49015e35254(arg0) {\n    wasm.__wbindgen_realloc(arg0);\n}\n";
        let names = Renamed { modules: vec![], ..glue_names() };
        assert_eq!(
            rename_in_glue(glue, &names).unwrap(),
            "export function a() {\n    return Date.now();\n}\nexport function b(arg0) {\n    wasm.a(arg0);\n}\n"
        );
        let called = format!("{glue}__wbg_now_463ac581d2fc7ea3();\n");
        assert!(rename_in_glue(&called, &names).unwrap_err().contains("2 times"));
    }

    #[test]
    fn a_name_the_glue_does_not_spell_as_expected_fails() {
        let names = glue_names();
        // An import the glue does not supply.
        let missing = GLUE.replace("__wbg_now_463ac581d2fc7ea3", "__wbg_now_0000000000000000");
        assert!(rename_in_glue(&missing, &names).unwrap_err().contains("__wbg_now_463ac581d2fc7ea3 0 times"));
        // An import named twice.
        let twice = format!("{GLUE}// __wbg_get_2080c49015e35254\n");
        assert!(rename_in_glue(&twice, &names).unwrap_err().contains("2 times"));
        // An import name that is not a key.
        let not_key = GLUE.replace("__wbg_now_463ac581d2fc7ea3: function", "__wbg_now_463ac581d2fc7ea3 = function");
        assert!(rename_in_glue(&not_key, &names).unwrap_err().contains("other than as a key"));
        let not_exported =
            GLUE.replace("__wbg_now_463ac581d2fc7ea3: function()", "function __wbg_now_463ac581d2fc7ea3()");
        assert!(rename_in_glue(&not_exported, &names).unwrap_err().contains("other than as a key"));
        // The module missing.
        let no_module = GLUE.replace("\"./x_bg.js\"", "\"./y_bg.js\"");
        assert!(rename_in_glue(&no_module, &names).unwrap_err().contains("\"./x_bg.js\" as a key 0 times"));
        // An export read through another object or by a string.
        for other in ["instance.exports.__wbindgen_realloc(1)", "wasm['__wbindgen_realloc'](1)"] {
            let glue = format!("{GLUE}{other};\n");
            assert!(
                rename_in_glue(&glue, &names).unwrap_err().contains("other than as `wasm.__wbindgen_realloc`"),
                "{other}"
            );
        }
    }

    #[test]
    fn init_output_gets_the_same_names() {
        let dts = "export function f(): void;\nexport interface InitOutput {\n    readonly memory: WebAssembly.Memory;\n    readonly __wbindgen_realloc: (a: number) => number;\n    readonly wasm_bindgen__convert__closures_____invoke__h1: (a: number) => void;\n}\n/** __wbindgen_realloc */\n";
        let renamed = rename_in_dts(dts, &glue_names()).unwrap();
        assert_eq!(
            renamed,
            dts.replace("readonly __wbindgen_realloc", "readonly a")
                .replace("readonly wasm_bindgen__convert__closures_____invoke__h1", "readonly b")
        );
        assert!(rename_in_dts("export function f(): void;\n", &glue_names()).is_err());
    }
}
