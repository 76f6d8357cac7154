// The player's transport: play/pause, position scrubber with markers for
// page changes, clicks and console errors, speed and inactivity skipping.
// Markers are a picture of the timeline; the side panel's lists are the
// keyboard-operable way to jump to the same moments.

import { h } from './dom';
import { formatClock } from './format';
import { Marker, MarkerKind, percent } from './timeline';

export const SPEEDS = [1, 2, 4, 8] as const;

export interface ControlHandlers {
  toggle(): void;
  seek(offset: number): void;
  speed(speed: number): void;
  skipInactive(on: boolean): void;
}

const KIND_NAMES: Record<MarkerKind, string> = { page: 'Page change', click: 'Click', error: 'Console error' };

export class Controls {
  readonly element: HTMLElement;
  private readonly playButton: HTMLButtonElement;
  private readonly range: HTMLInputElement;
  private readonly clock: HTMLElement;
  private readonly progress: HTMLElement;
  private scrubbing = false;
  private lastAnnounced = -1;

  constructor(
    private readonly duration: number,
    markers: readonly Marker[],
    handlers: ControlHandlers,
  ) {
    this.playButton = h('button', { type: 'button', class: 'button button-primary play', id: 'play' }, 'Play');
    this.playButton.addEventListener('click', () => handlers.toggle());

    this.range = h('input', {
      type: 'range',
      id: 'position',
      min: 0,
      max: Math.max(1, Math.round(duration)),
      // "any" keeps the thumb exactly at the end of any length; the keys
      // below give keyboard users useful steps instead of 1 ms.
      step: 'any',
      value: 0,
      'aria-label': 'Playback position',
    });
    this.range.addEventListener('keydown', (ev) => {
      const now = Number(this.range.value);
      const to = rangeKeyTarget(ev.key, now, duration);
      if (to === null) return;
      ev.preventDefault();
      this.range.value = String(to);
      this.showTime(to);
      handlers.seek(to);
    });
    this.range.addEventListener('input', () => {
      this.scrubbing = true;
      this.showTime(Number(this.range.value));
      handlers.seek(Number(this.range.value));
    });
    this.range.addEventListener('change', () => {
      this.scrubbing = false;
    });

    this.progress = h('div', { class: 'track-progress' });
    const track = h('div', { class: 'track', 'aria-hidden': 'true' }, this.progress);
    for (const m of markers) {
      const dot = h('span', { class: 'marker marker-' + m.kind, title: `${formatClock(m.offset)} ${m.label}` });
      dot.style.left = percent(m.offset, duration) + '%';
      track.appendChild(dot);
    }
    this.clock = h('span', { class: 'clock' }, `0:00 / ${formatClock(duration)}`);

    const speedGroup = h('fieldset', { class: 'speeds' }, h('legend', { class: 'visually-hidden' }, 'Playback speed'));
    for (const s of SPEEDS) {
      const id = 'speed-' + s;
      const radio = h('input', { type: 'radio', name: 'speed', id, value: s, checked: s === 1 });
      radio.addEventListener('change', () => {
        if (radio.checked) handlers.speed(s);
      });
      speedGroup.append(radio, h('label', { for: id }, `${s}×`));
    }

    const skip = h('input', { type: 'checkbox', id: 'skip-inactive', checked: true });
    skip.addEventListener('change', () => handlers.skipInactive(skip.checked));

    const counts = (k: MarkerKind) => markers.filter((m) => m.kind === k).length;
    const legend = h(
      'ul',
      { class: 'legend' },
      ...(['page', 'click', 'error'] as const).map((k) =>
        h('li', {}, h('span', { class: 'marker-key marker-' + k, 'aria-hidden': 'true' }), `${KIND_NAMES[k]}s: ${counts(k)}`),
      ),
    );

    this.element = h(
      'div',
      { class: 'controls', role: 'group', 'aria-label': 'Player controls' },
      h('div', { class: 'scrubber' }, track, this.range),
      h(
        'div',
        { class: 'controls-row' },
        this.playButton,
        this.clock,
        speedGroup,
        h('span', { class: 'check' }, skip, h('label', { for: 'skip-inactive' }, 'Skip inactivity')),
      ),
      legend,
    );
  }

  /** Moves the scrubber and clock to offset (ms), unless the user is dragging it. */
  setTime(offset: number): void {
    if (!this.scrubbing) this.range.value = String(Math.round(offset));
    this.showTime(offset);
  }

  /** Shows the play or pause state. */
  setPlaying(playing: boolean): void {
    this.playButton.textContent = playing ? 'Pause' : 'Play';
  }

  /** Focuses the play button. */
  focus(): void {
    this.playButton.focus();
  }

  private showTime(offset: number): void {
    const t = Math.min(offset, this.duration);
    this.clock.textContent = `${formatClock(t)} / ${formatClock(this.duration)}`;
    this.progress.style.width = percent(t, this.duration) + '%';
    // Screen readers read aria-valuetext on focus; update it once a second, not every frame.
    const sec = Math.floor(t / 1000);
    if (sec !== this.lastAnnounced) {
      this.lastAnnounced = sec;
      this.range.setAttribute('aria-valuetext', `${formatClock(t)} of ${formatClock(this.duration)}`);
    }
  }
}

/** Keyboard steps of the position slider: arrows 5 s, Page Up/Down 30 s, Home/End; null for other keys. */
export function rangeKeyTarget(key: string, now: number, duration: number): number | null {
  const clamp = (t: number) => Math.max(0, Math.min(duration, t));
  switch (key) {
    case 'ArrowRight':
    case 'ArrowUp':
      return clamp(now + 5000);
    case 'ArrowLeft':
    case 'ArrowDown':
      return clamp(now - 5000);
    case 'PageUp':
      return clamp(now + 30000);
    case 'PageDown':
      return clamp(now - 30000);
    case 'Home':
      return 0;
    case 'End':
      return clamp(duration);
    default:
      return null;
  }
}
