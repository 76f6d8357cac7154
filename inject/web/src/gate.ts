// gate.js: injected into every page. Learns the consent state (companion
// cookie, else GET {prefix}/consent), shows the banner when the policy asks,
// posts the decision, and loads recorder.js only after consent.

import { banner, Banner, choicesButton } from './banner';
import { companionDecision, pickLanguage, readCookie } from './lang';
import { ConsentState, Decision, GateConfig, Mode, RECORDER_KEY, RecorderHandle } from './types';

// Replaced by the server with the active banner and policy settings.
const cfg = JSON.parse("@@REPLAYGATE_GATE_CONFIG@@") as GateConfig;

interface Api {
  showConsent(): void;
  consent(): ConsentState;
  withdraw(): Promise<void>;
}

function main(): void {
  const w = window as unknown as Record<string, unknown> & { replaygate?: Api };
  if (w.replaygate) return;
  const script = document.currentScript as HTMLScriptElement | null;
  const nonce = script ? script.nonce || script.getAttribute('nonce') || '' : '';
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean };
  // How the server treats GPC; learnt from GET {prefix}/consent.
  let gpcPolicy: 'refuse' | 'ignore' = 'refuse';
  const state: ConsentState = { decision: 'none', mode: 'unknown', gpc: nav.globalPrivacyControl === true, policyVersion: cfg.policyVersion };
  const lang = pickLanguage(
    [document.documentElement.lang, ...(navigator.languages || []), navigator.language],
    new Set(Object.keys(cfg.texts)),
    cfg.defaultLanguage,
  );
  const texts = cfg.texts[lang] || cfg.texts[cfg.defaultLanguage];
  let shown: Banner | null = null;
  let choices: HTMLElement | null = null;
  let loaded = false;

  // Decisions are posted one after another, so a quick Reject after the
  // implicit opt-out grant cannot overtake it.
  let queue: Promise<unknown> = Promise.resolve();
  const post = (decision: 'granted' | 'denied'): Promise<boolean> => {
    const p = queue.then(() =>
      fetch(cfg.prefix + '/consent', {
        method: 'POST',
        credentials: 'same-origin',
        keepalive: true,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ decision, language: lang }),
      }).then(
        (r) => r.ok,
        () => false,
      ),
    );
    queue = p;
    return p;
  };

  const loadRecorder = () => {
    if (loaded || w[RECORDER_KEY]) return;
    loaded = true;
    const s = document.createElement('script');
    s.src = cfg.recorder;
    s.async = true;
    if (nonce) s.nonce = nonce;
    (document.head || document.documentElement).appendChild(s);
  };

  const stopRecorder = () => {
    const r = w[RECORDER_KEY] as RecorderHandle | undefined;
    if (r) r.stop();
    loaded = false;
  };

  const showChoices = () => {
    if (!cfg.privacyChoices || choices) return;
    choices = choicesButton(texts.choices, nonce, () => api.showConsent());
  };

  const decide = (d: 'granted' | 'denied') => {
    if (shown) shown.close();
    shown = null;
    const before = state.decision;
    state.decision = d;
    if (d === 'denied') {
      stopRecorder();
      void post('denied');
    } else if (before !== 'granted') {
      void post('granted').then((ok) => {
        if (ok && state.decision === 'granted') loadRecorder();
      });
    } else {
      loadRecorder();
    }
    showChoices();
  };

  const open = (focus: boolean) => {
    if (shown) return;
    if (choices) {
      choices.remove();
      choices = null;
    }
    const optOut = state.mode === 'opt-out';
    shown = banner(texts, lang, optOut, cfg.noticeUrl, nonce, focus, {
      accept: () => decide('granted'),
      reject: () => decide('denied'),
      dismiss: () => {
        if (shown) shown.close();
        shown = null;
        showChoices();
      },
    });
  };

  const api: Api = {
    showConsent: () => whenBody(() => open(true)),
    consent: () => ({ ...state }),
    withdraw: () => {
      stopRecorder();
      state.decision = 'denied';
      return post('denied').then(() => undefined);
    },
  };
  w.replaygate = api;

  const apply = (fresh: boolean) => {
    if (state.decision === 'granted') {
      loadRecorder();
      whenBody(showChoices);
      return;
    }
    if (state.decision === 'denied' || state.mode === 'off' || !fresh) {
      whenBody(showChoices);
      return;
    }
    // No decision yet. Unless the server's policy ignores it, GPC counts as
    // a refusal and is never asked over.
    if (state.gpc && gpcPolicy !== 'ignore') return;
    if (state.mode === 'opt-in') whenBody(() => open(false));
    else if (state.mode === 'opt-out') {
      whenBody(() => open(false));
      // Opt-out regions record unless the visitor declines; the notice is now shown.
      void post('granted').then((ok) => {
        if (ok && state.decision === 'none') {
          state.decision = 'granted';
          loadRecorder();
        }
      });
    }
  };

  const known = companionDecision(readCookie(document.cookie, 'rg_consent_state'), cfg.policyVersion);
  if (known) {
    state.decision = known;
    apply(false);
    return;
  }
  fetch(cfg.prefix + '/consent', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error('consent ' + r.status))))
    .then((j: { decision?: Decision; mode?: Mode; gpc?: boolean; gpcPolicy?: string; policyVersion?: string }) => {
      if (state.decision !== 'none') return; // decided meanwhile through the API
      state.decision = j.decision === 'granted' || j.decision === 'denied' ? j.decision : 'none';
      state.mode = j.mode === 'opt-out' || j.mode === 'off' ? j.mode : 'opt-in';
      state.gpc = state.gpc || j.gpc === true;
      gpcPolicy = j.gpcPolicy === 'ignore' ? 'ignore' : 'refuse';
      if (j.policyVersion) state.policyVersion = j.policyVersion;
      apply(true);
    })
    .catch(() => {
      // Without the server's answer nothing is recorded; the API still works.
    });
}

function whenBody(fn: () => void): void {
  if (document.body) fn();
  else document.addEventListener('DOMContentLoaded', fn, { once: true });
}

main();
