// Builds dist/gate.js and dist/recorder.js with esbuild, and dist/manifest.json
// recording a hash of every input so `go test` can tell a stale bundle.
//   node build.mjs          production bundles
//   node build.mjs --test   also bundles test/*.test.ts into test-dist/ for `node --test`
//   node build.mjs --bench  also bundles the plain-rrweb baseline into test-dist/ for e2e's benchmark
// REPLAYGATE_NO_MINIFY=1 keeps names readable for profiling (never for a release build).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = new URL('.', import.meta.url).pathname;
const dist = join(here, 'dist');

// The inputs whose hash the Go test recomputes (keep in sync with web.sourceFiles).
function sourceFiles() {
  const out = ['build.mjs', 'package-lock.json', 'tsconfig.json'];
  for (const f of readdirSync(join(here, 'src'))) if (f.endsWith('.ts')) out.push('src/' + f);
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

const placeholders = { gate: '"@@REPLAYGATE_GATE_CONFIG@@"', recorder: '"@@REPLAYGATE_RECORDER_CONFIG@@"' };

const common = {
  bundle: true,
  minify: !process.env.REPLAYGATE_NO_MINIFY,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  legalComments: 'none',
  charset: 'utf8',
  treeShaking: true,
  write: false,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

const manifest = { sourceHash: sourceHash(), esbuild: esbuild.version, bundles: {} };
mkdirSync(dist, { recursive: true });
for (const name of ['gate', 'recorder']) {
  const res = await esbuild.build({ ...common, entryPoints: [join(here, 'src', name + '.ts')], outfile: join(dist, name + '.js') });
  const code = res.outputFiles[0].contents;
  const text = Buffer.from(code).toString('utf8');
  const count = text.split(placeholders[name]).length - 1;
  if (count !== 1) throw new Error(`${name}.js: config placeholder ${placeholders[name]} found ${count} times, want 1`);
  if (/\beval\(|new Function\(/.test(text)) throw new Error(`${name}.js: contains eval or new Function`);
  writeFileSync(join(dist, name + '.js'), code);
  manifest.bundles[name] = { bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
}
writeFileSync(join(dist, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
for (const [n, b] of Object.entries(manifest.bundles)) {
  console.log(`${n}.js ${b.bytes} bytes, ${b.gzipBytes} gzipped`);
}

if (process.argv.includes('--test')) {
  const out = join(here, 'test-dist');
  rmSync(out, { recursive: true, force: true });
  const tests = readdirSync(join(here, 'test')).filter((f) => f.endsWith('.test.ts')).map((f) => join(here, 'test', f));
  await esbuild.build({ entryPoints: tests, bundle: true, platform: 'node', format: 'esm', outdir: out, outExtension: { '.js': '.mjs' }, logLevel: 'warning' });
  console.log(`bundled ${tests.length} test files into ${relative(here, out)}/`);
}

if (process.argv.includes('--bench')) {
  await esbuild.build({ ...common, write: true, entryPoints: [join(here, 'test', 'bench-plain.ts')], outfile: join(here, 'test-dist', 'plain-rrweb.js') });
  console.log('bundled test-dist/plain-rrweb.js');
}
