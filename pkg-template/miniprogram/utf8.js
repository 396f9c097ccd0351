// UTF-8 encoder and decoder for the wasm glue, private to this package.
//
// The logic layer of a WeChat mini-program has no TextEncoder / TextDecoder. The glue
// (smh_upload_bg.js) gets these two classes through `require('./utf8.js')`, which shadows the
// global names inside that one module only: nothing here defines or changes a global.
//
// Only what the glue uses is implemented: `new TextEncoder().encode(s)` / `.encodeInto(s, view)`
// and `new TextDecoder('utf-8', { ignoreBOM, fatal }).decode(bytes)`. Strings crossing the wasm
// boundary are short (options, paths, JSON replies), so clarity wins over speed here.
'use strict';

const REPLACEMENT = 0xfffd;

/** Code points of `string` (lone surrogates become U+FFFD, as the standard encoder does). */
function* codePoints(string) {
  for (let i = 0; i < string.length; i++) {
    const unit = string.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < string.length) {
      const next = string.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1;
        yield { point: 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00), units: 2 };
        continue;
      }
    }
    yield { point: unit >= 0xd800 && unit <= 0xdfff ? REPLACEMENT : unit, units: 1 };
  }
}

function byteLength(point) {
  return point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
}

function writePoint(point, out, at) {
  if (point < 0x80) {
    out[at] = point;
  } else if (point < 0x800) {
    out[at] = 0xc0 | (point >> 6);
    out[at + 1] = 0x80 | (point & 0x3f);
  } else if (point < 0x10000) {
    out[at] = 0xe0 | (point >> 12);
    out[at + 1] = 0x80 | ((point >> 6) & 0x3f);
    out[at + 2] = 0x80 | (point & 0x3f);
  } else {
    out[at] = 0xf0 | (point >> 18);
    out[at + 1] = 0x80 | ((point >> 12) & 0x3f);
    out[at + 2] = 0x80 | ((point >> 6) & 0x3f);
    out[at + 3] = 0x80 | (point & 0x3f);
  }
}

class TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input = '') {
    const string = String(input);
    let length = 0;
    for (const { point } of codePoints(string)) length += byteLength(point);
    const out = new Uint8Array(length);
    let at = 0;
    for (const { point } of codePoints(string)) {
      writePoint(point, out, at);
      at += byteLength(point);
    }
    return out;
  }

  /** Writes as much of `input` as fits whole into `view`: `{ read, written }`. */
  encodeInto(input, view) {
    const string = String(input);
    let read = 0;
    let written = 0;
    for (const { point, units } of codePoints(string)) {
      const size = byteLength(point);
      if (written + size > view.length) break;
      writePoint(point, view, written);
      written += size;
      read += units;
    }
    return { read, written };
  }
}

class TextDecoder {
  constructor(label = 'utf-8', options = {}) {
    const name = String(label).toLowerCase();
    if (name !== 'utf-8' && name !== 'utf8') throw new RangeError(`smh-upload's decoder knows only UTF-8, not ${label}`);
    this.fatal = Boolean(options.fatal);
    this.ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding() {
    return 'utf-8';
  }

  decode(input) {
    if (input === undefined) return '';
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(input.buffer || input, input.byteOffset || 0, input.byteLength);
    const units = [];
    let out = '';
    const invalid = () => {
      if (this.fatal) throw new TypeError('The encoded data was not valid UTF-8');
      units.push(REPLACEMENT);
    };
    let i = 0;
    if (!this.ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
    while (i < bytes.length) {
      const first = bytes[i];
      let need = 0;
      let point = 0;
      let min = 0;
      if (first < 0x80) {
        units.push(first);
        i += 1;
      } else {
        if (first >= 0xc2 && first <= 0xdf) [need, point, min] = [1, first & 0x1f, 0x80];
        else if (first >= 0xe0 && first <= 0xef) [need, point, min] = [2, first & 0x0f, 0x800];
        else if (first >= 0xf0 && first <= 0xf4) [need, point, min] = [3, first & 0x07, 0x10000];
        let k = 1;
        for (; need && k <= need; k++) {
          const next = bytes[i + k];
          if (next === undefined || (next & 0xc0) !== 0x80) break;
          point = (point << 6) | (next & 0x3f);
        }
        if (!need || k <= need || point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) {
          invalid();
          i += k; // the lead byte and the continuation bytes that were valid
        } else {
          if (point >= 0x10000) {
            point -= 0x10000;
            units.push(0xd800 + (point >> 10), 0xdc00 + (point & 0x3ff));
          } else {
            units.push(point);
          }
          i += need + 1;
        }
      }
      if (units.length >= 8192) {
        out += String.fromCharCode.apply(null, units);
        units.length = 0;
      }
    }
    return out + String.fromCharCode.apply(null, units);
  }
}

module.exports = { TextEncoder, TextDecoder };
