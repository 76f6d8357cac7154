// CSS scrubbing. Style sheets can carry page text (`content: "…"`, attribute
// selectors such as [value="…"], custom properties holding strings) and URLs
// with query strings, so comments go, string literals are masked (length
// kept) except font family names, and url() values are scrubbed like any URL.

import { scrubURL } from './url';

const TOKENS =
  /\/\*[\s\S]*?\*\/|url\(\s*(?:"((?:[^"\\]|\\[\s\S])*)"|'((?:[^'\\]|\\[\s\S])*)'|([^)'"\s]*))\s*\)|"((?:[^"\\]|\\[\s\S])*)"|'((?:[^'\\]|\\[\s\S])*)'/gi;
const FONT_DECL = /(?:^|[;{\s])(?:font-family|font|src)\s*:[^;{}]*$/i;
const IMPORT = /@import\s*$/i;

/** Returns css with comments removed, strings masked and URLs scrubbed. */
export function scrubCSS(css: string, allow: readonly string[], base?: string): string {
  if (css.indexOf('"') < 0 && css.indexOf("'") < 0 && css.indexOf('/*') < 0 && !/url\(/i.test(css)) {
    return css;
  }
  return css.replace(
    TOKENS,
    (m: string, u1?: string, u2?: string, u3?: string, s1?: string, s2?: string, offset?: number): string => {
      if (m[0] === '/') return '';
      const urlValue = u1 ?? u2 ?? u3;
      if (urlValue !== undefined) return 'url("' + scrubURL(urlValue, allow, base) + '")';
      const inner = s1 ?? s2 ?? '';
      const before = css.slice(Math.max(0, (offset ?? 0) - 200), offset);
      if (IMPORT.test(before)) return '"' + scrubURL(inner, allow, base) + '"';
      if (FONT_DECL.test(before)) return m;
      return m[0] + maskChars(inner) + m[0];
    },
  );
}

function maskChars(s: string): string {
  return '*'.repeat(s.length);
}
