const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LOWER_U = 0x75;

/**
 * Whether JSON text nests objects and arrays deeper than `maxDepth`. One pass over the characters, no
 * recursion: it runs before JSON.parse, so a body of thousands of `[` is refused before anything that walks
 * the parsed value recursively (validation, hashing) could overflow the stack. Brackets inside strings do
 * not count. Text that is not JSON is left for the parser to refuse.
 */
export function jsonNestedDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

const HIGH_SURROGATE = /^[dD][89abAB][0-9a-fA-F]{2}$/;
const LOW_SURROGATE = /^[dD][c-fC-F][0-9a-fA-F]{2}$/;

/**
 * Whether a string of JSON text escapes half of a surrogate pair alone (`"\ud800"`). JSON.parse accepts it,
 * but the string is not Unicode: validators that re-encode it throw (a 500) and PostgreSQL would store a
 * replacement character instead. Raw UTF-8 cannot carry one (decoding replaces it), so escapes are all there
 * is to check.
 */
export function jsonHasLoneSurrogate(text: string): boolean {
  let inString = false;
  let pendingHigh = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!inString) {
      if (c === QUOTE) inString = true;
      continue;
    }
    if (c === BACKSLASH && text.charCodeAt(i + 1) === LOWER_U) {
      const hex = text.slice(i + 2, i + 6);
      // A low half must follow a high one, and only a low half may.
      if (pendingHigh !== LOW_SURROGATE.test(hex)) return true;
      pendingHigh = HIGH_SURROGATE.test(hex);
      i += 5;
      continue;
    }
    if (pendingHigh) return true;
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) inString = false;
  }
  return pendingHigh;
}
