// Hosts that answer from fixtures instead of SSH: for unit tests of stages, which plan from
// facts. Each handler gets the host and the question and returns the answer a real host gave.
import { FactCache } from '../../src/facts/fact.js';
import type { LoadedInventory } from '../../src/inventory/load.js';
import { buildModel } from '../../src/model/model.js';
import { withTestAccess } from './tls-access.js';
import type { RunEvent } from '../../src/run/events.js';
import type { Session } from '../../src/run/session.js';
import type { ExecResult, HttpRequest, HttpResponse, Remote } from '../../src/ssh/types.js';

export interface FakeHandlers {
  /** An HTTP answer, or undefined for "not answering". */
  http?: (host: string, req: HttpRequest) => { status: number; body: string } | undefined;
  /** A command's result: stdout and exit code (default: empty, exit 0). */
  exec?: (host: string, argv: readonly string[], stdin: string | undefined) => { stdout?: string; exitCode?: number } | undefined;
}

/** A Remote that records what ran on it and answers from the handlers. */
export class FakeRemote implements Remote {
  readonly user = 'root';
  readonly calls: string[] = [];
  constructor(
    readonly host: string,
    private readonly handlers: FakeHandlers,
  ) {}

  async exec(argv: readonly string[], opts: { stdin?: string | Buffer } = {}): Promise<ExecResult> {
    this.calls.push(argv.join(' '));
    const r = this.handlers.exec?.(this.host, argv, opts.stdin === undefined ? undefined : String(opts.stdin)) ?? {};
    return { host: this.host, command: argv.join(' '), exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: '', durationMs: 1 };
  }

  async putFile(path: string): Promise<{ changed: boolean }> {
    this.calls.push(`put ${path}`);
    return { changed: true };
  }

  async http(req: HttpRequest): Promise<HttpResponse> {
    this.calls.push(`${req.method} ${req.port}${req.path}`);
    const r = this.handlers.http?.(this.host, req);
    if (!r) {
      const err = new Error(`${this.host}: not answering`) as Error & { code: string };
      err.code = 'HTTP_FAILED';
      throw err;
    }
    return { status: r.status, headers: {}, body: r.body };
  }

  /** Set by a test: the connection dropped. */
  lostReason: string | undefined;

  close(): void {}
}

/** A session over fake hosts: every inventory host answers through the handlers; events are collected. */
export function fakeSession(loaded: LoadedInventory, handlers: FakeHandlers): Session & { events: RunEvent[]; remoteOf: (host: string) => FakeRemote } {
  const remotes = new Map(Object.keys(loaded.inventory.hosts).map((h) => [h, new FakeRemote(h, handlers)]));
  const events: RunEvent[] = [];
  return {
    loaded,
    model: withTestAccess(buildModel(loaded.inventory)),
    remotes,
    unreachable: new Map(),
    facts: new FactCache(remotes),
    sink: (e) => events.push(e),
    events,
    remoteOf: (host) => remotes.get(host)!,
  };
}
