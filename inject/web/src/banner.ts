// The consent banner, rendered in a shadow root so the site's CSS cannot
// reach it. Styles go through a constructable style sheet (adoptedStyleSheets),
// which a strict CSP does not block; only very old browsers fall back to a
// nonce-carrying <style>. No inline style attributes anywhere.

import { BannerTexts } from './types';

const CSS = `
:host{all:initial}
.b{position:fixed;z-index:2147483647;left:16px;right:16px;bottom:16px;max-width:640px;margin:0 auto;box-sizing:border-box;padding:20px;background:#fff;color:#1b1b1b;border:1px solid #5f6368;border-radius:8px;box-shadow:0 4px 24px rgba(0,0,0,.25);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h2{margin:0 0 8px;font-size:17px;font-weight:600}
p{margin:0 0 16px}
a{color:#0b57d0;text-decoration:underline}
.a{display:flex;gap:12px;flex-wrap:wrap}
button{flex:1 1 140px;min-height:44px;padding:10px 16px;border:2px solid #1b1b1b;border-radius:6px;background:#1b1b1b;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button:hover{background:#3c4043}
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
.c{position:fixed;z-index:2147483647;left:12px;bottom:12px;flex:none;min-height:32px;padding:4px 12px;font-size:13px;font-weight:400}
@media (prefers-color-scheme:dark){.b{background:#202124;color:#e8eaed;border-color:#9aa0a6}a{color:#a8c7fa}button{background:#e8eaed;color:#202124;border-color:#e8eaed}button:hover{background:#c4c7c5}:focus-visible{outline-color:#a8c7fa}}
`;

let sheet: CSSStyleSheet | null = null;

function host(nonce: string): { el: HTMLElement; root: ShadowRoot } {
  const el = document.createElement('div');
  el.setAttribute('data-replaygate', '');
  // Never recorded: the banner is ours, not the site's.
  el.className = 'replay-block';
  const root = el.attachShadow({ mode: 'open' });
  const canAdopt = 'adoptedStyleSheets' in Document.prototype && 'replaceSync' in CSSStyleSheet.prototype;
  if (canAdopt) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement('style');
    if (nonce) style.nonce = nonce;
    style.textContent = CSS;
    root.appendChild(style);
  }
  document.body.appendChild(el);
  return { el, root };
}

function node<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string>, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Callbacks of the banner's controls. */
export interface BannerActions {
  accept(): void;
  reject(): void;
  dismiss(): void;
}

/** A shown banner. */
export interface Banner {
  close(): void;
}

/** Shows the banner; optOut selects the notice text for opt-out regions. */
export function banner(t: BannerTexts, lang: string, optOut: boolean, noticeUrl: string, nonce: string, focus: boolean, on: BannerActions): Banner {
  const { el, root } = host(nonce);
  const box = node('div', { class: 'b', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'rg-t', 'aria-describedby': 'rg-d', lang });
  const title = node('h2', { id: 'rg-t' }, t.title);
  const body = node('p', { id: 'rg-d' }, (optOut ? t.optOutBody : t.body) + ' ');
  if (noticeUrl) body.appendChild(node('a', { href: noticeUrl, target: '_blank', rel: 'noopener' }, t.notice));
  const actions = node('div', { class: 'a' });
  // Equal weight: same element, same style, same size; Reject first in reading order.
  const reject = node('button', { type: 'button', 'data-action': 'reject' }, t.reject);
  const accept = node('button', { type: 'button', 'data-action': 'accept' }, t.accept);
  reject.addEventListener('click', on.reject);
  accept.addEventListener('click', on.accept);
  actions.append(reject, accept);
  box.append(title, body, actions);
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') on.dismiss();
  });
  root.appendChild(box);
  if (focus) reject.focus();
  return { close: () => el.remove() };
}

/** Shows the small "privacy choices" button that reopens the banner. */
export function choicesButton(label: string, nonce: string, onClick: () => void): HTMLElement {
  const { el, root } = host(nonce);
  const b = node('button', { type: 'button', class: 'c', 'aria-haspopup': 'dialog' }, label);
  b.addEventListener('click', onClick);
  root.appendChild(b);
  return el;
}
