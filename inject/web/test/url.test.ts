import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scrubCSS } from '../src/css';
import { scrubSrcset, scrubURL, scrubURLsInText } from '../src/url';

const base = 'https://shop.example/cart/view?x=1';

test('scrubURL keeps path, drops query values and fragments', () => {
  const cases: Array<[string, string[], string]> = [
    ['https://shop.example/a/b?token=SECRET&page=2#frag', ['page'], 'https://shop.example/a/b?token=&page=2'],
    ['https://user:pw@shop.example/p', [], 'https://shop.example/p'],
    ['/search?q=SECRET', [], '/search?q='],
    ['/search?q=SECRET', ['q'], '/search?q=SECRET'],
    ['/p?SECRET@mail.example', [], '/p'],
    ['/p?a=1&&b', [], '/p?a=&b='],
    ['//cdn.example/x.js?v=SECRET', [], 'https://cdn.example/x.js?v='],
    ['mailto:someone@example.com?subject=hi', [], 'mailto:'],
    ['tel:+4912345', [], 'tel:'],
    ['javascript:alert(1)', [], 'javascript:'],
    ['data:text/plain,SECRET', [], 'data:'],
    ['#section-2', [], '#section-2'],
    ['#access_token=SECRET', [], '#'],
    ['', [], ''],
    ['https://shop.example/ünï?%7Bx%7D=1', [], 'https://shop.example/%C3%BCn%C3%AF'],
  ];
  for (const [input, allow, want] of cases) {
    assert.equal(scrubURL(input, allow, base), want, input);
  }
});

test('scrubSrcset scrubs each candidate', () => {
  assert.equal(scrubSrcset('/a.png?s=SECRET 1x, /b.png?s=SECRET 2x', [], base), '/a.png?s= 1x, /b.png?s= 2x');
});

test('scrubURLsInText scrubs URLs in stack traces and keeps line numbers', () => {
  const stack = 'Error: boom\n    at f (https://shop.example/app.js?token=SECRET:10:5)';
  const got = scrubURLsInText(stack, []);
  assert.ok(!got.includes('SECRET'), got);
  assert.ok(got.includes('https://shop.example/app.js?token=:10:5'), got);
});

test('scrubCSS masks strings and scrubs urls', () => {
  const cases: Array<[string, string]> = [
    ['.a::before{content:"SECRET"}', '.a::before{content:"******"}'],
    [".a::after{content:'SECRET'}", ".a::after{content:'******'}"],
    ['input[value="SECRET"]{color:red}', 'input[value="******"]{color:red}'],
    ['/* SECRET */ .a{color:red}', ' .a{color:red}'],
    ['.a{background:url(/img.png?u=SECRET)}', '.a{background:url("/img.png?u=")}'],
    ['.a{background:url("https://x.example/i.png?u=SECRET#f")}', '.a{background:url("https://x.example/i.png?u=")}'],
    ['@import "/s.css?u=SECRET";', '@import "/s.css?u=";'],
    ['body{font-family:"Helvetica Neue",sans-serif}', 'body{font-family:"Helvetica Neue",sans-serif}'],
    ['.a{--label:"SECRET";color:red}', '.a{--label:"******";color:red}'],
    ['.a{color:red}', '.a{color:red}'],
    ['.a{content:"esc\\"aped"}', '.a{content:"*********"}'],
  ];
  for (const [input, want] of cases) assert.equal(scrubCSS(input, [], base), want, input);
});
