import { fileMatches, fileStates } from '../../facts/files.js';
import { shellFact } from '../../facts/fact.js';
import type { DesiredState } from '../../model/model.js';
import { exec, file, noop, type PlanItem } from '../../run/steps.js';
import type { Stage } from '../../stages/stage.js';

export const VIP_SYSCTL_PATH = '/etc/sysctl.d/90-hapg-vip.conf';

const SYSCTL = [
  '# Managed by hapg: on a host that may hold a VIP, services bind the VIP before it arrives',
  '# (HAProxy in front of a cluster, or PostgreSQL when the VIP follows the Patroni leader).',
  'net.ipv4.ip_nonlocal_bind = 1',
  'net.ipv6.ip_nonlocal_bind = 1',
  '',
].join('\n');

/** Whether the running kernel lets this host bind addresses it does not hold (IPv4 and IPv6). */
export const nonlocalBind = shellFact('nonlocal-bind', 'cat /proc/sys/net/ipv4/ip_nonlocal_bind /proc/sys/net/ipv6/ip_nonlocal_bind 2>/dev/null', (r) =>
  r.stdout.split('\n').filter(Boolean).every((v) => v.trim() === '1') && r.stdout.trim() !== '',
);

/** The sysctl file, and applying it when the running kernel does not have it yet. */
export function planVipKernel(host: string, facts: { file: Parameters<typeof fileMatches>[0]; applied: boolean }): PlanItem[] {
  const conf = file(host, VIP_SYSCTL_PATH, SYSCTL, { title: `write ${VIP_SYSCTL_PATH}` });
  const items: PlanItem[] = fileMatches(facts.file, conf) ? [] : [conf];
  if (!facts.applied) items.push(exec(host, 'apply the VIP kernel settings', ['sysctl', '-q', '-p', VIP_SYSCTL_PATH]));
  return items.length ? items : [noop(host, 'binds VIPs it does not hold')];
}

/**
 * Hosts that may hold a VIP: the services behind it (HAProxy, or PostgreSQL without HAProxy)
 * bind the VIP on every such host. Set in the hosts phase, before any of them starts.
 */
export function vipKernelStage(model: DesiredState): Stage[] {
  const hosts = model.hostsOf('keepalived');
  if (hosts.length === 0) return [];
  return [
    {
      id: 'vip-kernel',
      title: 'Kernel settings for VIPs',
      async plan({ session }) {
        const items = await Promise.all(
          hosts.map(async (host) => {
            const [files, applied] = await Promise.all([session.facts.get(host, fileStates([VIP_SYSCTL_PATH])), session.facts.get(host, nonlocalBind)]);
            return planVipKernel(host, { file: files.get(VIP_SYSCTL_PATH), applied });
          }),
        );
        return { blocks: [{ items: items.flat() }], notes: [] };
      },
    },
  ];
}
