// The side panel: tabs listing console messages, network requests and the
// timeline's moments (pages, clicks, errors). Each entry is a button that
// seeks the player to its time; entries already played are marked.

import { h } from './dom';
import { formatBytes, formatClock, shortURL } from './format';
import { Analysis, ConsoleEntry, lastAtOrBefore, Marker, NetworkEntry } from './timeline';

interface Tab {
  id: string;
  title: string;
  entries: readonly { offset: number }[];
  items: HTMLLIElement[];
  tab: HTMLButtonElement;
  panel: HTMLElement;
  current: number;
}

const MARKER_NAMES: Record<Marker['kind'], string> = { page: 'Page', click: 'Click', error: 'Error' };

export class Panel {
  readonly element: HTMLElement;
  private readonly tabs: Tab[];

  constructor(analysis: Analysis, seek: (offset: number) => void) {
    const list = <T extends { offset: number }>(id: string, title: string, entries: readonly T[], render: (e: T) => HTMLElement[], empty: string): Tab => {
      const items = entries.map((e) => {
        const [button, ...extra] = render(e);
        if (!button) throw new Error('viewer: panel entry without a button');
        button.addEventListener('click', () => seek(e.offset));
        return h('li', { class: 'entry' }, button, ...extra);
      });
      const ul = h('ul', { class: 'entries' }, ...items);
      const panel = h(
        'div',
        { class: 'tab-panel', id: 'panel-' + id, role: 'tabpanel', 'aria-labelledby': 'tab-' + id, tabindex: 0 },
        items.length ? ul : h('p', { class: 'hint' }, empty),
      );
      const tab = h('button', { type: 'button', role: 'tab', id: 'tab-' + id, 'aria-controls': 'panel-' + id, 'aria-selected': 'false', tabindex: -1 }, `${title} (${entries.length})`);
      return { id, title, entries, items, tab, panel, current: -1 };
    };

    this.tabs = [
      list('console', 'Console', analysis.console, consoleEntry, 'No console messages were recorded.'),
      list('network', 'Network', analysis.network, networkEntry, 'No network requests were recorded.'),
      list('moments', 'Timeline', analysis.markers, markerEntry, 'No page changes, clicks or errors were recorded.'),
    ];
    const tablist = h('div', { class: 'tablist', role: 'tablist', 'aria-label': 'Recorded events' }, ...this.tabs.map((t) => t.tab));
    this.tabs.forEach((t, i) => {
      t.tab.addEventListener('click', () => this.select(i, false));
      t.tab.addEventListener('keydown', (ev) => {
        const n = this.tabs.length;
        const to = ev.key === 'ArrowRight' ? (i + 1) % n : ev.key === 'ArrowLeft' ? (i + n - 1) % n : ev.key === 'Home' ? 0 : ev.key === 'End' ? n - 1 : -1;
        if (to < 0) return;
        ev.preventDefault();
        this.select(to, true);
      });
    });
    this.element = h('aside', { class: 'panel', 'aria-label': 'Console, network and timeline' }, tablist, ...this.tabs.map((t) => t.panel));
    // Open on errors when there are any: that is usually why someone watches.
    const hasErrors = analysis.console.some((c) => c.level === 'error');
    this.select(hasErrors || analysis.console.length > 0 ? 0 : analysis.network.length > 0 ? 1 : 2, false);
  }

  /** Marks the entries at or before offset as played and the latest one as current. */
  setTime(offset: number): void {
    for (const t of this.tabs) {
      const idx = lastAtOrBefore(t.entries, offset);
      if (idx === t.current) continue;
      t.items.forEach((li, i) => {
        li.classList.toggle('played', i <= idx);
        if (i === idx) li.setAttribute('aria-current', 'true');
        else li.removeAttribute('aria-current');
      });
      t.current = idx;
    }
  }

  private select(index: number, focus: boolean): void {
    this.tabs.forEach((t, i) => {
      const on = i === index;
      t.tab.setAttribute('aria-selected', String(on));
      t.tab.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
    });
    if (focus) this.tabs[index]?.tab.focus();
  }
}

function time(offset: number): HTMLElement {
  return h('span', { class: 'entry-time' }, formatClock(offset));
}

function consoleEntry(e: ConsoleEntry): HTMLElement[] {
  const message = e.args.join(' ') || '(no arguments)';
  const button = h(
    'button',
    { type: 'button', class: 'entry-button level-' + e.level, 'aria-label': `${formatClock(e.offset)}, console ${e.level}: ${message}. Seek here.` },
    time(e.offset),
    h('span', { class: 'badge badge-level' }, e.level),
    h('span', { class: 'entry-text mono' }, message),
  );
  if (!e.trace) return [button];
  const trace = h('details', { class: 'trace' }, h('summary', {}, 'Stack trace'), h('pre', { class: 'mono' }, e.trace));
  return [button, trace];
}

function networkEntry(e: NetworkEntry): HTMLElement[] {
  const failed = e.status === 0 || e.status >= 400;
  const status = e.status === 0 ? 'failed' : String(e.status);
  const sizes = [e.requestBytes !== undefined ? '↑ ' + formatBytes(e.requestBytes) : '', e.responseBytes !== undefined ? '↓ ' + formatBytes(e.responseBytes) : '']
    .filter(Boolean)
    .join(' ');
  const details = [e.kind, e.durationMs !== undefined ? `${e.durationMs} ms` : '', sizes].filter(Boolean).join(' · ');
  return [
    h(
      'button',
      { type: 'button', class: 'entry-button' + (failed ? ' level-error' : ''), 'aria-label': `${formatClock(e.offset)}, ${e.method} ${e.url}, status ${status}. Seek here.` },
      time(e.offset),
      h('span', { class: 'badge ' + (failed ? 'badge-no' : 'badge-ok') }, status),
      h('span', { class: 'entry-text' }, h('span', { class: 'mono' }, `${e.method} ${shortURL(e.url)}`), h('span', { class: 'entry-sub' }, details)),
    ),
  ];
}

function markerEntry(m: Marker): HTMLElement[] {
  return [
    h(
      'button',
      { type: 'button', class: 'entry-button' + (m.kind === 'error' ? ' level-error' : ''), 'aria-label': `${formatClock(m.offset)}, ${m.label}. Seek here.` },
      time(m.offset),
      h('span', { class: 'marker-key marker-' + m.kind, 'aria-hidden': 'true' }),
      h('span', { class: 'badge badge-kind' }, MARKER_NAMES[m.kind]),
      h('span', { class: 'entry-text' + (m.kind === 'page' ? ' mono' : '') }, m.kind === 'error' ? m.label.replace(/^Console error: /, '') : m.label),
    ),
  ];
}
