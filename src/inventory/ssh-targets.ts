import { homedir } from 'node:os';
import type { SshTarget } from '../ssh/types.js';
import { inventoryDir, localPath as toLocalPath } from './paths.js';
import type { Inventory } from './schema.js';

export interface SshTargetOptions {
  /** Environment read for SSH_AUTH_SOCK (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Home directory `~` expands to (default os.homedir()). */
  home?: string;
}

/** One connection target per inventory host, in inventory order: top-level ssh settings with the host's overrides. */
export function sshTargets(inventory: Inventory, inventoryPath: string, opts: SshTargetOptions = {}): SshTarget[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  const baseDir = inventoryDir(inventoryPath);
  const localPath = (p: string) => toLocalPath(p, baseDir, home);

  return Object.entries(inventory.hosts).map(([name, host]): SshTarget => {
    const s = { ...inventory.ssh, ...definedOnly(host.ssh ?? {}) };
    const identityFiles = s.identity_files.map(localPath);
    const agent = s.agent ? env['SSH_AUTH_SOCK'] || undefined : undefined;
    const knownHosts = localPath(s.known_hosts);
    const connectTimeoutMs = s.connect_timeout * 1000;
    const target: SshTarget = {
      host: name,
      address: host.address,
      port: s.port,
      user: s.user,
      identityFiles,
      agent,
      knownHosts,
      connectTimeoutMs,
      sudo: s.sudo ?? s.user !== 'root',
    };
    if (s.bastion) {
      target.bastion = {
        host: `bastion ${s.bastion.address}`,
        address: s.bastion.address,
        port: s.bastion.port,
        user: s.bastion.user ?? s.user,
        identityFiles: s.bastion.identity_files?.map(localPath) ?? identityFiles,
        agent,
        knownHosts,
        connectTimeoutMs,
      };
    }
    return target;
  });
}

/** Drops keys whose value is undefined, so they do not hide the top-level setting in a spread. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
