// URL scrubbing: keep scheme, host and path; drop credentials and fragments;
// keep query parameter names but drop their values unless the name is
// allow-listed. Non-web schemes (mailto:, tel:, data:, javascript:, blob:)
// carry their payload in the "path", so only the scheme survives.

const SAFE_FRAGMENT = /^#[A-Za-z][\w:.-]{0,63}$/;
const SAFE_NAME = /^[\w.\-[\]]{1,40}$/;
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Scrubs one URL. base resolves relative URLs (the page URL in the browser);
 * relative input stays relative so the replay resolves it like the page did.
 */
export function scrubURL(raw: string, allow: readonly string[], base = 'http://base.invalid/'): string {
  const s = raw.trim();
  if (s === '') return '';
  if (s[0] === '#') return SAFE_FRAGMENT.test(s) ? s : '#';
  let u: URL;
  try {
    u = new URL(s, base);
  } catch {
    return '';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return u.protocol;
  let query = '';
  if (u.search.length > 1) {
    const kept: string[] = [];
    for (const part of u.search.slice(1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const rawName = eq < 0 ? part : part.slice(0, eq);
      let name: string;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        continue;
      }
      if (!SAFE_NAME.test(name)) continue;
      kept.push(allow.includes(name) && eq >= 0 ? part : rawName + '=');
    }
    if (kept.length > 0) query = '?' + kept.join('&');
  }
  const absolute = ABSOLUTE.test(s) || s.startsWith('//');
  const head = absolute ? u.protocol + '//' + u.host : '';
  return head + u.pathname + query;
}

/** Scrubs a srcset value: each candidate URL scrubbed, descriptors kept. */
export function scrubSrcset(value: string, allow: readonly string[], base?: string): string {
  return value
    .split(',')
    .map((cand) => {
      const parts = cand.trim().split(/\s+/);
      if (parts[0] === '') return '';
      parts[0] = scrubURL(parts[0], allow, base);
      return parts.join(' ');
    })
    .filter((c) => c !== '')
    .join(', ');
}

const URL_IN_TEXT = /\b(?:https?|wss?|blob|file):\/\/[^\s"'<>()]+/gi;

/** Scrubs every URL found in free text, e.g. a stack trace or a console argument. */
export function scrubURLsInText(text: string, allow: readonly string[]): string {
  return text.replace(URL_IN_TEXT, (m) => {
    // Keep a trailing ":line:col" of stack frames readable.
    const pos = /(:\d+){1,2}$/.exec(m);
    const url = pos ? m.slice(0, pos.index) : m;
    return scrubURL(url, allow) + (pos ? pos[0] : '');
  });
}
