// Settings the Go side embeds into each bundle (same bytes for every visitor).

/** Texts of the consent banner in one language. */
export interface BannerTexts {
  title: string;
  body: string;
  optOutBody: string;
  accept: string;
  reject: string;
  notice: string;
  choices: string;
}

/** Configuration embedded into gate.js. */
export interface GateConfig {
  prefix: string;
  policyVersion: string;
  recorder: string;
  noticeUrl: string;
  privacyChoices: boolean;
  defaultLanguage: string;
  texts: Record<string, BannerTexts>;
}

/** Configuration embedded into recorder.js. */
export interface RecorderConfig {
  prefix: string;
  maskAllText: boolean;
  maskAllInputs: boolean;
  maskSelector: string;
  unmaskSelector: string;
  blockSelector: string;
  ignoreSelector: string;
  queryAllow: string[];
  sampleRate: number;
  idleTimeoutMs: number;
  maxDurationMs: number;
  captureConsole: boolean;
  captureNetwork: boolean;
  batchIntervalMs: number;
  batchBytes: number;
  mouseGapMs: number;
}

/** Consent decision as the server and the companion cookie state it. */
export type Decision = 'granted' | 'denied' | 'none';

/** Consent mode for the visitor's region. */
export type Mode = 'opt-in' | 'opt-out' | 'off';

/** What window.replaygate.consent() returns. */
export interface ConsentState {
  decision: Decision;
  mode: Mode | 'unknown';
  gpc: boolean;
  policyVersion: string;
}

/** The handle the recorder leaves for the gate, so withdrawal can stop it. */
export interface RecorderHandle {
  /** Stops recording at once and discards everything not yet uploaded. */
  stop(): void;
}

/** Global symbol under which the recorder registers its handle. */
export const RECORDER_KEY = 'replaygate.recorder';
