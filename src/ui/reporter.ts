import type { EventSink, RunEvent } from '../run/events.js';
import { withFaultInjection } from '../run/fault-injection.js';
import { ListrProgress } from './listr-progress.js';

export type OutputMode = 'json' | 'plain' | 'tty';

/** Progress output: listr2 on a terminal, plain lines on stderr otherwise, or JSON lines on stdout. */
export interface Reporter {
  mode: OutputMode;
  sink: EventSink;
  /** A command's final result: JSON on stdout in json mode, otherwise the given text. */
  result(text: string, data: unknown): Promise<void>;
}

let active: { close(error?: Error): Promise<void> } | undefined;

/** Ends the progress display of the running command (the CLI calls it before printing an error). */
export async function closeProgress(error?: Error): Promise<void> {
  const a = active;
  active = undefined;
  await a?.close(error);
}

/** Picks the renderer: `--json` for machines, listr2 on a terminal, plain lines otherwise. */
export function createReporter(opts: { json?: boolean; quiet?: boolean }): Reporter {
  const reporter = pickReporter(opts);
  return { ...reporter, sink: withFaultInjection(reporter.sink) };
}

function pickReporter(opts: { json?: boolean; quiet?: boolean }): Reporter {
  if (!opts.json && !opts.quiet && process.stderr.isTTY && !process.env['CI']) {
    const progress = new ListrProgress();
    active = progress;
    return {
      mode: 'tty',
      sink: progress.sink,
      result: async (text) => {
        await closeProgress();
        process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      },
    };
  }
  if (opts.json) {
    const started = Date.now();
    return {
      mode: 'json',
      // `ms`: milliseconds since the command started, so machines can time each stage.
      sink: (event) => process.stdout.write(`${JSON.stringify({ ...event, ms: Date.now() - started })}\n`),
      result: async (_text, data) => {
        process.stdout.write(`${JSON.stringify({ kind: 'result', ...toObject(data), ms: Date.now() - started })}\n`);
      },
    };
  }
  return {
    mode: 'plain',
    // Quiet (plan, status without --json) hides progress, never a warning: a warning asks for a decision.
    sink: (event) => {
      if (!opts.quiet || event.kind === 'warn') process.stderr.write(`${formatEvent(event)}\n`);
    },
    result: async (text) => {
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}

function toObject(data: unknown): Record<string, unknown> {
  return data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : { data };
}

/** One human-readable line for an event. */
export function formatEvent(e: RunEvent): string {
  const at = 'host' in e && e.host ? `[${e.host}] ` : '';
  switch (e.kind) {
    case 'phase':
      return `==> ${e.title}`;
    case 'step':
      return `    ${at}${e.title}…`;
    case 'change':
      return `  ~ ${at}${e.title}${e.detail ? ` (${e.detail})` : ''}`;
    case 'noop':
      return `  = ${at}${e.title}: ${e.reason}`;
    case 'checked':
      return `  ✓ ${at}${e.title} (${(e.ms / 1000).toFixed(1)} s)`;
    case 'waited':
      return `  . ${at}${e.title}: ${e.status} (${(e.ms / 1000).toFixed(1)} s)`;
    case 'fail':
      return `  ! ${at}${e.title}: ${e.error}`;
    case 'info':
      return `    ${at}${e.message}`;
    case 'warn':
      return `warning: ${at}${e.message}`;
  }
}
