// The last gate before events leave the recorder: every rrweb event passes
// through sanitizeEvent, which re-applies the masking rules with the live DOM
// at hand. rrweb's own masking options are the first line; this is the one
// that closes the routes rrweb leaves open (URLs, CSS, comments, attribute
// and character-data mutations, hidden/checkbox/option values, Meta href).

import { scrubCSS } from './css';
import { EventType, NodeType, RecEvent, Source } from './events';
import { AttributeContext, ElementLike, isUnmasked, maskText, scrubAttribute, Selectors, showInputValue } from './mask';
import { scrubURL } from './url';

/** A DOM node as the sanitizer sees it (a real Node in the browser). */
export interface NodeLike {
  nodeType: number;
  parentElement: ElementLike | null;
}

/** Everything sanitizeEvent needs to decide. */
export interface SanitizeContext extends AttributeContext {
  sel: Selectors;
  maskAllText: boolean;
  maskAllInputs: boolean;
  /** Maps an rrweb node id to the live node, or null when it is gone. */
  lookup(id: number): NodeLike | null;
}

const ELEMENT_NODE = 1;
const COMMENT_NODE = 8;
const FORM_TAGS = new Set(['input', 'textarea', 'select', 'option']);
const FORM_STATE = new Set(['value', 'checked', 'selected']);
const DROPPED_SOURCES: ReadonlySet<number> = new Set([Source.CanvasMutation, Source.Font, Source.Log]);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/**
 * Returns the event with every private value masked or scrubbed (mutating it
 * in place), or null when the event must not be sent at all.
 */
export function sanitizeEvent(ev: RecEvent, ctx: SanitizeContext): RecEvent | null {
  const d = ev.data;
  switch (ev.type) {
    case EventType.FullSnapshot:
      sanitizeNode(d.node, ctx, new Map());
      return ev;
    case EventType.Meta:
      if (typeof d.href === 'string') d.href = scrubURL(d.href, ctx.allow);
      return ev;
    case EventType.Custom:
      return ev;
    case EventType.Plugin:
      return null;
    case EventType.IncrementalSnapshot:
      return sanitizeIncremental(ev, ctx);
    default:
      return ev;
  }
}

function sanitizeIncremental(ev: RecEvent, ctx: SanitizeContext): RecEvent | null {
  const d = ev.data;
  if (DROPPED_SOURCES.has(d.source)) return null;
  switch (d.source) {
    case Source.Mutation: {
      const cache = new Map<ElementLike, boolean>();
      for (const t of d.texts || []) {
        if (typeof t.value === 'string') t.value = textValue(ctx.lookup(t.id), t.value, ctx, cache);
      }
      for (const a of d.attributes || []) {
        const node = ctx.lookup(a.id);
        const el = node && node.nodeType === ELEMENT_NODE ? (node as unknown as ElementLike) : null;
        const tag = el ? el.tagName.toLowerCase() : '';
        sanitizeAttributes(a.attributes, tag, el, ctx);
      }
      for (const add of d.adds || []) sanitizeNode(add.node, ctx, cache);
      return ev;
    }
    case Source.Input: {
      const node = ctx.lookup(d.id);
      const el = node && node.nodeType === ELEMENT_NODE ? (node as unknown as ElementLike) : null;
      if (!showInputValue(el, ctx.sel, ctx.maskAllInputs)) {
        if (typeof d.text === 'string') d.text = '*'.repeat(d.text.length);
        if (d.isChecked !== undefined) d.isChecked = false;
      }
      return ev;
    }
    case Source.StyleSheetRule:
      for (const r of d.adds || []) if (typeof r.rule === 'string') r.rule = scrubCSS(r.rule, ctx.allow, ctx.base);
      if (typeof d.replace === 'string') d.replace = scrubCSS(d.replace, ctx.allow, ctx.base);
      if (typeof d.replaceSync === 'string') d.replaceSync = scrubCSS(d.replaceSync, ctx.allow, ctx.base);
      return ev;
    case Source.StyleDeclaration:
      if (d.set && typeof d.set.value === 'string') d.set.value = scrubCSS(d.set.value, ctx.allow, ctx.base);
      return ev;
    case Source.AdoptedStyleSheet:
      for (const s of d.styles || []) {
        for (const r of s.rules || []) if (typeof r.rule === 'string') r.rule = scrubCSS(r.rule, ctx.allow, ctx.base);
      }
      return ev;
    default:
      return ev;
  }
}

/** Masks or keeps a text node's value according to where it lives. */
function textValue(node: NodeLike | null, value: string, ctx: SanitizeContext, cache: Map<ElementLike, boolean>): string {
  if (!node) return maskText(value);
  if (node.nodeType === COMMENT_NODE) return '';
  const parent = node.parentElement;
  if (!parent) return maskText(value);
  const tag = parent.tagName.toUpperCase();
  if (tag === 'STYLE') return scrubCSS(value, ctx.allow, ctx.base);
  if (tag === 'SCRIPT') return '';
  if (tag === 'TEXTAREA') return showInputValue(parent, ctx.sel, ctx.maskAllInputs) ? value : maskText(value);
  let show = cache.get(parent);
  if (show === undefined) {
    show = isUnmasked(parent, ctx.sel, ctx.maskAllText);
    cache.set(parent, show);
  }
  return show ? value : maskText(value);
}

function sanitizeNode(n: Json, ctx: SanitizeContext, cache: Map<ElementLike, boolean>): void {
  if (!n || typeof n !== 'object') return;
  switch (n.type) {
    case NodeType.Element: {
      const node = ctx.lookup(n.id);
      const el = node && node.nodeType === ELEMENT_NODE ? (node as unknown as ElementLike) : null;
      sanitizeAttributes(n.attributes, String(n.tagName || '').toLowerCase(), el, ctx);
      break;
    }
    case NodeType.Text:
      if (typeof n.textContent === 'string' && n.textContent !== '') {
        n.textContent = n.isStyle
          ? scrubCSS(n.textContent, ctx.allow, ctx.base)
          : textValue(ctx.lookup(n.id), n.textContent, ctx, cache);
      }
      break;
    case NodeType.Comment:
    case NodeType.CDATA:
      n.textContent = '';
      break;
  }
  if (Array.isArray(n.childNodes)) for (const c of n.childNodes) sanitizeNode(c, ctx, cache);
}

function sanitizeAttributes(attrs: Json, tag: string, el: ElementLike | null, ctx: SanitizeContext): void {
  if (!attrs || typeof attrs !== 'object') return;
  for (const name of Object.keys(attrs)) {
    const v = attrs[name];
    if (v === null || v === undefined) continue;
    const lname = name.toLowerCase();
    if (FORM_STATE.has(lname) && (FORM_TAGS.has(tag) || !el)) {
      if (!showInputValue(el, ctx.sel, ctx.maskAllInputs)) {
        if (lname === 'value') attrs[name] = '*'.repeat(String(v).length);
        else delete attrs[name];
      }
      continue;
    }
    if (typeof v === 'string') {
      const s = scrubAttribute(lname, v, ctx);
      if (s === null) delete attrs[name];
      else attrs[name] = s;
    } else if (typeof v === 'object') {
      // A style diff from an attribute mutation: {prop: value | [value, priority] | false}.
      for (const prop of Object.keys(v)) {
        const pv = v[prop];
        if (typeof pv === 'string') v[prop] = scrubCSS(pv, ctx.allow, ctx.base);
        else if (Array.isArray(pv) && typeof pv[0] === 'string') pv[0] = scrubCSS(pv[0], ctx.allow, ctx.base);
      }
    } else if (typeof v === 'boolean' && !FORM_STATE.has(lname)) {
      continue;
    } else if (typeof v !== 'number') {
      delete attrs[name];
    }
  }
}
