/** How deploy restarts members for parameters that need it. */
export interface RollingOptions {
  /** false (--no-switchover): the leader restarts in place, last, accepting the write outage. */
  switchover: boolean;
  /** Replicas restarted at a time (--serial N). */
  batch: number;
  /** How long a restarted member may take to run and stream again before deploy stops. */
  memberTimeoutMs: number;
}

export const DEFAULT_ROLLING: RollingOptions = { switchover: true, batch: 1, memberTimeoutMs: 120_000 };
