import type { CheckContext } from './context.js';

/** Every host can authenticate somehow: a key file or the agent. */
export function checkSshSettings(ctx: CheckContext): void {
  const { inventory } = ctx;
  const reported = new Set<string>();
  for (const [name, host] of Object.entries(inventory.hosts)) {
    const files = host.ssh?.identity_files ?? inventory.ssh.identity_files;
    const agent = host.ssh?.agent ?? inventory.ssh.agent;
    if (files.length > 0 || agent) continue;
    const path = host.ssh?.identity_files !== undefined ? ['hosts', name, 'ssh', 'identity_files'] : ['ssh', 'identity_files'];
    const key = path.join('.');
    if (reported.has(key)) continue;
    reported.add(key);
    ctx.error(path, `is empty and agent is false, so hapg has no way to log in to ${name}: list a key file or set agent: true`);
  }
}
