/** Progress is a stream of events; renderers (listr2, plain lines, JSON) only read it. */
export type RunEvent =
  | { kind: 'phase'; title: string }
  | { kind: 'step'; host: string; title: string }
  | { kind: 'change'; host: string; title: string; detail?: string }
  | { kind: 'noop'; host: string; title: string; reason: string }
  | { kind: 'waited'; host: string; title: string; status: string; ms: number }
  /** A check that proved something works (a verification write); it changed no configuration. */
  | { kind: 'checked'; host: string; title: string; ms: number }
  | { kind: 'fail'; host: string; title: string; error: string }
  | { kind: 'info'; host?: string; message: string }
  | { kind: 'warn'; host?: string; message: string };

export type EventSink = (event: RunEvent) => void;

/** A sink that drops everything (tests that only care about results). */
export const silent: EventSink = () => {};
