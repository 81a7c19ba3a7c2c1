import type { CheckContext } from './context.js';

/** Patroni settings that type-check but cannot work together. */
export function checkPatroniSettings(ctx: CheckContext): void {
  const { inventory } = ctx;
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    const base = ['clusters', name, 'patroni'];
    const p = cluster.patroni;

    // Patroni 4 raises smaller values on its own (with a warning only in its log) while
    // GET /config keeps showing the inventory's: refuse them instead of deploying a lie.
    if (p.ttl < 20) ctx.error([...base, 'ttl'], `${p.ttl} is below Patroni's minimum of 20 seconds (Patroni 4 raises it on its own): set 20 or more`);
    if (p.retry_timeout < 3) ctx.error([...base, 'retry_timeout'], `${p.retry_timeout} is below Patroni's minimum of 3 seconds (Patroni 4 raises it on its own): set 3 or more`);
    const needed = p.loop_wait + 2 * p.retry_timeout;
    if (p.ttl < needed) {
      ctx.error(
        [...base, 'ttl'],
        `${p.ttl} is less than loop_wait + 2 * retry_timeout (${p.loop_wait} + 2 * ${p.retry_timeout} = ${needed}): the leader key can expire while Patroni still retries and a healthy primary is demoted (Patroni 3.0.2 does not check this; Patroni 4 silently shortens loop_wait). Raise ttl to at least ${needed} or lower the others`,
      );
    }

    if (p.synchronous_mode_strict && !p.synchronous_mode) {
      ctx.error([...base, 'synchronous_mode_strict'], 'needs synchronous_mode: true (strict mode only changes synchronous replication)');
    } else if (p.synchronous_mode_strict && cluster.hosts.length < 2) {
      ctx.error(
        [...base, 'synchronous_mode_strict'],
        'on a one-host cluster every write waits for a synchronous standby that does not exist: add hosts or set it to false',
      );
    }

    const slots = Object.entries(p.permanent_slots);
    if (slots.length > 0 && !p.use_slots) {
      ctx.error([...base, 'use_slots'], 'must be true when permanent_slots are defined (Patroni keeps permanent slots only with use_slots)');
    }
    const walLevel = cluster.postgres.parameters['wal_level'];
    for (const [slot, spec] of slots) {
      if (spec.type === 'logical' && walLevel !== 'logical') {
        ctx.error(
          [...base, 'permanent_slots', slot],
          `a logical slot needs wal_level: logical under clusters.${name}.postgres.parameters (it is ${walLevel === undefined ? 'not set' : String(walLevel)})`,
        );
      }
    }

    const noFailover = (host: string) => inventory.hosts[host]?.tags.nofailover === true;
    if (cluster.hosts.length > 0 && cluster.hosts.every(noFailover)) {
      ctx.error(['clusters', name, 'hosts'], 'every host has tags.nofailover: true, so no member can ever become the leader');
    } else if (cluster.hosts.includes(cluster.leader) && noFailover(cluster.leader)) {
      ctx.error(
        ['clusters', name, 'leader'],
        `${cluster.leader} has tags.nofailover: true and can never take the leader key, so it cannot initialise the cluster: pick another leader`,
      );
    }
  }
}
