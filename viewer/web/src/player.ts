// GET /replays/{id} — plays one recording with rrweb's Replayer (the same
// @sentry-internal/rrweb release the recorder uses, so snapshots rebuild with
// the serializer's own counterpart), with controls and the side panel.

import { Replayer, ReplayerEvents } from '@sentry-internal/rrweb';
import type { eventWithTime, ReplayPlugin } from '@sentry-internal/rrweb';
import { getEvents, getReplay, RawEvent, ReplayMeta } from './api';
import { Controls } from './controls';
import { append, h, replaceChildren } from './dom';
import { formatBytes, formatDateTime, formatDuration, parseTime, shortURL } from './format';
import { Panel } from './panel';
import { Render, run } from './shell';
import { analyze, Analysis } from './timeline';

const SEEK_STEP_MS = 5000;

// Styles injected into the replay document. Blocked elements arrive as empty
// same-size placeholders; grey boxes make "something was here" visible.
const REPLAY_STYLES = [
  '.rr-block, [data-replaygate-blocked] { background: #c8c8c8 !important; background-image: none !important; border-radius: 2px; }',
];

/** Marks rebuilt nodes that rrweb serialized as block placeholders (rr_width/rr_height only). */
const blockedPlaceholders: ReplayPlugin = {
  onBuild(node, { replayer }) {
    if (node.nodeType !== 1) return;
    const meta = replayer.getMirror().getMeta(node as Node);
    if (meta && meta.type === 2 && 'rr_width' in meta.attributes) (node as Element).setAttribute('data-replaygate-blocked', '');
  },
};

function replayID(): string {
  const m = /^\/replays\/([^/]+)\/?$/.exec(location.pathname);
  return m && m[1] ? decodeURIComponent(m[1]) : '';
}

// Undoes the previous mount when the page renders again (after signing in anew).
let teardown: (() => void) | null = null;

const render: Render = async (main) => {
  teardown?.();
  teardown = null;
  const id = replayID();
  if (!id) throw new Error('no replay id in the address');
  const [meta, events] = await Promise.all([getReplay(id), getEvents(id)]);
  const analysis = analyze(events);
  const started = parseTime(meta.startedAt) ?? (events.length ? new Date(analysis.start) : null);
  document.title = `Replay ${started ? formatDateTime(started) : id} · replaygate`;

  const heading = h(
    'div',
    { class: 'page-head' },
    h('p', { class: 'crumb' }, h('a', { href: '/' }, '← Recordings')),
    h('h1', {}, 'Replay', started ? ' of ' : '', started ? h('time', { datetime: started.toISOString() }, formatDateTime(started)) : ''),
  );
  replaceChildren(main, heading, environment(meta, analysis));

  if (!analysis.playable) {
    append(
      main,
      h(
        'div',
        { class: 'notice notice-error', role: 'alert' },
        h('p', {}, 'This recording cannot be played: it has no full page snapshot yet. Its first segment may still be on its way — reload in a few seconds.'),
      ),
    );
    return;
  }
  teardown = mountPlayer(main, events, analysis);
};

function environment(meta: ReplayMeta, a: Analysis): HTMLElement {
  const env = a.env ?? {};
  const vp = env.viewport ?? meta.viewport;
  const pairs: [string, string][] = [
    ['Duration', formatDuration(a.duration)],
    ['Browser', [env.browser ?? meta.browser, env.os ?? meta.os].filter(Boolean).join(' on ') || 'unknown'],
    ['Viewport', vp ? `${vp.width} × ${vp.height}` : 'unknown'],
    ['Language', env.language ?? meta.language ?? 'unknown'],
    ['Pages', String(meta.urls?.length ?? a.markers.filter((m) => m.kind === 'page').length)],
    ['Segments', String(meta.segments)],
    ['Size', formatBytes(meta.bytes)],
  ];
  const dl = h('dl', { class: 'facts', id: 'environment' }, ...pairs.flatMap(([k, v]) => [h('div', {}, h('dt', {}, k), h('dd', {}, v))]));
  if (meta.subject) {
    const link = h('a', { href: '/consents?subject=' + encodeURIComponent(meta.subject), title: 'Consent records of this visitor' }, h('code', {}, meta.subject.slice(0, 12)));
    dl.appendChild(h('div', {}, h('dt', {}, 'Visitor'), h('dd', {}, link)));
  }
  const first = meta.urls?.[0] ?? env.url;
  if (first) dl.appendChild(h('div', { class: 'facts-wide' }, h('dt', {}, 'First page'), h('dd', { class: 'mono', title: first }, shortURL(first))));
  return dl;
}

/** Builds the player; returns a function that stops it and removes its listeners. */
function mountPlayer(main: HTMLElement, events: RawEvent[], analysis: Analysis): () => void {
  const screen = h('div', { class: 'screen' });
  // The replayed page is a picture, not part of this page: inert keeps its
  // links out of the tab order and its masked text away from screen readers.
  const stage = h('div', { class: 'stage', role: 'img', 'aria-label': 'Replay of the recorded page (masked text shows as asterisks, blocked media as grey boxes)' }, screen);
  const playerMain = h('div', { class: 'player-main' }, stage);
  const playerSide = h('div', { class: 'player-side' });
  append(main, h('div', { class: 'player' }, playerMain, playerSide));

  const replayer = new Replayer(events as unknown as eventWithTime[], {
    root: screen,
    skipInactive: true,
    showWarning: false,
    mouseTail: { strokeStyle: 'rgba(37, 99, 235, 0.6)', lineWidth: 2, duration: 600 },
    insertStyleRules: REPLAY_STYLES,
    plugins: [blockedPlaceholders],
    UNSAFE_replayCanvas: false,
  });
  replayer.wrapper.setAttribute('inert', '');
  replayer.iframe.setAttribute('title', 'Recorded page');
  replayer.iframe.tabIndex = -1;

  const total = replayer.getMetaData().totalTime;
  let playing = false;
  let frame = 0;

  const panel = new Panel(analysis, (offset) => {
    seek(offset);
    controls.focus();
  });
  const controls = new Controls(total, analysis.markers, {
    toggle: () => (playing ? pause() : play()),
    seek: (offset) => seek(offset),
    speed: (speed) => replayer.setConfig({ speed }),
    skipInactive: (on) => replayer.setConfig({ skipInactive: on }),
  });
  const keys = h('p', { class: 'hint keys' }, 'Keyboard: ', h('kbd', {}, 'Space'), ' play or pause, ', h('kbd', {}, '←'), ' ', h('kbd', {}, '→'), ' move 5 seconds.');
  append(playerMain, controls.element, keys);
  append(playerSide, panel.element);

  // The position in ms from the start. Before the first play or pause the
  // Replayer has no baseline and getCurrentTime() is meaningless (hugely
  // negative): that is position 0.
  const current = () => {
    const t = replayer.getCurrentTime();
    return Number.isFinite(t) && t > 0 ? Math.min(t, total) : 0;
  };
  const update = () => {
    const t = current();
    controls.setTime(t);
    panel.setTime(t);
  };
  const tick = () => {
    update();
    if (playing) frame = requestAnimationFrame(tick);
  };
  function play() {
    const t = current();
    replayer.play(t >= total ? 0 : t);
    playing = true;
    controls.setPlaying(true);
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(tick);
  }
  function pause() {
    replayer.pause();
    playing = false;
    controls.setPlaying(false);
    cancelAnimationFrame(frame);
    update();
  }
  function seek(offset: number) {
    const t = Math.max(0, Math.min(offset, total));
    if (playing) replayer.play(t);
    else replayer.pause(t);
    update();
  }
  replayer.on(ReplayerEvents.Finish, () => {
    playing = false;
    controls.setPlaying(false);
    cancelAnimationFrame(frame);
    controls.setTime(total);
    panel.setTime(total);
  });

  // Scale the recorded viewport to the stage width, keeping its aspect ratio.
  let size = { width: 1024, height: 768 };
  const fit = () => {
    const avail = stage.clientWidth;
    const scale = Math.min(1, avail / size.width);
    replayer.wrapper.style.transform = `scale(${scale})`;
    replayer.wrapper.style.transformOrigin = '0 0';
    screen.style.width = `${size.width * scale}px`;
    screen.style.height = `${size.height * scale}px`;
  };
  replayer.on(ReplayerEvents.Resize, (d) => {
    const dim = d as { width?: number; height?: number };
    if (dim.width && dim.height) size = { width: dim.width, height: dim.height };
    fit();
  });
  const observer = new ResizeObserver(fit);
  observer.observe(stage);
  fit();

  const onKey = (ev: KeyboardEvent) => {
    if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const t = ev.target;
    if (t instanceof HTMLElement && t.closest('input, button, select, textarea, a, summary, [role="tab"], dialog')) return;
    if (ev.key === ' ' || ev.key === 'k') {
      ev.preventDefault();
      if (playing) pause();
      else play();
    } else if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      ev.preventDefault();
      seek(current() + (ev.key === 'ArrowRight' ? SEEK_STEP_MS : -SEEK_STEP_MS));
    }
  };
  document.addEventListener('keydown', onKey);
  update();
  controls.focus();
  return () => {
    document.removeEventListener('keydown', onKey);
    observer.disconnect();
    cancelAnimationFrame(frame);
    replayer.destroy();
  };
}

run(render);
