import type { PathSegment } from '../inventory/issues.js';

/** A TCP port a component listens on, where the inventory sets it, and who may hold it on a live host. */
export interface PortUse {
  port: number;
  /** Where the port is set in the inventory (for collision messages). */
  path: PathSegment[];
  /** Who listens, as messages name it: `etcd dc1 client_port`. */
  owner: string;
  /** Process names that hold the port once hapg has deployed (a live host is not a conflict). */
  processes: string[];
}

/** A directory a component keeps data in on the host. */
export interface DataPath {
  path: string;
  /** What it holds, as messages name it: `postgres main data`. */
  role: string;
}

/**
 * One component instance on one host: what it needs there. The model is the only place that
 * answers "which host runs what on which port"; every check, plan and status reads it.
 */
export interface Placement {
  /** Registry name of the component (`etcd`, `patroni`, `haproxy`, `keepalived`). */
  component: string;
  /** The instance: an etcd cluster's or a Patroni cluster's name. */
  of: string;
  host: string;
  /** Short role label for tables: `etcd:dc1`, `postgres:main`. */
  role: string;
  ports: PortUse[];
  packages: string[];
  /** systemd units (without `.service`). */
  services: string[];
  dataPaths: DataPath[];
}
