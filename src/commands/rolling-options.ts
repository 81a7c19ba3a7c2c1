import { InvalidArgumentError, type Command } from 'commander';
import type { RollingOptions } from '../tasks/patroni/restart-options.js';

/** Flags of `deploy` and `plan` that shape restarts for parameters that need one. */
export interface RollingCommandOptions {
  /** false with --no-switchover. */
  switchover?: boolean;
  serial?: number;
}

/** A whole number of at least `min`, for numeric flags. */
export const wholeNumber =
  (min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
    return n;
  };

/** Flags of `deploy` and `plan` for membership changes (plan shows what deploy would do with the same flags). */
export interface MembershipCommandOptions {
  allowEven?: boolean;
  prune?: string[];
}

/** A replication slot's name as PostgreSQL allows it (lower-case letters, digits, underscores; at most 63). */
const slotName = (value: string, previous: string[] | undefined): string[] => {
  if (!/^[a-z0-9_]{1,63}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a replication slot name (lower-case letters, digits and _, at most 63)`);
  return [...(previous ?? []), value];
};

/** Adds --allow-even and --prune. */
export function withMembershipOptions(cmd: Command): Command {
  return cmd
    .option('--allow-even', 'let a membership change leave an etcd cluster with 2 members (they tolerate no failure)')
    .option(
      '--prune <slot>',
      "drop this permanent slot from a cluster's Patroni configuration (and so from its leader) when the inventory no longer declares it, e.g. the slot of a standby cluster removed from the inventory; without it such a slot is kept and warned about (repeatable)",
      slotName,
    );
}

/** Adds --no-switchover and --serial (plan shows the sequence deploy would run with the same flags). */
export function withRollingOptions(cmd: Command): Command {
  return cmd
    .option('--no-switchover', 'for parameters that need a restart: restart the leader in place (a write outage) instead of switching over')
    .option('--serial <n>', 'replicas restarted at a time for parameters that need a restart', wholeNumber(1), 1);
}

export function rollingOptionsOf(opts: RollingCommandOptions, memberTimeoutMs = 120_000): RollingOptions {
  return { switchover: opts.switchover ?? true, batch: opts.serial ?? 1, memberTimeoutMs };
}
