//! The JS snippets (src/platform/browser/*.js) inlined into each browser entry's glue.
//!
//! wasm-bindgen copies each snippet the wasm imports to `pkg/snippets/<crate>-<hash>/…` and has
//! the glue `import` it from there: three more files a page fetches, each with its own gzip
//! overhead, and each compressed without the glue's vocabulary. [`inline`] puts each snippet into
//! the glue instead, in a function scope of its own (its top-level names cannot clash with the
//! glue's), and turns the glue's `import` of it into a `const` of the functions the scope
//! returns. A `new URL('…', import.meta.url)` in a snippet (the upload Worker's script, in the
//! form Vite and webpack 5 detect) is rebased from the snippet's folder to the glue's.
//!
//! Anything in a snippet or in the glue's imports of it that this does not know fails the build
//! rather than guess: another `import`/`export` form, or `import.meta` used another way.

use std::fs;
use std::path::Path;

use crate::util::Result;

/// Where wasm-bindgen puts the snippets, relative to the glue.
const PREFIX: &str = "./snippets/";

/// `glue` (a file in `pkg`) with every snippet it imports inlined, read from `pkg`.
pub(crate) fn inline(glue: &str, pkg: &Path) -> Result<String> {
    inline_with(glue, |path| {
        let file = pkg.join(path);
        fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))
    })
}

/// [`inline`] with `read` giving a snippet's source by its path relative to the glue.
fn inline_with(glue: &str, read: impl Fn(&str) -> Result<String>) -> Result<String> {
    // Snippets in the order first imported: (path, the scope's name).
    let mut scopes: Vec<(String, String)> = Vec::new();
    let mut head = String::new();
    let mut body = String::with_capacity(glue.len());
    for line in glue.split_inclusive('\n') {
        let Some((what, path)) = snippet_import(line)? else {
            body.push_str(line);
            continue;
        };
        let scope = match scopes.iter().find(|(known, _)| *known == path) {
            Some((_, scope)) => scope.clone(),
            None => {
                let scope = format!("smh$snippet{}", scopes.len());
                if glue.contains(&scope) {
                    return Err(format!("the glue already has a `{scope}`"));
                }
                head.push_str(&scoped(&path, &read(&path)?, &scope)?);
                scopes.push((path, scope.clone()));
                scope
            }
        };
        body.push_str(&match what.strip_prefix("* as ") {
            Some(namespace) => format!("const {} = {scope};\n", namespace.trim()),
            None => format!("const {} = {scope};\n", what.replace(" as ", ": ")),
        });
    }
    if scopes.is_empty() {
        return Ok(glue.to_string());
    }
    // The scopes go first, where the imports were: nothing of the glue runs before them.
    Ok(format!("{head}{body}"))
}

/// `(what, path)` of a line `import {what} from '{path}';` or `import * as {name} from "{path}"`
/// that imports a snippet; `None` for any other line. An `import` of a snippet in another form
/// is an error.
fn snippet_import(line: &str) -> Result<Option<(String, String)>> {
    let trimmed = line.trim();
    if !(trimmed.starts_with("import ") && trimmed.contains(PREFIX)) {
        return Ok(None);
    }
    let unknown = || format!("the glue imports a snippet in a form the build does not know: {trimmed}");
    let rest = trimmed.strip_prefix("import ").unwrap_or_default();
    let (what, from) = rest.split_once(" from ").ok_or_else(unknown)?;
    let from = from.trim_end_matches(';').trim();
    let quote = from.chars().next().filter(|q| *q == '\'' || *q == '"').ok_or_else(unknown)?;
    let path = from.strip_prefix(quote).and_then(|p| p.strip_suffix(quote)).ok_or_else(unknown)?;
    let named = what.starts_with('{') && what.ends_with('}');
    let namespace = what.strip_prefix("* as ").is_some_and(|name| is_identifier(name.trim()));
    if !(path.starts_with(PREFIX) && (named || namespace)) {
        return Err(unknown());
    }
    if named {
        let names = &what[1..what.len() - 1];
        let plain = names.split(',').map(str::trim).filter(|n| !n.is_empty()).all(|n| match n.split_once(" as ") {
            Some((a, b)) => is_identifier(a.trim()) && is_identifier(b.trim()),
            None => is_identifier(n),
        });
        if !plain {
            return Err(unknown());
        }
    }
    Ok(Some((what.to_string(), path.to_string())))
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The snippet at `path` (relative to the glue) as `const {scope} = (() => { … return {…}; })();`
/// of the functions, classes and constants it exports.
fn scoped(path: &str, source: &str, scope: &str) -> Result<String> {
    let mut exported = Vec::new();
    let mut body = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        if line.starts_with("import ") || line.starts_with("import{") {
            return Err(format!("{path} imports another module; the build does not inline that: {}", line.trim()));
        }
        let Some(rest) = line.strip_prefix("export ") else {
            body.push_str(line);
            continue;
        };
        let name = ["async function* ", "function* ", "async function ", "function ", "class ", "const ", "let "]
            .iter()
            .find_map(|kind| rest.strip_prefix(kind))
            .map(|after| after.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')).next())
            .and_then(|name| name.filter(|name| is_identifier(name)))
            .ok_or_else(|| format!("{path} has an export the build does not know: {}", line.trim()))?;
        exported.push(name.to_string());
        body.push_str(rest);
    }
    if exported.is_empty() {
        return Err(format!("{path} exports nothing"));
    }
    let body = rebase_urls(path, &body)?;
    Ok(format!("const {scope} = (() => {{\n{body}\nreturn {{ {} }};\n}})();\n", exported.join(", ")))
}

/// `source` of the snippet at `path` with each `new URL('<relative>', import.meta.url)` made
/// relative to the glue's folder instead of the snippet's (the literal stays a literal, which is
/// what bundlers look for). Any other use of `import.meta` is an error (in a comment line, it is
/// left alone).
fn rebase_urls(path: &str, source: &str) -> Result<String> {
    let snippet_dir = Path::new(path.trim_start_matches("./")).parent().unwrap_or(Path::new(""));
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        let code = line.trim_start();
        if code.starts_with("//") || code.starts_with('*') || code.starts_with("/*") {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("import.meta") {
            // `new URL(` + a quoted literal + `, ` right before `import.meta.url)`.
            let parsed = rest[..at]
                .strip_suffix(", ")
                .and_then(|b| b.char_indices().last().map(|(i, q)| (&b[..i], q)))
                .filter(|(_, q)| *q == '\'' || *q == '"')
                .and_then(|(b, q)| b.rfind(q).map(|open| (&b[..open], &b[open + 1..], q)))
                .filter(|(head, _, _)| head.ends_with("new URL("))
                .filter(|_| rest[at..].starts_with("import.meta.url)"));
            let Some((head, relative, quote)) = parsed else {
                return Err(format!("{path} uses import.meta other than in `new URL('…', import.meta.url)`"));
            };
            let rebased = rebase(snippet_dir, relative)
                .ok_or_else(|| format!("{path}: the URL '{relative}' leads outside the package"))?;
            out.push_str(head);
            out.push_str(&format!("{quote}./{rebased}{quote}, import.meta.url)"));
            rest = &rest[at + "import.meta.url)".len()..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// `relative` (a URL path with `/`) resolved from `dir`, as a path from the package root; `None`
/// if it leaves the package or is not a plain relative path.
fn rebase(dir: &Path, relative: &str) -> Option<String> {
    if !(relative.starts_with("./") || relative.starts_with("../")) || relative.contains(['?', '#', ':']) {
        return None;
    }
    let path = crate::citations::normalise(&dir.join(relative))?;
    let parts: Vec<String> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "./snippets/smh-upload-1/src/platform/browser";

    fn worker_client() -> String {
        "// The `new Worker(new URL(…,\n// import.meta.url))` below.\nconst UNAVAILABLE = 'x';\nlet worker = null;\nfunction start() {\n  worker = new Worker(new URL('../../../../../smh_upload_worker.js', import.meta.url), { type: 'module' });\n}\nexport function smhWorkerCrc64(module, blob) {\n  start();\n}\nexport async function smhWorkerMemory(module) {}\n".to_string()
    }

    fn read(path: &str) -> Result<String> {
        match path.strip_prefix(DIR) {
            Some("/worker_client.js") => Ok(worker_client()),
            Some("/locks.js") => Ok("export function smhHoldLock(name) {\n  return name;\n}\n".into()),
            _ => Err(format!("no {path}")),
        }
    }

    #[test]
    fn snippets_are_inlined_in_scopes_of_their_own() {
        let glue = format!(
            "import {{ smhHoldLock }} from '{DIR}/locks.js';\nimport {{ smhWorkerCrc64, smhWorkerMemory as m }} from '{DIR}/worker_client.js';\nimport * as import1 from \"{DIR}/worker_client.js\"\n\nlet worker = 1;\nconst imports = {{ \"{DIR}/worker_client.js\": import1 }};\n"
        );
        let inlined = inline_with(&glue, read).unwrap();
        let expected = format!(
            "const smh$snippet0 = (() => {{\nfunction smhHoldLock(name) {{\n  return name;\n}}\n\nreturn {{ smhHoldLock }};\n}})();\n\
             const smh$snippet1 = (() => {{\n{}\nreturn {{ smhWorkerCrc64, smhWorkerMemory }};\n}})();\n\
             const {{ smhHoldLock }} = smh$snippet0;\nconst {{ smhWorkerCrc64, smhWorkerMemory: m }} = smh$snippet1;\nconst import1 = smh$snippet1;\n\nlet worker = 1;\nconst imports = {{ \"{DIR}/worker_client.js\": import1 }};\n",
            worker_client()
                .replace("export ", "")
                .replace("'../../../../../smh_upload_worker.js'", "'./smh_upload_worker.js'")
        );
        assert_eq!(inlined, expected);
        // A glue without snippets is left as it is.
        assert_eq!(inline_with("let a = 1;\n", read).unwrap(), "let a = 1;\n");
    }

    #[test]
    fn generator_exports_are_named_too() {
        let source = "export function* a() {}\nexport async function* b(blob, size = 1) {}\n";
        let scoped = scoped("x.js", source, "s").unwrap();
        assert!(scoped.ends_with("return { a, b };\n})();\n"), "{scoped}");
        assert!(scoped.contains("\nasync function* b(blob, size = 1) {}"), "{scoped}");
    }

    #[test]
    fn what_the_inliner_does_not_know_fails() {
        let import = |what: &str| format!("import {what} from '{DIR}/locks.js';\n");
        for bad in ["smhHoldLock", "{ a, b: c }", "* as x, y", "{ default as x }x"] {
            assert!(inline_with(&import(bad), read).is_err(), "{bad}");
        }
        assert!(inline_with(&format!("import '{DIR}/locks.js';\n"), read).is_err());
        assert!(inline_with(&import("{ f }").replace("locks", "missing"), read).unwrap_err().contains("no "));
        let snippet = |source: &'static str| move |_: &str| Ok(source.to_string());
        let glue = import("{ f }");
        for source in [
            "import { g } from './other.js';\nexport function f() {}\n",
            "export default function f() {}\n",
            "export { f };\nfunction f() {}\n",
            "function f() {}\n",
            "export function f() { return import.meta; }\n",
            "export function f() { return new URL(name, import.meta.url); }\n",
            "export function f() { return new URL('../../../../../../../x.js', import.meta.url); }\n",
            "export function f() { return new URL('https://example.invalid/x.js', import.meta.url); }\n",
        ] {
            assert!(inline_with(&glue, snippet(source)).is_err(), "{source}");
        }
    }

    #[test]
    fn urls_are_rebased_to_the_package_root() {
        let dir = Path::new("snippets/a/src");
        assert_eq!(rebase(dir, "../../../w.js").as_deref(), Some("w.js"));
        assert_eq!(rebase(dir, "./x/y.js").as_deref(), Some("snippets/a/src/x/y.js"));
        assert_eq!(rebase(dir, "../../../../w.js"), None);
        assert_eq!(rebase(dir, "w.js"), None, "a bare name is resolved against the page by some tools");
        assert_eq!(rebase(dir, "../w.js?v=1"), None);
    }
}
