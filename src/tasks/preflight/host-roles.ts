import type { DesiredState } from '../../model/model.js';
import type { DataPath } from '../../model/placement.js';

export type { DataPath };

/** A TCP port a host will listen on, and the processes that may already hold it (a live cluster). */
export interface ExpectedPort {
  port: number;
  role: string;
  owners: string[];
}

/** What one host is for, read from the model: the ports and data paths its placements use. */
export interface HostRoles {
  host: string;
  roles: string[];
  ports: ExpectedPort[];
  dataPaths: DataPath[];
  /** The PostgreSQL major of the cluster whose member this host is. */
  postgres: { cluster: string; version: number }[];
  /** Packages come from the inventory's own mirror, not Debian's archive. */
  customMirror: boolean;
}

/** Every host's roles, ports and data paths. */
export function hostRoles(model: DesiredState): HostRoles[] {
  return Object.keys(model.inventory.hosts).map((host) => {
    const placements = model.placementsOn(host);
    return {
      host,
      roles: placements.map((p) => p.role),
      ports: placements.flatMap((p) => p.ports.map((u) => ({ port: u.port, role: u.owner, owners: u.processes }))),
      dataPaths: placements.flatMap((p) => p.dataPaths),
      postgres: placements.filter((p) => p.component === 'patroni').map((p) => ({ cluster: p.of, version: model.inventory.clusters[p.of]!.postgres.version })),
      customMirror: model.inventory.packages.mirror !== undefined,
    };
  });
}
