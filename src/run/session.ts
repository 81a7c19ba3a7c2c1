import { FactCache } from '../facts/fact.js';
import { loadInventory, type LoadedInventory } from '../inventory/load.js';
import { sshTargets } from '../inventory/ssh-targets.js';
import { withRemotes } from '../ssh/pool.js';
import type { Remote } from '../ssh/types.js';
import type { EventSink } from './events.js';

/** Everything one command run works with: the validated inventory, open connections, the fact cache. */
export interface Session {
  loaded: LoadedInventory;
  remotes: ReadonlyMap<string, Remote>;
  facts: FactCache;
  sink: EventSink;
}

export interface SessionOptions {
  inventoryPath: string;
  acceptNewHostKeys?: boolean;
  /** Limit connections to these hosts (default: every inventory host). */
  hosts?: readonly string[];
}

/**
 * Validates the inventory (before any host is contacted), opens one connection per host up
 * front — failing fast and naming every unreachable host — and closes them all afterwards.
 */
export async function withSession<T>(opts: SessionOptions, sink: EventSink, fn: (session: Session) => Promise<T>): Promise<T> {
  const loaded = await loadInventory(opts.inventoryPath);
  for (const w of loaded.warnings) sink({ kind: 'warn', message: w.message });
  const wanted = opts.hosts ? new Set(opts.hosts) : undefined;
  const targets = sshTargets(loaded.inventory, loaded.path).filter((t) => !wanted || wanted.has(t.host));
  sink({ kind: 'phase', title: `Connecting to ${targets.length} host${targets.length === 1 ? '' : 's'}` });
  return withRemotes(targets, { acceptNewHostKeys: opts.acceptNewHostKeys ?? false }, async (remotes) => {
    return fn({ loaded, remotes, facts: new FactCache(remotes), sink });
  });
}
