import { HapgError } from '../../errors.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { leftoverSlots } from './dynamic-config.js';
import { cachedMemberStates } from './facts.js';
import { runningLeader } from './member-health.js';

/**
 * Before anything changes: every `--prune SLOT` names a permanent slot that some cluster's live
 * configuration still holds and the inventory no longer declares. A typo, or a slot the
 * inventory still declares, is refused in one line instead of silently dropping nothing.
 */
export function pruneGate(model: DesiredState): Stage {
  return {
    id: 'gate:prune',
    title: 'Checking --prune',
    async plan({ session, options, secrets }) {
      const prune = options.prune ?? [];
      if (prune.length === 0) return notesOnly();
      const leftovers = new Map<string, string>();
      for (const name of model.clusterOrder) {
        const cm = model.cluster(name);
        const leader = runningLeader(await cachedMemberStates(session.facts, model, name), cm.leaderRole);
        if (!leader) continue;
        const live = await session.facts.get(leader, patroniApi(model, name, secrets).config(leader));
        if (live) for (const slot of leftoverSlots(live, cm.dynamicConfig)) leftovers.set(slot, name);
      }
      const unknown = prune.filter((slot) => !leftovers.has(slot));
      if (unknown.length > 0) {
        const known = [...leftovers].map(([slot, name]) => `${slot} (cluster ${name})`);
        throw new HapgError(
          'USAGE',
          `--prune ${unknown.join(', ')}: no running cluster holds ${unknown.length === 1 ? 'a permanent slot of that name' : 'permanent slots of those names'} that the inventory no longer declares (${known.length ? `leftover slots: ${known.join(', ')}` : 'there are no leftover slots'}): nothing was changed`,
          { hint: 'name a slot `hapg plan` warns about, or leave --prune out' },
        );
      }
      return notesOnly();
    },
  };
}
