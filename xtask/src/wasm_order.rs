//! The wasm's functions put in an order that compresses better.
//!
//! gzip finds repeats only within its 32 KiB window, and wasm code repeats mostly between
//! functions of the same kind (the drop glue of similar types, the poll functions of similar
//! futures, the shims of similar exports). LLVM lays functions out roughly by module, so such
//! functions are often far apart. [`order`] lays them out greedily instead: each next function is
//! the one whose byte trigrams overlap most (by Jaccard index) with those of the last
//! [`CONTEXT`] functions placed. On this crate's wasm that makes the gzip of each entry ~1.4 %
//! smaller, and brotli's a little; the order of a module's functions means nothing to an engine
//! (calls and tables name functions by index, and the re-emission renumbers them together).
//!
//! The order is computed here from the code section; binaryen.js (the npm `binaryen` package
//! that gives `wasm-opt`) re-emits the module in it ([`REORDER_SCRIPT`]), since renumbering
//! every call by hand would need a decoder of every instruction.

use std::path::Path;

use crate::util::{cmd, run_cmd, Result};
use crate::wasm_names::Reader;

/// How many of the functions placed last make the context the next one is matched against.
const CONTEXT: usize = 4;

/// The defined functions' bodies, in the order of the code section.
fn bodies(wasm: &[u8]) -> Result<Vec<&[u8]>> {
    const HEADER: &[u8] = b"\0asm\x01\0\0\0";
    if !wasm.starts_with(HEADER) {
        return Err("not a wasm module (version 1)".into());
    }
    let mut at = Reader { bytes: wasm, at: HEADER.len() };
    while at.at < wasm.len() {
        let id = at.byte()?;
        let size = at.leb()? as usize;
        let payload = at.take(size)?;
        if id == 10 {
            let mut code = Reader { bytes: payload, at: 0 };
            let count = code.leb()?;
            let mut out = Vec::new();
            for _ in 0..count {
                let size = code.leb()? as usize;
                out.push(code.take(size)?);
            }
            code.end("code")?;
            return Ok(out);
        }
    }
    Ok(Vec::new())
}

/// The distinct trigrams of `body`, sorted.
fn trigrams(body: &[u8]) -> Vec<u32> {
    let mut set: Vec<u32> =
        body.windows(3).map(|w| u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2])).collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// How many values two sorted sets share.
fn shared(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => (i, j, n) = (i + 1, j + 1, n + 1),
        }
    }
    n
}

/// The order (indices into `bodies`) to lay the functions out in: the first stays first, then
/// greedily the most similar to the last [`CONTEXT`] placed (ties: the earliest).
pub(crate) fn order(bodies: &[&[u8]]) -> Vec<usize> {
    let sets: Vec<Vec<u32>> = bodies.iter().map(|b| trigrams(b)).collect();
    let mut left: Vec<usize> = (1..bodies.len()).collect();
    let mut placed: Vec<usize> = Vec::with_capacity(bodies.len());
    if !bodies.is_empty() {
        placed.push(0);
    }
    while !left.is_empty() {
        let start = placed.len().saturating_sub(CONTEXT);
        let mut context: Vec<u32> = placed[start..].iter().flat_map(|&i| sets[i].iter().copied()).collect();
        context.sort_unstable();
        context.dedup();
        let mut best = (0, -1.0f64);
        for (slot, &i) in left.iter().enumerate() {
            let common = shared(&sets[i], &context);
            let union = sets[i].len() + context.len() - common;
            let score = if union == 0 { 0.0 } else { common as f64 / union as f64 };
            if score > best.1 {
                best = (slot, score);
            }
        }
        placed.push(left.remove(best.0));
    }
    placed
}

/// Re-emits the module `argv[1]` in the order `argv[2]` (comma-separated indices of its defined
/// functions) with binaryen.js, into `argv[1]`. Imports keep their place (they precede the
/// defined functions); each defined function is removed and added again, which appends it.
const REORDER_SCRIPT: &str = "
const [file, list] = process.argv.slice(1);
const { default: binaryen } = await import(process.env.SMH_BINARYEN);
const fs = await import('node:fs');
const module = binaryen.readBinary(fs.readFileSync(file));
// The package's features (xtask/src/pkg.rs WASM_OPT_FEATURES), no more: binaryen writes some
// sections in newer encodings when their features are on, which older engines cannot read.
const F = binaryen.Features;
module.setFeatures(F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt | F.SignExt |
  F.ReferenceTypes | F.Multivalue);
const defined = [];
for (let i = 0; i < module.getNumFunctions(); i++) {
  const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
  if (!info.module) defined.push(info);
}
const order = list.split(',').map(Number);
if (order.length !== defined.length || new Set(order).size !== order.length) throw new Error('bad order');
for (const k of order) {
  const f = defined[k];
  module.removeFunction(f.name);
  module.addFunction(f.name, f.params, f.results, f.vars, f.body);
}
if (!module.validate()) throw new Error('the reordered module does not validate');
fs.writeFileSync(file, module.emitBinary());
";

/// Lays out the functions of the wasm file `wasm` in [`order`], in place.
pub(crate) fn reorder_file(wasm: &Path) -> Result<()> {
    let bytes = std::fs::read(wasm).map_err(|e| format!("read {}: {e}", wasm.display()))?;
    let list: Vec<String> = order(&bodies(&bytes)?).iter().map(usize::to_string).collect();
    let binaryen = crate::util::root().join("node_modules/binaryen/index.js");
    run_cmd(
        cmd("node")
            .env("SMH_BINARYEN", binaryen)
            .args(["--input-type=module", "-e", REORDER_SCRIPT])
            .arg(wasm)
            .arg(list.join(",")),
        "reorder the wasm's functions (binaryen.js)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_functions_are_placed_next_to_each_other() {
        let a: &[u8] = b"\x20\x00\x20\x01\x6a\x0b";
        let b: &[u8] = b"\x41\x07\x41\x09\x6c\x0b";
        let a2: &[u8] = b"\x20\x00\x20\x01\x6a\x20\x02\x0b";
        assert_eq!(order(&[a, b, a2]), vec![0, 2, 1]);
        assert_eq!(order(&[]), Vec::<usize>::new());
    }

    #[test]
    fn shared_counts_common_values() {
        assert_eq!(shared(&[1, 3, 5, 7], &[3, 4, 5, 8]), 2);
        assert_eq!(trigrams(b"abcabc"), vec![0x616263, 0x626361, 0x636162]);
    }
}
