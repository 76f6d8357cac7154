// Masking rules: which text, input values and attributes may leave the
// browser. Pure functions over DOM nodes (or node-like fakes in tests).

import { scrubCSS } from './css';
import { scrubSrcset, scrubURL } from './url';

/** Replaces every non-whitespace character with '*', keeping the layout. */
export function maskText(s: string): string {
  return s.replace(/\S/g, '*');
}

/** Selectors that decide masking; built from defaults plus server config. */
export interface Selectors {
  mask: string;
  unmask: string;
}

/** The part of Element the rules need (lets tests pass plain objects). */
export interface ElementLike {
  tagName: string;
  parentElement: ElementLike | null;
  matches(selector: string): boolean;
  getAttribute(name: string): string | null;
  getRootNode?(): unknown;
}

/** The closest ancestor-or-self, crossing shadow roots to their hosts. */
function parentAcross(el: ElementLike): ElementLike | null {
  if (el.parentElement) return el.parentElement;
  const root = el.getRootNode ? (el.getRootNode() as { host?: ElementLike } | null) : null;
  return root && root.host ? root.host : null;
}

/**
 * Decides whether content under el is shown: the nearest ancestor (crossing
 * shadow roots) matching the mask or unmask selector wins; otherwise the
 * default applies.
 */
export function isUnmasked(el: ElementLike | null, sel: Selectors, maskByDefault: boolean): boolean {
  for (let cur = el; cur; cur = parentAcross(cur)) {
    try {
      if (sel.mask && cur.matches(sel.mask)) return false;
      if (sel.unmask && cur.matches(sel.unmask)) return true;
    } catch {
      return false;
    }
  }
  return !maskByDefault;
}

const SENSITIVE_AUTOCOMPLETE = /(?:^|\s)(?:cc-[\w-]+|current-password|new-password|one-time-code)(?:\s|$)/i;
const ALWAYS_MASKED_TYPES = new Set(['password', 'hidden']);

/** True for fields whose values never leave the browser, whatever the selectors say. */
export function isSensitiveInput(el: ElementLike): boolean {
  const ac = el.getAttribute('autocomplete');
  if (ac && SENSITIVE_AUTOCOMPLETE.test(ac)) return true;
  const type = (el.getAttribute('type') || '').toLowerCase();
  return el.tagName.toUpperCase() === 'INPUT' && ALWAYS_MASKED_TYPES.has(type);
}

/** Decides whether the value of a form field (or option) may be shown. */
export function showInputValue(el: ElementLike | null, sel: Selectors, maskByDefault: boolean): boolean {
  if (!el) return false;
  // An <option>'s sensitivity follows its <select>.
  const field = el.tagName.toUpperCase() === 'OPTION' && el.parentElement ? el.parentElement : el;
  if (isSensitiveInput(field)) return false;
  return isUnmasked(el, sel, maskByDefault);
}

// Attributes whose values are structural and carry no page text.
const KEEP = new Set([
  'class', 'id', 'type', 'rel', 'role', 'width', 'height', 'colspan', 'rowspan', 'dir', 'lang',
  'tabindex', 'disabled', 'hidden', 'readonly', 'required', 'multiple', 'open', 'for', 'media',
  'sizes', 'align', 'valign', 'span', 'start', 'reversed', 'name', 'autocomplete', 'maxlength',
  'minlength', 'size', 'cols', 'rows', 'min', 'max', 'step', 'charset', 'method', 'target',
  'draggable', 'contenteditable', 'spellcheck', 'inputmode', 'enterkeyhint', 'loading', 'decoding',
  'crossorigin', 'referrerpolicy', 'as', 'slot', 'part', 'popover', 'wrap', 'scope', 'headers',
  'rr_width', 'rr_height', 'rr_scrollleft', 'rr_scrolltop', 'rr_mediastate', 'rr_mediacurrenttime',
  'rr_mediaplaybackrate', 'rr_mediamuted', 'rr_medialoop', 'rr_mediavolume',
]);
const URL_ATTRS = new Set([
  'href', 'src', 'action', 'formaction', 'poster', 'cite', 'data', 'background', 'ping',
  'xlink:href', 'manifest', 'codebase', 'longdesc', 'rr_src', 'icon',
]);
const DROP = new Set(['nonce', 'integrity', 'rr_dataurl', 'srcdoc']);
const ARIA_SAFE_VALUE = /^(?:true|false|mixed|undefined|-?\d+(?:\.\d+)?)$/;
// These aria-* attributes hold ID references or enumerations, never text.
const ARIA_SAFE = new Set([
  'aria-labelledby', 'aria-describedby', 'aria-controls', 'aria-owns', 'aria-activedescendant',
  'aria-live', 'aria-current', 'aria-haspopup', 'aria-orientation', 'aria-sort', 'aria-autocomplete',
  'aria-relevant', 'aria-details', 'aria-errormessage', 'aria-flowto',
]);

/** What scrubAttribute needs besides the attribute itself. */
export interface AttributeContext {
  allow: readonly string[];
  base?: string;
}

/**
 * Returns the value an attribute may carry in a recording, or null to drop
 * it. Unknown attributes are masked: a new attribute can never leak text.
 */
export function scrubAttribute(name: string, value: string, ctx: AttributeContext): string | null {
  const n = name.toLowerCase();
  if (DROP.has(n) || n.startsWith('on')) return null;
  if (KEEP.has(n)) return value;
  if (URL_ATTRS.has(n)) return scrubURL(value, ctx.allow, ctx.base);
  if (n === 'srcset' || n === 'imagesrcset') return scrubSrcset(value, ctx.allow, ctx.base);
  if (n === 'style' || n === '_csstext') return scrubCSS(value, ctx.allow, ctx.base);
  if (n.startsWith('aria-') && (ARIA_SAFE.has(n) || ARIA_SAFE_VALUE.test(value))) return value;
  return maskText(value);
}
