import { checkAddresses } from './checks/addresses.js';
import { checkBackups } from './checks/backup.js';
import { createCheckContext } from './checks/context.js';
import { checkDataDirectories } from './checks/data-dirs.js';
import { checkEtcdLayout } from './checks/etcd.js';
import { checkPatroniSettings } from './checks/patroni.js';
import { checkPorts } from './checks/ports.js';
import { checkPostgresSettings } from './checks/postgres.js';
import { checkReferences } from './checks/references.js';
import { checkSshSettings } from './checks/ssh.js';
import { checkStandbyClusters } from './checks/standby.js';
import { checkTlsOptOut } from './checks/tls.js';
import type { CompleteInventory } from './defaults.js';
import type { Finding } from './issues.js';

/** The checks types cannot express: references, collisions, Patroni rules. Errors stop hapg; warnings do not. */
export function checkInventory(inventory: CompleteInventory): { errors: Finding[]; warnings: Finding[] } {
  const ctx = createCheckContext(inventory);
  checkSshSettings(ctx);
  checkReferences(ctx);
  checkAddresses(ctx);
  checkPorts(ctx);
  checkPostgresSettings(ctx);
  checkDataDirectories(ctx);
  checkPatroniSettings(ctx);
  checkStandbyClusters(ctx);
  checkEtcdLayout(ctx);
  checkBackups(ctx);
  checkTlsOptOut(ctx);
  return { errors: ctx.errors, warnings: ctx.warnings };
}
