// GET / — the recordings list, newest first, with a delete button per row.

import { deleteReplay, listReplays, ReplayMeta } from './api';
import { confirmDialog } from './confirm';
import { append, h, replaceChildren } from './dom';
import { formatBytes, formatDateTime, formatDuration, parseTime, shortURL } from './format';
import { handleError, Render, run } from './shell';

const MAX_PAGES_SHOWN = 3;

const render: Render = async (main) => {
  const replays = await listReplays();
  const announce = h('p', { class: 'visually-hidden', role: 'status', id: 'announce' });
  const refresh = h('button', { type: 'button', class: 'button' }, 'Refresh');
  refresh.addEventListener('click', () => {
    void render(main).catch((err: unknown) => handleError(main, err, render));
  });
  const count = h('p', { class: 'page-meta' }, countText(replays.length));
  const head = h('div', { class: 'page-head' }, h('h1', {}, 'Recordings'), count, refresh);
  replaceChildren(main, head, announce);
  if (replays.length === 0) {
    append(main, emptyState());
    return;
  }
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'table', id: 'replays' },
    h('caption', { class: 'visually-hidden' }, 'Recordings, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Started', 'Duration', 'Pages', 'Browser', 'Segments', 'Size', 'Errors', 'Clicks', 'Visitor'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
      ),
    ),
    tbody,
  );
  const wrap = h('div', { class: 'table-wrap' }, table);
  const onDeleted = () => {
    const left = tbody.rows.length;
    count.textContent = countText(left);
    if (left === 0) wrap.replaceWith(emptyState());
  };
  for (const r of replays) tbody.appendChild(row(r, main, announce, onDeleted));
  append(main, wrap);
};

function countText(n: number): string {
  return n === 1 ? '1 recording' : `${n} recordings`;
}

function row(r: ReplayMeta, main: HTMLElement, announce: HTMLElement, onDeleted: () => void): HTMLTableRowElement {
  const started = parseTime(r.startedAt);
  const ended = parseTime(r.endedAt);
  const when = started ? formatDateTime(started) : 'unknown time';
  const link = h(
    'a',
    { href: '/replays/' + encodeURIComponent(r.id), class: 'play-link' },
    h('span', { class: 'play-icon', 'aria-hidden': 'true' }, '▶'),
    started ? h('time', { datetime: started.toISOString() }, when) : when,
  );
  const del = h('button', { type: 'button', class: 'button button-quiet button-danger-text', 'aria-label': `Delete recording started ${when}` }, 'Delete');
  const tr = h(
    'tr',
    { 'data-replay': r.id },
    h('td', {}, link),
    h('td', { class: 'num' }, started && ended ? formatDuration(ended.getTime() - started.getTime()) : '—'),
    h('td', {}, pages(r.urls ?? [])),
    h('td', {}, [r.browser, r.os].filter(Boolean).join(' · ') || '—'),
    h('td', { class: 'num' }, r.segments),
    h('td', { class: 'num' }, formatBytes(r.bytes)),
    h('td', { class: 'num' + ((r.errors ?? 0) > 0 ? ' has-errors' : '') }, r.errors ?? 0),
    h('td', { class: 'num' }, r.clicks ?? 0),
    h(
      'td',
      {},
      r.subject
        ? h('a', { href: '/consents?subject=' + encodeURIComponent(r.subject), title: 'Consent records of visitor ' + r.subject }, h('code', {}, r.subject.slice(0, 8)))
        : '—',
    ),
    h('td', { class: 'actions' }, del),
  );
  del.addEventListener('click', () => {
    void confirmDialog('Delete this recording?', `The recording started ${when} will be removed from the store. This cannot be undone.`, 'Delete recording').then(async (yes) => {
      if (!yes) return;
      del.disabled = true;
      try {
        await deleteReplay(r.id);
      } catch (err) {
        del.disabled = false;
        handleError(main, err, render);
        return;
      }
      const next = tr.nextElementSibling ?? tr.previousElementSibling;
      tr.remove();
      onDeleted();
      announce.textContent = 'Recording deleted.';
      const focusTarget = next?.querySelector('button');
      if (focusTarget instanceof HTMLElement) focusTarget.focus();
      else main.focus();
    });
  });
  return tr;
}

function pages(urls: string[]): Node {
  if (urls.length === 0) return document.createTextNode('—');
  const list = h('ul', { class: 'pages' });
  for (const u of urls.slice(0, MAX_PAGES_SHOWN)) list.appendChild(h('li', { title: u }, shortURL(u)));
  if (urls.length > MAX_PAGES_SHOWN) list.appendChild(h('li', { class: 'more', title: urls.slice(MAX_PAGES_SHOWN).join('\n') }, `+${urls.length - MAX_PAGES_SHOWN} more`));
  return list;
}

function emptyState(): HTMLElement {
  return h(
    'section',
    { class: 'empty', 'aria-labelledby': 'empty-title' },
    h('h2', { id: 'empty-title' }, 'No recordings yet'),
    h('p', {}, 'Recordings appear here a few seconds after a visitor who agreed to recording uses the site. To make one:'),
    h(
      'ol',
      {},
      h('li', {}, 'Open the site through replaygate’s public listener (with ', h('code', {}, 'replaygate demo'), ', the shop URL it printed).'),
      h('li', {}, 'Accept recording in the consent banner.'),
      h('li', {}, 'Click around, fill in a form, visit another page.'),
      h('li', {}, 'Wait a few seconds (uploads are batched) or leave the page, then refresh this list.'),
    ),
    h('p', { class: 'hint' }, 'Nothing is recorded before consent, and text, inputs and images are masked in the browser before upload.'),
  );
}

run(render);
