import { Listr, type ListrTaskWrapper } from 'listr2';
import type { RunEvent } from '../run/events.js';
import { formatEvent } from './reporter.js';

interface Phase {
  title: string;
  task?: ListrTaskWrapper<unknown, never, never>;
  finish: (error?: Error) => void;
  done: Promise<void>;
}

/**
 * Renders the event stream on a terminal with listr2: each phase is a task that spins while
 * it runs, shows the latest step beneath it, and ends with a tick (or a cross on failure).
 * Phases render one after another, so finished ones stay on screen as a checklist.
 */
export class ListrProgress {
  #current: Phase | undefined;
  #chain: Promise<void> = Promise.resolve();
  readonly #warnings: string[] = [];

  sink = (event: RunEvent): void => {
    if (event.kind === 'phase') {
      this.#startPhase(event.title);
      return;
    }
    if (event.kind === 'warn') {
      this.#warnings.push(formatEvent(event));
      return;
    }
    if (!this.#current) this.#startPhase('Working');
    const line = formatEvent(event).trim();
    const current = this.#current!;
    if (current.task) current.task.output = line;
  };

  /** Ends the last phase (failed or not) and waits until everything is drawn. */
  async close(failed: Error | undefined): Promise<void> {
    this.#current?.finish(failed);
    this.#current = undefined;
    await this.#chain.catch(() => {});
    for (const w of this.#warnings) process.stderr.write(`${w}\n`);
  }

  #startPhase(title: string): void {
    this.#current?.finish();
    let finish!: (error?: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = (error) => (error ? reject(error) : resolve());
    });
    done.catch(() => {}); // a failed phase is shown by listr; the error itself reaches the CLI
    const phase: Phase = { title, finish, done };
    this.#current = phase;
    const listr = new Listr(
      [
        {
          title,
          task: async (_ctx, task) => {
            phase.task = task as unknown as ListrTaskWrapper<unknown, never, never>;
            await done;
          },
        },
      ],
      { renderer: 'default', rendererOptions: { collapseErrors: true, showErrorMessage: false }, exitOnError: true },
    );
    this.#chain = this.#chain.then(() => listr.run().then(() => undefined, () => undefined));
  }
}
