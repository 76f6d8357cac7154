// GET /consents — the consent proof log, optionally for one visitor
// (?subject=…), newest first.

import { APIError, ConsentRecord, eraseSubject, listConsents } from './api';
import { confirmDialog } from './confirm';
import { append, h, replaceChildren } from './dom';
import { formatDateTime, parseTime } from './format';
import { handleError, Render, run } from './shell';

const render: Render = async (main) => {
  const subject = new URLSearchParams(location.search).get('subject') ?? '';
  let records: ConsentRecord[] = [];
  let filterError = '';
  try {
    records = (await listConsents(subject)).slice().sort((a, b) => b.time.localeCompare(a.time));
  } catch (err) {
    // A malformed visitor id is the user's to fix in the filter, not a page failure.
    if (!(err instanceof APIError) || err.status !== 400) throw err;
    filterError = err.message;
  }

  const input = h('input', {
    id: 'subject',
    name: 'subject',
    type: 'search',
    value: subject,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-invalid': filterError ? 'true' : false,
    'aria-describedby': filterError ? 'filter-error' : false,
  });
  const form = h(
    'form',
    { class: 'filter', role: 'search', 'aria-label': 'Filter by visitor' },
    h('label', { for: 'subject' }, 'Visitor id'),
    input,
    h('button', { type: 'submit', class: 'button' }, 'Filter'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    history.replaceState(null, '', v ? '/consents?subject=' + encodeURIComponent(v) : '/consents');
    void render(main).catch((err: unknown) => handleError(main, err, render));
  });
  const count = records.length === 1 ? '1 record' : `${records.length} records`;
  replaceChildren(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Consent log'), filterError ? null : h('p', { class: 'page-meta' }, subject ? `${count} for visitor ${subject}` : count)),
    h(
      'p',
      { class: 'hint' },
      'Every consent decision the gateway accepted, as written to the append-only proof log before the decision took effect.',
    ),
    form,
  );
  if (filterError) {
    append(main, h('p', { class: 'notice notice-error', id: 'filter-error', role: 'alert' }, filterError));
    return;
  }
  if (subject) append(main, subjectActions(main, subject));
  if (records.length === 0) {
    append(
      main,
      h(
        'section',
        { class: 'empty' },
        h('h2', {}, subject ? 'No records for this visitor' : 'No consent decisions yet'),
        h('p', {}, 'A record is written when a visitor accepts or declines recording in the consent banner, or withdraws consent.'),
      ),
    );
    return;
  }
  const tbody = h('tbody');
  for (const r of records) tbody.appendChild(row(r));
  append(
    main,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table', id: 'consents' },
        h('caption', { class: 'visually-hidden' }, 'Consent records, newest first'),
        h(
          'thead',
          {},
          h('tr', {}, ...['Time', 'Event', 'Visitor', 'Policy version', 'Mode', 'Language', 'Region', 'GPC', 'Expires'].map((c) => h('th', { scope: 'col' }, c))),
        ),
        tbody,
      ),
    ),
  );
};

// Links back to all visitors and offers erasure of this visitor's recordings.
function subjectActions(main: HTMLElement, subject: string): HTMLElement {
  const status = h('p', { role: 'status', class: 'hint' });
  const erase = h('button', { type: 'button', class: 'button button-quiet button-danger-text', id: 'erase' }, 'Erase this visitor’s recordings');
  erase.addEventListener('click', () => {
    void confirmDialog(
      'Erase this visitor’s recordings?',
      `Every stored recording of visitor ${subject} is deleted, including segments still on their way. The consent records stay: they are the proof of what was decided.`,
      'Erase recordings',
    ).then(async (yes) => {
      if (!yes) return;
      erase.disabled = true;
      try {
        await eraseSubject(subject);
      } catch (err) {
        erase.disabled = false;
        handleError(main, err, render);
        return;
      }
      status.textContent = `The recordings of visitor ${subject} were erased.`;
    });
  });
  return h('div', { class: 'subject-actions' }, h('a', { href: '/consents' }, 'Show all visitors'), erase, status);
}

function timeCell(s: string | undefined): HTMLTableCellElement {
  const d = parseTime(s);
  return h('td', {}, d ? h('time', { datetime: d.toISOString() }, formatDateTime(d)) : '—');
}

function row(r: ConsentRecord): HTMLTableRowElement {
  const kind = r.event || r.decision;
  return h(
    'tr',
    {},
    timeCell(r.time),
    h('td', {}, h('span', { class: 'badge badge-' + (kind === 'grant' || r.decision === 'granted' ? 'ok' : 'no') }, label(r))),
    h('td', {}, r.subject ? h('a', { href: '/consents?subject=' + encodeURIComponent(r.subject) }, h('code', {}, r.subject)) : '—'),
    h('td', {}, r.policyVersion || '—'),
    h('td', {}, r.mode || '—'),
    h('td', {}, r.language || '—'),
    h('td', {}, r.region || '—'),
    h('td', {}, r.gpc ? 'yes' : 'no'),
    timeCell(r.expiresAt),
  );
}

function label(r: ConsentRecord): string {
  switch (r.event) {
    case 'grant':
      return 'granted';
    case 'deny':
      return 'denied';
    case 'withdraw':
      return 'withdrawn';
    default:
      return r.event || r.decision || 'unknown';
  }
}

run(render);
