// A page's JSON reader for src/json.rs (through src/platform/browser/json.rs; inlined into the
// package's glue): the browser's `JSON.parse`, so that the wasm carries no reader of its own.
//
// It must read what src/json.rs's reader reads, and refuse what it refuses, with one exception
// (lone surrogates in `\u` escapes are accepted; they reach Rust as U+FFFD). Numbers keep their
// text: `JSON.parse` would round a CRC-64 above 2^53 (docs/smh-api.md §9.3). So before parsing,
// each number outside a string is replaced by `[i]`, its index in a list of the texts: in what
// `JSON.parse` returns, an array whose first item is a number is such a mark (every number
// became one), and the marks cannot turn text that is not JSON into JSON (a mark stands where
// a number stood, and the pattern matches only JSON's number grammar).

/** A string (kept as it is), or a number (captured). */
const TOKEN = /"(?:[^"\\]|\\.)*"|(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
/** src/json.rs `MAX_DEPTH`. */
const MAX_DEPTH = 64;
const encoder = new TextEncoder();

/**
 * `bytes` (a Uint8Array) parsed as UTF-8 JSON and flattened for src/json.rs, or undefined when
 * they are not that or nest deeper than `MAX_DEPTH`. Each value is a tag, a head and `;`: `n;`,
 * `t;`, `f;`; `#` + the number's text; `"` + the string's length in UTF-8 (as the glue hands it
 * to Rust: a lone surrogate is U+FFFD) + `;` + the string; `[` + the number of items, the items
 * following; `{` + the number of members, each a string (the name) and a value following.
 */
export function smhJsonParse(bytes) {
  const numbers = [];
  let out = '';
  const walk = (value, depth) => {
    if (value === null || typeof value === 'boolean') out += String(value)[0] + ';';
    else if (typeof value === 'string') out += '"' + encoder.encode(value).length + ';' + value;
    else if (typeof value[0] === 'number') out += '#' + numbers[value[0]] + ';';
    else if (depth === MAX_DEPTH) throw 0; // caught below: refused
    else if (Array.isArray(value)) {
      out += '[' + value.length + ';';
      for (const item of value) walk(item, depth + 1);
    } else {
      const names = Object.keys(value);
      out += '{' + names.length + ';';
      for (const name of names) {
        walk(name);
        walk(value[name], depth + 1);
      }
    }
  };
  try {
    // The BOM is not JSON's whitespace: kept, for `JSON.parse` to refuse.
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    walk(JSON.parse(text.replace(TOKEN, (token, number) => (number ? '[' + (numbers.push(number) - 1) + ']' : token))), 0);
    return out;
  } catch {
    return undefined;
  }
}
