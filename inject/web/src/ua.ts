// Coarse browser and OS names for the replaygate/env event: family and major
// version only, never the full user-agent string.

const BROWSERS: ReadonlyArray<[RegExp, string]> = [
  [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/SamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/(?:Firefox|FxiOS)\/(\d+)/, 'Firefox'],
  [/(?:Chrome|CriOS|Chromium)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[^]*Safari\//, 'Safari'],
];

/** "Chrome 156", "Firefox 140", … or "Other". */
export function browserName(ua: string): string {
  for (const [re, name] of BROWSERS) {
    const m = re.exec(ua);
    if (m) return name + ' ' + m[1];
  }
  return 'Other';
}

const SYSTEMS: ReadonlyArray<[RegExp, string]> = [
  [/Windows/, 'Windows'],
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/CrOS/, 'ChromeOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Linux|X11/, 'Linux'],
];

/** "Windows", "macOS", "Linux", "Android", "iOS", "ChromeOS" or "Other". */
export function osName(ua: string): string {
  for (const [re, name] of SYSTEMS) if (re.test(ua)) return name;
  return 'Other';
}
