// A minimal element tree for testing the masking rules without a browser.
// matches() understands comma lists of `tag`, `.class` and `[attr]`.

import { ElementLike } from '../src/mask';

export class FakeElement implements ElementLike {
  parentElement: FakeElement | null = null;
  nodeType = 1;
  host: FakeElement | null = null; // set on shadow children: the shadow host

  constructor(
    public tagName: string,
    private attrs: Record<string, string> = {},
  ) {
    this.tagName = tagName.toUpperCase();
  }

  child(tag: string, attrs: Record<string, string> = {}): FakeElement {
    const c = new FakeElement(tag, attrs);
    c.parentElement = this;
    return c;
  }

  /** A child inside this element's shadow root. */
  shadowChild(tag: string, attrs: Record<string, string> = {}): FakeElement {
    const c = new FakeElement(tag, attrs);
    c.host = this;
    return c;
  }

  getRootNode(): unknown {
    let top: FakeElement = this;
    while (top.parentElement) top = top.parentElement;
    return top.host ? { host: top.host } : top;
  }

  getAttribute(name: string): string | null {
    return name in this.attrs ? this.attrs[name] : null;
  }

  matches(selector: string): boolean {
    return selector.split(',').some((s) => {
      const sel = s.trim();
      if (sel.startsWith('.')) return (this.attrs.class || '').split(/\s+/).includes(sel.slice(1));
      if (sel.startsWith('[')) return sel.slice(1, -1) in this.attrs;
      return sel.toUpperCase() === this.tagName;
    });
  }
}

/** A text node under parent. */
export function text(parent: FakeElement | null): { nodeType: number; parentElement: FakeElement | null } {
  return { nodeType: 3, parentElement: parent };
}
