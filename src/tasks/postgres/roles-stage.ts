import { clusterSecretKey, userSecretKey, requireSecret } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { cachedMemberStates } from '../patroni/facts.js';
import { runningLeader } from '../patroni/member-health.js';
import { CHECK_ROLE } from '../patroni/model.js';
import { catalogFact, checkObjectsFact, extensionsFact, planCheckRole, planRolesAndDatabases } from './roles.js';

/** Application roles and databases made to match the inventory, on the leader, and hapg's check role. */
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
        return notesOnly(`create ${what ? `${what} and ` : ''}hapg's check role ${CHECK_ROLE} on the leader once it runs`);
      }
      const extensions = new Map<string, Set<string>>();
      for (const [db, spec] of Object.entries(cluster.postgres.databases)) {
        if (spec.extensions.length > 0 && catalog.databases.has(db)) extensions.set(db, (await session.facts.get(leader, extensionsFact(cluster.postgres.port, db))) ?? new Set());
      }
      const passwords = new Map(Object.keys(cluster.postgres.users).map((u) => [u, requireSecret(secrets, userSecretKey(name, u))]));
      const objects = (await session.facts.get(leader, checkObjectsFact(cluster.postgres.port))) ?? { schemaOwner: undefined, tableOwner: undefined };
      const check = planCheckRole(leader, cluster, CHECK_ROLE, requireSecret(secrets, clusterSecretKey(name, 'check')), catalog.roles.get(CHECK_ROLE), objects);
      return { blocks: [{ items: [...check, ...planRolesAndDatabases(leader, name, cluster, passwords, { ...catalog, extensions })] }], notes: [] };
    },
  };
}
