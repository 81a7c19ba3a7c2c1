import { userSecretKey, requireSecret } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { cachedMemberStates } from '../patroni/facts.js';
import { runningLeader } from '../patroni/member-health.js';
import { catalogFact, extensionsFact, planRolesAndDatabases } from './roles.js';

/** Application roles and databases made to match the inventory, on the leader. */
export function rolesStage(model: DesiredState, name: string): Stage {
  const cluster = model.inventory.clusters[name]!;
  return {
    id: `roles:${name}`,
    title: `Roles and databases of ${name}`,
    async plan({ session, secrets }) {
      const leader = runningLeader(await cachedMemberStates(session.facts, model, name));
      const catalog = leader ? await session.facts.get(leader, catalogFact(cluster.postgres.port)) : undefined;
      if (!leader || !catalog) {
        const users = Object.keys(cluster.postgres.users);
        const dbs = Object.keys(cluster.postgres.databases);
        const what = [users.length && `roles ${users.join(', ')}`, dbs.length && `databases ${dbs.join(', ')}`].filter(Boolean).join(' and ');
        return notesOnly(...(what ? [`create ${what} on the leader once it runs`] : []));
      }
      const extensions = new Map<string, Set<string>>();
      for (const [db, spec] of Object.entries(cluster.postgres.databases)) {
        if (spec.extensions.length > 0 && catalog.databases.has(db)) extensions.set(db, (await session.facts.get(leader, extensionsFact(cluster.postgres.port, db))) ?? new Set());
      }
      const passwords = new Map(Object.keys(cluster.postgres.users).map((u) => [u, requireSecret(secrets, userSecretKey(name, u))]));
      return { blocks: [{ items: planRolesAndDatabases(leader, name, cluster, passwords, { ...catalog, extensions }) }], notes: [] };
    },
  };
}
