// recorder.js: loaded by the gate only after consent. Records with rrweb,
// sanitizes every event in the browser, reduces mouse paths, and uploads
// batches to {prefix}/ingest. Registers a handle so withdrawal stops it.

import { addCustomEvent, record } from '@sentry-internal/rrweb';
import { captureConsole, captureNetwork } from './capture';
import { EventType, RecEvent, Source } from './events';
import { maskText, scrubAttribute } from './mask';
import { MovementReducer } from './mouse';
import { NodeLike, sanitizeEvent, SanitizeContext } from './sanitize';
import { expired, parseSession, resumeOrStart, SessionState } from './session';
import { RECORDER_KEY, RecorderConfig, RecorderHandle } from './types';
import { browserName, osName } from './ua';
import { Uploader } from './uploader';
import { scrubURL } from './url';

// Replaced by the server with the active recording settings (same for every visitor).
const cfg = JSON.parse("@@REPLAYGATE_RECORDER_CONFIG@@") as RecorderConfig;

const STORAGE_KEY = 'replaygate.session';
const ACTIVITY: ReadonlySet<number> = new Set([
  Source.MouseMove, Source.MouseInteraction, Source.Scroll, Source.Input, Source.TouchMove, Source.Drag,
]);
const WAKE_EVENTS = ['pointerdown', 'keydown', 'scroll', 'mousemove', 'touchstart'];

function sessionStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

function start(c: RecorderConfig): RecorderHandle {
  const storage = sessionStore();
  const allow = c.queryAllow;
  const limits = { idleTimeoutMs: c.idleTimeoutMs, maxDurationMs: c.maxDurationMs, sampleRate: c.sampleRate };
  const random = (b: Uint8Array) => void crypto.getRandomValues(b);
  const save = () => {
    try {
      if (storage) storage.setItem(STORAGE_KEY, JSON.stringify(session));
    } catch {
      // Storage full or denied: the session simply does not continue on the next page.
    }
  };
  let session: SessionState = resumeOrStart(parseSession(storage ? storage.getItem(STORAGE_KEY) : null), Date.now(), limits, Math.random, random);
  save();

  const origFetch = window.fetch;
  const ctx: SanitizeContext = {
    allow,
    base: location.href,
    sel: { mask: c.maskSelector, unmask: c.unmaskSelector },
    maskAllText: c.maskAllText,
    maskAllInputs: c.maskAllInputs,
    lookup: (id) => record.mirror.getNode(id) as unknown as NodeLike | null,
  };
  let stopRecord: (() => void) | undefined;
  let uploader: Uploader | null = null;
  let reducer: MovementReducer | null = null;
  let moveTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const emitCustom = (tag: string, payload: unknown) => {
    try {
      if (stopRecord) addCustomEvent(tag, payload);
    } catch {
      // Recording not running (any more): nothing to attach the event to.
    }
  };
  const uninstall: Array<() => void> = [];
  if (c.captureConsole) uninstall.push(captureConsole(emitCustom, allow));
  if (c.captureNetwork) {
    const own = c.prefix + '/';
    uninstall.push(
      captureNetwork(emitCustom, allow, (url) => {
        try {
          const u = new URL(url, location.href);
          return u.origin === location.origin && u.pathname.startsWith(own);
        } catch {
          return false;
        }
      }),
    );
  }

  const emit = (raw: RecEvent) => {
    if (!uploader || !reducer) return;
    ctx.base = location.href;
    let ev: RecEvent | null;
    try {
      ev = sanitizeEvent(raw, ctx);
    } catch {
      // An event the sanitizer cannot vouch for is dropped, never sent as is.
      return;
    }
    if (!ev) return;
    if (ev.type === EventType.IncrementalSnapshot && ACTIVITY.has(ev.data.source)) session.last = Date.now();
    if (reducer.push(ev)) {
      clearTimeout(moveTimer);
      const r = reducer;
      moveTimer = setTimeout(() => r.flush(), c.mouseGapMs + 500);
    } else {
      uploader.add(ev);
    }
  };

  const begin = () => {
    const up = new Uploader({
      endpoint: c.prefix + '/ingest',
      replayId: session.id,
      intervalMs: c.batchIntervalMs,
      maxBytes: c.batchBytes,
      nextSeq: () => {
        const s = session.seq++;
        save();
        return s;
      },
      onForbidden: stop,
      fetch: origFetch,
    });
    uploader = up;
    reducer = new MovementReducer(c.mouseGapMs, (ev) => up.add(ev));
    stopRecord = record({
      emit,
      maskAllText: c.maskAllText,
      maskAllInputs: c.maskAllInputs,
      maskTextSelector: c.maskSelector,
      unmaskTextSelector: c.unmaskSelector,
      blockSelector: c.blockSelector,
      ignoreSelector: c.ignoreSelector,
      maskTextFn: (text: string) => maskText(text),
      maskInputFn: (value: string) => '*'.repeat(value.length),
      maskAttributeFn: (name: string, value: string) => scrubAttribute(name, value, ctx) ?? '',
      slimDOMOptions: 'all',
      inlineStylesheet: true,
      inlineImages: false,
      recordCanvas: false,
      collectFonts: false,
      recordCrossOriginIframes: false,
      sampling: { mousemove: 50, scroll: 150, media: 800, input: 'last' },
      errorHandler: () => true,
    }) as (() => void) | undefined;
    emitCustom('replaygate/env', {
      browser: browserName(navigator.userAgent),
      os: osName(navigator.userAgent),
      viewport: { width: window.innerWidth, height: window.innerHeight },
      language: (document.documentElement.lang || navigator.language || '').slice(0, 35),
      url: scrubURL(location.href, allow),
    });
  };

  // Ends the current session (idle or too long); a later interaction starts a new one.
  const end = () => {
    if (stopRecord) stopRecord();
    stopRecord = undefined;
    if (reducer) reducer.flush();
    if (uploader) uploader.flush();
    reducer = null;
    uploader = null;
    for (const t of WAKE_EVENTS) addEventListener(t, wake, { capture: true, passive: true });
  };
  const wake = () => {
    for (const t of WAKE_EVENTS) removeEventListener(t, wake, { capture: true });
    if (stopped) return;
    session = resumeOrStart(null, Date.now(), limits, Math.random, random);
    save();
    if (session.sampled) begin();
  };
  const check = setInterval(() => {
    if (stopRecord && expired(session, Date.now(), limits)) end();
    else if (stopRecord) save();
  }, 5000);

  const onHide = () => {
    if (reducer) reducer.flush();
    save();
    if (uploader) uploader.flushOnHide();
  };
  const onVisibility = () => {
    if (document.visibilityState !== 'hidden') return;
    if (reducer) reducer.flush();
    save();
    if (uploader) uploader.flush();
  };
  addEventListener('pagehide', onHide);
  document.addEventListener('visibilitychange', onVisibility);

  function stop(): void {
    if (stopped) return;
    stopped = true;
    if (stopRecord) stopRecord();
    stopRecord = undefined;
    clearInterval(check);
    clearTimeout(moveTimer);
    if (reducer) reducer.reset();
    if (uploader) uploader.discard();
    reducer = null;
    uploader = null;
    for (const u of uninstall) u();
    for (const t of WAKE_EVENTS) removeEventListener(t, wake, { capture: true });
    removeEventListener('pagehide', onHide);
    document.removeEventListener('visibilitychange', onVisibility);
    try {
      if (storage) storage.removeItem(STORAGE_KEY);
    } catch {
      // Nothing to clean up then.
    }
    const w = window as unknown as Record<string, unknown>;
    if (w[RECORDER_KEY] === handle) delete w[RECORDER_KEY];
  }

  const handle: RecorderHandle = { stop };
  if (session.sampled && !expired(session, Date.now(), limits)) begin();
  return handle;
}

const w = window as unknown as Record<string, unknown>;
if (!w[RECORDER_KEY]) w[RECORDER_KEY] = start(cfg);
