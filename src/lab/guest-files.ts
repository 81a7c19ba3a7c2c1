import type { LabHost } from './layout.js';

/** A file the lab writes into a host's overlay upper layer before the host boots. */
export interface GuestFile {
  /** Absolute path inside the host. */
  path: string;
  content: string;
  mode: number;
}

/** Directories created in the upper layer with the modes the lower layer has. */
export const GUEST_DIRS: readonly { path: string; mode: number }[] = [
  { path: '/etc', mode: 0o755 },
  { path: '/etc/ssh', mode: 0o755 },
  { path: '/etc/apt', mode: 0o755 },
  { path: '/etc/apt/apt.conf.d', mode: 0o755 },
  { path: '/root', mode: 0o700 },
  { path: '/root/.ssh', mode: 0o700 },
];

/** /etc/hosts naming every lab host by its lab address (never 127.0.1.1: etcd and Patroni resolve their own name). */
export function renderEtcHosts(hosts: readonly LabHost[]): string {
  const lines = [
    '# Written by `hapg lab up`.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
    ...hosts.map((h) => `${h.address}\t${h.name}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function renderAptProxyConf(proxyUrl: string): string {
  return `// Written by \`hapg lab up\`: the hosts reach packages only through the lab's apt proxy.\nAcquire::http::Proxy "${proxyUrl}";\n`;
}

/** Everything that makes a host itself: name, peers, login key, host key, apt proxy, machine id. */
export function guestFiles(opts: {
  host: LabHost;
  hosts: readonly LabHost[];
  authorizedKey: string;
  hostPrivateKey: string;
  hostPublicKey: string;
  proxyUrl: string;
  machineId: string;
}): GuestFile[] {
  return [
    { path: '/etc/hostname', content: `${opts.host.name}\n`, mode: 0o644 },
    { path: '/etc/hosts', content: renderEtcHosts(opts.hosts), mode: 0o644 },
    { path: '/etc/machine-id', content: `${opts.machineId}\n`, mode: 0o444 },
    { path: '/etc/ssh/ssh_host_ed25519_key', content: opts.hostPrivateKey, mode: 0o600 },
    { path: '/etc/ssh/ssh_host_ed25519_key.pub', content: `${opts.hostPublicKey.trim()}\n`, mode: 0o644 },
    { path: '/root/.ssh/authorized_keys', content: `${opts.authorizedKey.trim()}\n`, mode: 0o600 },
    { path: '/etc/apt/apt.conf.d/01hapg-lab-proxy', content: renderAptProxyConf(opts.proxyUrl), mode: 0o644 },
  ];
}
