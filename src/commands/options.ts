import type { Command } from 'commander';

/** Options every inventory-driven command takes. */
export interface InventoryCommandOptions {
  inventory: string;
  acceptNewHostKeys?: boolean;
  json?: boolean;
}

/** Adds -i/--inventory, --accept-new-host-keys and --json to a command. */
export function withInventoryOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --inventory <file>', 'inventory file (YAML)')
    .option('--accept-new-host-keys', 'record host keys not yet in known_hosts (like ssh accept-new); changed keys are always refused')
    .option('--json', 'write events and the result as JSON lines on stdout');
}

/** The session settings the inventory options ask for. */
export function sessionOptionsOf(opts: InventoryCommandOptions): { inventoryPath: string; acceptNewHostKeys: boolean } {
  return { inventoryPath: opts.inventory, acceptNewHostKeys: opts.acceptNewHostKeys ?? false };
}

/** Options of commands that change hosts: they hold the run lock. */
export interface ChangingCommandOptions {
  breakLock?: boolean;
}

/** Adds --break-lock to a command that changes hosts. */
export function withLockOptions(cmd: Command): Command {
  return cmd.option('--break-lock', 'take the run lock even though another hapg run holds it (after that run died)');
}
