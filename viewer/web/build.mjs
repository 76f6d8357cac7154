// Builds the viewer into dist/: three static HTML shells (no data in them),
// content-hashed JS/CSS under dist/assets/ (plus .gz siblings), and
// dist/manifest.json recording a hash of every input so `go test` can tell a
// stale or missing bundle.
//   node build.mjs          production build
//   node build.mjs --test   also bundles test/*.test.ts into test-dist/ for `node --test`
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
// URL path the Go handler serves dist/assets/ under (viewer.AssetPrefix).
const assetURL = '/viewer/assets/';

// The inputs whose hash the Go test recomputes (keep in sync with sourceFiles in viewer/bundle_test.go).
function sourceFiles() {
  const out = ['build.mjs', 'package-lock.json', 'tsconfig.json'];
  const walk = (dir) => {
    for (const e of readdirSync(join(here, dir), { withFileTypes: true })) {
      const rel = dir + '/' + e.name;
      if (e.isDirectory()) walk(rel);
      else if (/\.(ts|css)$/.test(e.name)) out.push(rel);
    }
  };
  walk('src');
  return out.sort();
}

function sourceHash() {
  const h = createHash('sha256');
  for (const f of sourceFiles()) {
    h.update(f + '\0');
    h.update(readFileSync(join(here, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// A static page shell: the navigation and an empty main the page script fills.
function shell({ title, styles, script }) {
  const links = styles.map((s) => `<link rel="stylesheet" href="${assetURL}${s}">`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<link rel="icon" href="data:,">
<title>${escapeHTML(title)} · replaygate</title>
${links}
<script type="module" src="${assetURL}${script}"></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="topbar">
<a class="brand" href="/">replaygate</a>
<nav aria-label="Viewer">
<ul>
<li><a href="/">Recordings</a></li>
<li><a href="/consents">Consent log</a></li>
</ul>
</nav>
<div class="session" id="session"></div>
</header>
<main id="main" tabindex="-1">
<noscript><p class="notice">The viewer needs JavaScript: it asks for the admin token and loads the recordings from the admin API.</p></noscript>
</main>
</body>
</html>
`;
}

const pages = {
  'index.html': { title: 'Recordings', entry: 'list', styles: ['viewer'] },
  'consents.html': { title: 'Consent log', entry: 'consents', styles: ['viewer'] },
  'replay.html': { title: 'Replay', entry: 'player', styles: ['viewer', 'player-style'] },
};

const entryPoints = {
  list: 'src/list.ts',
  consents: 'src/consents.ts',
  player: 'src/player.ts',
  viewer: 'src/viewer.css',
  'player-style': 'src/player.css',
};

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints,
  outdir: 'dist/assets',
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'none',
  charset: 'utf8',
  metafile: true,
  write: false,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

// Start from an empty dist/ (keeping .keep) so old hashed files are not embedded.
for (const e of readdirSync(dist)) if (e !== '.keep') rmSync(join(dist, e), { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

const assets = {};
for (const f of result.outputFiles) {
  const name = relative(join(dist, 'assets'), f.path);
  const text = Buffer.from(f.contents).toString('utf8');
  if (/\beval\(|new Function\(/.test(text) && name.endsWith('.js')) console.warn(`${name}: contains eval or new Function (blocked by the CSP)`);
  writeFileSync(f.path, f.contents);
  if (f.contents.length >= 1024) writeFileSync(f.path + '.gz', gzipSync(f.contents, { level: 9 }));
  assets[name] = { bytes: f.contents.length };
}

// Map entry names to their hashed output files.
const entries = {};
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const name = Object.keys(entryPoints).find((k) => entryPoints[k] === meta.entryPoint);
  if (name) entries[name] = relative('dist/assets', out);
}

for (const [file, p] of Object.entries(pages)) {
  const script = entries[p.entry];
  const styles = p.styles.map((s) => entries[s]);
  if (!script || styles.some((s) => !s)) throw new Error(`${file}: missing entry output`);
  writeFileSync(join(dist, file), shell({ title: p.title, styles, script }));
}

const manifest = { sourceHash: sourceHash(), esbuild: esbuild.version, pages: Object.keys(pages), entries, assets };
writeFileSync(join(dist, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
for (const [name, a] of Object.entries(assets)) console.log(`${name} ${a.bytes} bytes`);

if (process.argv.includes('--test')) {
  const out = join(here, 'test-dist');
  rmSync(out, { recursive: true, force: true });
  const tests = readdirSync(join(here, 'test')).filter((f) => f.endsWith('.test.ts')).map((f) => join(here, 'test', f));
  await esbuild.build({ entryPoints: tests, bundle: true, platform: 'node', format: 'esm', outdir: out, outExtension: { '.js': '.mjs' }, logLevel: 'warning' });
  console.log(`bundled ${tests.length} test files into ${relative(here, out)}/`);
}
