import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSensitiveInput, isUnmasked, maskText, scrubAttribute, showInputValue } from '../src/mask';
import { FakeElement } from './fakedom';

const sel = {
  mask: '.replay-mask,[data-replay-mask],.sentry-mask',
  unmask: '.replay-unmask,[data-replay-unmask],.sentry-unmask',
};

test('maskText keeps whitespace and length', () => {
  assert.equal(maskText('Jane Doe\n  42'), '**** ***\n  **');
  assert.equal(maskText(''), '');
});

test('isUnmasked: nearest mask/unmask ancestor wins, default masks', () => {
  const body = new FakeElement('body');
  const plain = body.child('p');
  const open = body.child('div', { class: 'replay-unmask' });
  const inner = open.child('span');
  const masked = open.child('div', { 'data-replay-mask': '' }).child('b');
  const reopened = open.child('div', { class: 'replay-mask' }).child('i', { class: 'sentry-unmask' });
  const host = body.child('x-widget', { class: 'replay-unmask' });
  const shadow = host.shadowChild('span');
  assert.equal(isUnmasked(plain, sel, true), false);
  assert.equal(isUnmasked(plain, sel, false), true);
  assert.equal(isUnmasked(inner, sel, true), true);
  assert.equal(isUnmasked(masked, sel, true), false);
  assert.equal(isUnmasked(reopened, sel, true), true);
  assert.equal(isUnmasked(shadow, sel, true), true, 'unmask crosses shadow roots');
  assert.equal(isUnmasked(null, sel, true), false);
  assert.equal(isUnmasked(inner, { mask: '', unmask: '[' }, true), false, 'a broken selector masks');
});

test('sensitive inputs stay masked even inside unmask', () => {
  const open = new FakeElement('form', { class: 'replay-unmask' });
  const cases: Array<[Record<string, string>, boolean]> = [
    [{ type: 'text' }, true],
    [{ type: 'password' }, false],
    [{ type: 'hidden' }, false],
    [{ type: 'text', autocomplete: 'cc-number' }, false],
    [{ type: 'text', autocomplete: 'billing cc-csc' }, false],
    [{ type: 'text', autocomplete: 'current-password' }, false],
    [{ type: 'text', autocomplete: 'new-password' }, false],
    [{ type: 'text', autocomplete: 'one-time-code' }, false],
    [{ type: 'email', autocomplete: 'email' }, true],
  ];
  for (const [attrs, shown] of cases) {
    assert.equal(showInputValue(open.child('input', attrs), sel, true), shown, JSON.stringify(attrs));
  }
  assert.equal(showInputValue(new FakeElement('input', { type: 'text' }), sel, true), false, 'masked by default');
  const select = open.child('select', { autocomplete: 'cc-exp-month' });
  assert.equal(showInputValue(select.child('option'), sel, true), false, 'option follows its select');
  assert.equal(isSensitiveInput(new FakeElement('textarea', { autocomplete: 'one-time-code' })), true);
  assert.equal(showInputValue(null, sel, false), false);
});

test('scrubAttribute masks text-bearing attributes, keeps structure, scrubs URLs', () => {
  const ctx = { allow: ['page'], base: 'https://shop.example/' };
  const cases: Array<[string, string, string | null]> = [
    ['class', 'btn primary', 'btn primary'],
    ['id', 'main', 'main'],
    ['type', 'email', 'email'],
    ['title', 'Jane Doe', '**** ***'],
    ['alt', 'photo of SECRET', '***** ** ******'],
    ['placeholder', 'SECRET', '******'],
    ['aria-label', 'SECRET', '******'],
    ['aria-description', 'SECRET', '******'],
    ['aria-hidden', 'true', 'true'],
    ['aria-labelledby', 'h1 h2', 'h1 h2'],
    ['data-user', 'SECRET', '******'],
    ['value', 'SECRET', '******'],
    ['content', 'SECRET', '******'],
    ['label', 'SECRET', '******'],
    ['x-unknown', 'SECRET', '******'],
    ['href', '/p?token=SECRET&page=3#x', '/p?token=&page=3'],
    ['src', 'https://cdn.example/a.js?k=SECRET', 'https://cdn.example/a.js?k='],
    ['action', '/submit?email=SECRET', '/submit?email='],
    ['srcset', '/a.png?u=SECRET 2x', '/a.png?u= 2x'],
    ['style', 'background:url(/b.png?u=SECRET)', 'background:url("/b.png?u=")'],
    ['_cssText', '.a:after{content:"SECRET"}', '.a:after{content:"******"}'],
    ['onclick', 'steal()', null],
    ['nonce', 'abc', null],
    ['srcdoc', '<p>SECRET</p>', null],
  ];
  for (const [name, value, want] of cases) assert.equal(scrubAttribute(name, value, ctx), want, name);
});
