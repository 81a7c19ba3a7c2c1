import type { FactCache } from '../../facts/fact.js';
import { clock, diskSpace, initSystem, listeningSockets, machineIdentity, osRelease, privilege, type DiskSpace } from '../../facts/system.js';
import type { HostFacts } from './checks.js';
import type { HostRoles } from './host-roles.js';

/** Gathers every fact the preflight needs from one host (all commands in parallel). */
export async function gatherPreflightFacts(facts: FactCache, roles: HostRoles): Promise<HostFacts> {
  const host = roles.host;
  const clockOffset = measureClockOffset(facts, host);
  const disks = Promise.all(
    roles.dataPaths.map(async (d) => [d.path, await facts.get(host, diskSpace(d.path))] as [string, DiskSpace]),
  );
  const [os, init, sockets, priv, offset, diskEntries, identity] = await Promise.all([
    facts.get(host, osRelease),
    facts.get(host, initSystem),
    facts.get(host, listeningSockets),
    facts.get(host, privilege),
    clockOffset,
    disks,
    facts.get(host, machineIdentity),
  ]);
  return { os, init, sockets, privilege: priv, clockOffset: offset.offset, clockUncertainty: offset.uncertainty, disks: new Map(diskEntries), identity };
}

/**
 * Remote clock minus local clock, taking the midpoint of the round trip as the local time;
 * the remote reading lies somewhere in the round trip, so half of it bounds the error.
 */
async function measureClockOffset(facts: FactCache, host: string): Promise<{ offset: number; uncertainty: number }> {
  const before = Date.now();
  const { remoteEpoch } = await facts.get(host, clock);
  const after = Date.now();
  return { offset: remoteEpoch - (before + after) / 2000, uncertainty: (after - before) / 2000 };
}
