import { HapgError } from '../errors.js';
import { FactCache } from '../facts/fact.js';
import { loadInventory, type LoadedInventory } from '../inventory/load.js';
import { sshTargets } from '../inventory/ssh-targets.js';
import { buildModel, type DesiredState } from '../model/model.js';
import { connect } from '../ssh/connect.js';
import { withRemotes } from '../ssh/pool.js';
import type { Remote } from '../ssh/types.js';
import type { EventSink } from './events.js';

/** Everything one command run works with: the validated inventory, its model, open connections, the fact cache. */
export interface Session {
  loaded: LoadedInventory;
  model: DesiredState;
  remotes: ReadonlyMap<string, Remote>;
  /** Optional hosts that could not be reached, with why (see SessionOptions.optional). */
  unreachable: ReadonlyMap<string, string>;
  facts: FactCache;
  sink: EventSink;
}

export interface SessionOptions {
  inventoryPath: string;
  acceptNewHostKeys?: boolean;
  /** Limit connections to these hosts (default: every inventory host). */
  hosts?: readonly string[];
  /** Hosts tried too, but whose failure to connect is recorded instead of stopping the run. */
  optional?: readonly string[];
}

/**
 * Validates the inventory (before any host is contacted), opens one connection per host up
 * front — failing fast and naming every unreachable host — and closes them all afterwards.
 */
export async function withSession<T>(opts: SessionOptions, sink: EventSink, fn: (session: Session) => Promise<T>): Promise<T> {
  const loaded = await loadInventory(opts.inventoryPath);
  for (const w of loaded.warnings) sink({ kind: 'warn', message: w.message });
  const model = buildModel(loaded.inventory);
  const all = sshTargets(loaded.inventory, loaded.path);
  const wanted = opts.hosts ? new Set(opts.hosts) : undefined;
  const optional = new Set((opts.optional ?? []).filter((h) => !wanted || !wanted.has(h)));
  const targets = all.filter((t) => (!wanted || wanted.has(t.host)) && !optional.has(t.host));
  sink({ kind: 'phase', title: `Connecting to ${targets.length + optional.size} host${targets.length + optional.size === 1 ? '' : 's'}` });
  const connectOpts = { acceptNewHostKeys: opts.acceptNewHostKeys ?? false };
  return withRemotes(targets, connectOpts, async (required) => {
    const remotes = new Map(required);
    const unreachable = new Map<string, string>();
    await Promise.all(
      all
        .filter((t) => optional.has(t.host))
        .map(async (t) => {
          const remote = await connect(t, connectOpts).catch((err: unknown) => (err instanceof HapgError ? err : new HapgError('SSH_CONNECT', String(err))));
          if (remote instanceof HapgError) unreachable.set(t.host, remote.message);
          else remotes.set(t.host, remote);
        }),
    );
    try {
      return await fn({ loaded, model, remotes, unreachable, facts: new FactCache(remotes), sink });
    } finally {
      for (const host of optional) remotes.get(host)?.close();
    }
  });
}
