// Banner language choice: the page's lang first, then the browser's
// preferences, then the configured default. Only the primary subtag counts.

/** Lower-case primary subtag of a BCP 47 tag ("de-AT" → "de"). */
export function primaryTag(tag: string): string {
  return tag.trim().split(/[-_]/)[0].toLowerCase();
}

/** Picks the first candidate language that has texts, else fallback. */
export function pickLanguage(candidates: ReadonlyArray<string | null | undefined>, available: ReadonlySet<string>, fallback: string): string {
  for (const c of candidates) {
    if (!c) continue;
    const p = primaryTag(c);
    if (available.has(p)) return p;
  }
  return fallback;
}

/** Reads a cookie's value by name from a document.cookie string. */
export function readCookie(cookies: string, name: string): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Parses the companion cookie "<decision>.<policyVersion>"; null unless it matches version. */
export function companionDecision(value: string | null, policyVersion: string): 'granted' | 'denied' | null {
  if (!value) return null;
  let v = value;
  try {
    v = decodeURIComponent(value);
  } catch {
    return null;
  }
  const dot = v.indexOf('.');
  if (dot < 0 || v.slice(dot + 1) !== policyVersion) return null;
  const d = v.slice(0, dot);
  return d === 'granted' || d === 'denied' ? d : null;
}
