import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecEvent } from '../src/events';
import { NodeLike, sanitizeEvent, SanitizeContext } from '../src/sanitize';
import { FakeElement, text } from './fakedom';

const body = new FakeElement('body');
const p = body.child('p');
const open = body.child('div', { class: 'replay-unmask' });
const style = body.child('style');
const input = body.child('input', { type: 'text' });
const openInput = open.child('input', { type: 'text' });
const card = open.child('input', { type: 'text', autocomplete: 'cc-number' });
const checkbox = body.child('input', { type: 'checkbox' });
const li = body.child('li');

const nodes = new Map<number, NodeLike>([
  [1, p], [2, text(p)], [3, open], [4, text(open)], [5, style], [6, text(style)], [7, input],
  [8, openInput], [9, card], [10, checkbox], [11, { nodeType: 8, parentElement: body }], [12, li],
]);

const ctx: SanitizeContext = {
  allow: [],
  base: 'https://shop.example/',
  sel: { mask: '.replay-mask', unmask: '.replay-unmask' },
  maskAllText: true,
  maskAllInputs: true,
  lookup: (id) => nodes.get(id) ?? null,
};

function ev(type: number, data: unknown): RecEvent {
  return { type, timestamp: 1, data };
}

test('full snapshot: text masked unless unmasked, comments dropped, CSS and attributes scrubbed', () => {
  const snap = ev(2, {
    node: {
      type: 0, id: 100, childNodes: [
        { type: 2, id: 1, tagName: 'p', attributes: { title: 'SECRET', class: 'x' }, childNodes: [{ type: 3, id: 2, textContent: 'SECRET words' }] },
        { type: 2, id: 3, tagName: 'div', attributes: { class: 'replay-unmask' }, childNodes: [{ type: 3, id: 4, textContent: 'Public text' }] },
        { type: 2, id: 5, tagName: 'style', attributes: {}, childNodes: [{ type: 3, id: 6, isStyle: true, textContent: 'p:after{content:"SECRET"}' }] },
        { type: 2, id: 7, tagName: 'input', attributes: { type: 'text', value: 'SECRET', placeholder: 'SECRET' }, childNodes: [] },
        { type: 2, id: 8, tagName: 'input', attributes: { type: 'text', value: 'shown' }, childNodes: [] },
        { type: 2, id: 9, tagName: 'input', attributes: { value: '4111111111111111' }, childNodes: [] },
        { type: 2, id: 10, tagName: 'input', attributes: { type: 'checkbox', value: 'SECRET', checked: true }, childNodes: [] },
        { type: 5, id: 11, textContent: 'SECRET comment' },
        { type: 2, id: 12, tagName: 'li', attributes: { value: '3' }, childNodes: [] },
        { type: 2, id: 999, tagName: 'a', attributes: { href: 'https://shop.example/x?t=SECRET#SECRET' }, childNodes: [{ type: 3, id: 998, textContent: 'gone node SECRET' }] },
      ],
    },
  });
  const out = sanitizeEvent(snap, ctx);
  const json = JSON.stringify(out);
  assert.ok(!json.includes('SECRET'), json);
  assert.ok(!json.includes('4111'), json);
  assert.ok(json.includes('Public text'), 'unmasked text kept');
  assert.ok(json.includes('"value":"shown"'), 'unmasked input kept');
  const kids = out!.data.node.childNodes;
  assert.equal(kids[0].childNodes[0].textContent, '****** *****');
  assert.equal(kids[6].attributes.checked, undefined, 'checked state dropped');
  assert.equal(kids[7].textContent, '');
  assert.equal(kids[9].attributes.href, 'https://shop.example/x?t=');
});

test('mutations: texts, attributes (incl. style diffs) and adds are sanitized', () => {
  const m = ev(3, {
    source: 0,
    texts: [{ id: 2, value: 'late SECRET' }, { id: 4, value: 'late public' }, { id: 6, value: 'a:after{content:"SECRET"}' }, { id: 11, value: 'SECRET' }, { id: 404, value: 'SECRET' }],
    attributes: [
      { id: 1, attributes: { 'aria-label': 'SECRET', style: { color: 'red', '--x': '"SECRET"' } } },
      { id: 7, attributes: { value: 'SECRET' } },
      { id: 8, attributes: { value: 'typed' } },
      { id: 404, attributes: { value: 'SECRET', 'data-x': 'SECRET', href: '/a?b=SECRET' } },
    ],
    adds: [{ parentId: 1, nextId: null, node: { type: 3, id: 2, textContent: 'added SECRET' } }],
    removes: [],
  });
  const out = sanitizeEvent(m, ctx);
  const json = JSON.stringify(out);
  assert.ok(!json.includes('SECRET'), json);
  assert.ok(json.includes('late public'));
  assert.ok(json.includes('"value":"typed"'));
  assert.equal(out!.data.attributes[0].attributes.style.color, 'red');
});

test('input events: masked by default, shown under unmask, never for sensitive fields', () => {
  const cases: Array<[number, string, boolean | undefined, string, boolean | undefined]> = [
    [7, 'SECRET text', undefined, '***********', undefined],
    [8, 'visible', undefined, 'visible', undefined],
    [9, '4111111111111111', undefined, '****************', undefined],
    [10, 'on', true, '**', false],
    [404, 'SECRET', undefined, '******', undefined],
  ];
  for (const [id, text, isChecked, want, wantChecked] of cases) {
    const out = sanitizeEvent(ev(3, { source: 5, id, text, isChecked }), ctx);
    assert.equal(out!.data.text, want, String(id));
    assert.equal(out!.data.isChecked, wantChecked, String(id));
  }
});

test('Meta href, style sheet events; canvas, font, log and plugin events dropped', () => {
  const meta = sanitizeEvent(ev(4, { href: 'https://shop.example/p?email=SECRET#SECRET', width: 1, height: 1 }), ctx);
  assert.equal(meta!.data.href, 'https://shop.example/p?email=');
  const rule = sanitizeEvent(ev(3, { source: 8, id: 1, adds: [{ rule: 'a:before{content:"SECRET"}', index: 0 }], replaceSync: 'b{content:"SECRET"}' }), ctx);
  assert.ok(!JSON.stringify(rule).includes('SECRET'));
  const decl = sanitizeEvent(ev(3, { source: 13, id: 1, index: [0], set: { property: 'content', value: '"SECRET"' } }), ctx);
  assert.ok(!JSON.stringify(decl).includes('SECRET'));
  const adopted = sanitizeEvent(ev(3, { source: 15, id: 1, styleIds: [1], styles: [{ styleId: 1, rules: [{ rule: 'x{content:"SECRET"}' }] }] }), ctx);
  assert.ok(!JSON.stringify(adopted).includes('SECRET'));
  for (const source of [9, 10, 11]) assert.equal(sanitizeEvent(ev(3, { source }), ctx), null, String(source));
  assert.equal(sanitizeEvent(ev(6, { plugin: 'x', payload: 'SECRET' }), ctx), null);
});
