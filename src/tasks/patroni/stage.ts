import { HapgError } from '../../errors.js';
import { fileStates } from '../../facts/files.js';
import { serviceStates } from '../../facts/services.js';
import { clusterSecretKey, requireSecret } from '../../inventory/secrets.js';
import { patroniApi } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import type { Block, Stage, StageContext } from '../../stages/stage.js';
import { catalogFact, planPatroniRolePasswords } from '../postgres/roles.js';
import { RoleWatch, waitForSourceEndpoint, waitForSourceSlot, waitForStandbyLeader } from '../standby/bootstrap.js';
import { isClusterInitialized } from './cluster-state.js';
import { cachedMemberStates, configNewerThanPatroni, pgData, runtimeConfigDigest, settledMemberState } from './facts.js';
import { runningLeader } from './member-health.js';
import { PATRONI_CONFIG_PATH, PATRONI_ROLES, PATRONI_UNIT_PATH } from './model.js';
import { memberSteps, planPatroniMember, type MemberPlan } from './plan.js';
import { waitForBootstrapped, waitForHbaApplied, waitForRegistered, waitForStreamingReplicas } from './waits.js';
import { switchesEtcdTransport } from '../tls/model.js';

/**
 * One Patroni cluster converged. A new cluster: the designated leader starts alone and must
 * run as leader (a standby cluster: as standby leader streaming from its source, watched so
 * that no member ever reports the leader role) before the replicas start together and stream.
 * A live cluster: changed passwords of Patroni's roles first, then running members reload a
 * changed patroni.yml (pg_hba lets new members in), then stopped or new members start.
 */
export function patroniStage(model: DesiredState, name: string): Stage {
  const cm = model.cluster(name);
  const cluster = cm.spec;
  let watcher: RoleWatch | undefined;
  let bootstrapsStandby = false;
  return {
    id: `patroni:${name}`,
    title: cluster.standby ? `Patroni cluster ${name} (standby of ${cluster.standby.cluster})` : `Patroni cluster ${name}`,
    async plan(ctx) {
      const { session, secrets } = ctx;
      const initialized = await isClusterInitialized(session.facts, model, name);
      bootstrapsStandby = !initialized && cluster.standby !== undefined;
      if (initialized === undefined && ctx.mode === 'deploy') {
        throw new HapgError('CLUSTER_UNHEALTHY', `cannot read cluster ${name}'s state from etcd cluster ${cluster.etcd}`);
      }
      const api = patroniApi(model, name);
      const members = new Map<string, MemberPlan>();
      await Promise.all(
        cluster.hosts.map(async (host) => {
          const [files, services, state, data, configNewer, runtimeDigest] = await Promise.all([
            session.facts.get(host, fileStates([PATRONI_CONFIG_PATH, PATRONI_UNIT_PATH])),
            session.facts.get(host, serviceStates(['patroni'])),
            settledMemberState(session.facts, api, host),
            session.facts.get(host, pgData(cluster.postgres.data_dir)),
            switchesEtcdTransport(model.inventory, name) ? session.facts.get(host, configNewerThanPatroni(PATRONI_CONFIG_PATH)) : undefined,
            session.facts.get(host, runtimeConfigDigest(PATRONI_CONFIG_PATH)),
          ]);
          if (!initialized && data.exists && (host !== cluster.leader || cluster.standby)) {
            throw new HapgError(
              'UNSAFE_OPERATION',
              `${host}: ${cluster.postgres.data_dir} holds a PostgreSQL cluster, but cluster ${name} is not initialised in etcd: hapg will not start a member on data of unknown origin`,
              { host, hint: 'move the data directory away if it is not needed, or make this host the leader in the inventory' },
            );
          }
          const member = planPatroniMember(model, name, host, secrets, { files, service: services.get('patroni'), state, hasData: data.exists, configNewer, runtimeDigest });
          // Stopping Patroni stops PostgreSQL unless the cluster is paused: such a restart runs only paused.
          if (member.restart && switchesEtcdTransport(model.inventory, name) && state?.paused !== true && ctx.mode === 'deploy') {
            throw new HapgError('UNSAFE_OPERATION', `${host}: Patroni of cluster ${name} must restart to reach etcd over TLS, but the cluster is not paused: not restarting it`, { host });
          }
          members.set(host, member);
        }),
      );
      const stepsOf = (hosts: readonly string[]) => hosts.flatMap((h) => memberSteps(model, name, h, members.get(h)!));
      const blocks: Block[] = [];
      const notes: string[] = [];
      const check = () => watcher?.check();
      if (initialized) {
        blocks.push({ items: await rolePasswordSteps(ctx, model, name) });
      } else {
        const leader = cluster.leader;
        const replicas = cluster.hosts.filter((h) => h !== leader);
        const then = replicas.length ? `, then start ${replicas.join(', ')} as replicas and wait until they stream` : '';
        if (cm.standby) {
          notes.push(
            `bootstrap standby cluster ${name} on ${leader} by base backup of ${cluster.standby!.cluster} (${cm.standby.host} port ${cm.standby.port}), never as a normal cluster; wait until it streams through slot ${cm.standby.primary_slot_name}, watching every member's role${then}`,
          );
          blocks.push({ items: [], waits: [...waitForSourceEndpoint(model, name), waitForSourceSlot(model, name)] });
          blocks.push({ items: stepsOf([leader]), waits: [waitForStandbyLeader(model, name, leader, () => watcher)] });
        } else {
          notes.push(`initialise cluster ${name} on ${leader}, wait until it runs as leader${then}`);
          blocks.push({ items: stepsOf([leader]), waits: [waitForBootstrapped(model, name, leader)] });
        }
      }
      const others = cluster.hosts.filter((h) => initialized || h !== cluster.leader);
      const running = others.filter((h) => !members.get(h)!.start);
      const starting = others.filter((h) => members.get(h)!.start);
      const reloaded = running.filter((h) => members.get(h)!.reload);
      blocks.push({ items: stepsOf(running), waits: waitForHbaApplied(model, name, reloaded) });
      const streaming = waitForStreamingReplicas(model, name, { check });
      // Starting members stream only once the leader has made their replication slots, which
      // Patroni does in its loop (every loop_wait); and PostgreSQL retries a refused stream
      // after wal_retrieve_retry_interval. Woken as soon as they are registered, the leader
      // makes the slots while they still clone, and they stream on their first try.
      const leader = initialized ? runningLeader(await cachedMemberStates(session.facts, model, name), cm.leaderRole) : cluster.leader;
      if (starting.length && leader && cm.dynamicConfig.postgresql.use_slots) {
        blocks.push({ items: stepsOf(starting), waits: [waitForRegistered(model, name, leader, starting)] });
        const wake = patroniApi(model, name, secrets).wakeLoop(leader, `run ${leader}'s Patroni loop now, so that it makes the slots of ${starting.join(', ')} (PATCH /config changing nothing)`);
        blocks.push({ items: [wake], waits: [streaming] });
      } else {
        blocks.push({ items: stepsOf(starting), waits: [streaming] });
      }
      return { blocks, notes };
    },
    watch(ctx) {
      if (ctx.mode !== 'deploy' || !bootstrapsStandby) return undefined;
      watcher = new RoleWatch(ctx.session.facts, model, name);
      return watcher;
    },
  };
}

/**
 * Changed passwords of the roles Patroni uses, set on the running leader before any
 * patroni.yml carries them: members reconnect with the new one only once the server accepts it.
 */
async function rolePasswordSteps(ctx: StageContext, model: DesiredState, name: string) {
  const cluster = model.inventory.clusters[name]!;
  const leader = runningLeader(await cachedMemberStates(ctx.session.facts, model, name));
  if (!leader || cluster.standby) return [];
  const catalog = await ctx.session.facts.get(leader, catalogFact(cluster.postgres.port));
  if (!catalog) return [];
  const passwords = new Map((['superuser', 'replication', 'rewind'] as const).map((r) => [PATRONI_ROLES[r], requireSecret(ctx.secrets, clusterSecretKey(name, r))] as const));
  return planPatroniRolePasswords(leader, cluster, passwords, catalog.roles);
}
