import path from 'node:path';

/** Every name and path the lab owns; teardown removes exactly these and nothing else. */
export interface LabPaths {
  /** Survives `lab down`: base rootfs, apt cache, lab key, host keys. */
  cacheDir: string;
  /** Removed by `lab down`: state file, overlays, logs, known_hosts. */
  stateDir: string;
  labKey: string;
  hostKeysDir: string;
  rootfsDir: string;
  proxyDir: string;
  stateFile: string;
  knownHosts: string;
  hostsDir: string;
  logsDir: string;
  /**
   * Machine-wide: bridge, namespace and cgroup names are global, so there is one lab per
   * machine whatever HAPG_LAB_STATE says, and its commands run one at a time.
   */
  lockDir: string;
}

export const BRIDGE_NAME = 'hapg-br0';
/** Parent cgroup (in every hierarchy) holding one child per host. */
export const CGROUP_GROUP = 'hapg-lab';
export const NETNS_PREFIX = 'hapg-lab-';
/** Host-side veth names: `hapg-pg1` … (IFNAMSIZ leaves room up to pg9999999). */
export const VETH_PREFIX = 'hapg-';

/** Resolves the lab's directories, honouring HAPG_LAB_CACHE and HAPG_LAB_STATE. */
export function labPaths(env: NodeJS.ProcessEnv = process.env): LabPaths {
  const cacheDir = path.resolve(env['HAPG_LAB_CACHE'] || '/var/cache/hapg/lab');
  const stateDir = path.resolve(env['HAPG_LAB_STATE'] || '/var/lib/hapg/lab');
  return {
    cacheDir,
    stateDir,
    labKey: path.join(cacheDir, 'id_ed25519'),
    hostKeysDir: path.join(cacheDir, 'host-keys'),
    rootfsDir: path.join(cacheDir, 'rootfs'),
    proxyDir: path.join(cacheDir, 'apt-proxy'),
    stateFile: path.join(stateDir, 'state.json'),
    knownHosts: path.join(stateDir, 'known_hosts'),
    hostsDir: path.join(stateDir, 'hosts'),
    logsDir: path.join(stateDir, 'logs'),
    lockDir: '/run/hapg-lab.lock',
  };
}

/** Where one host's overlay layers live. */
export function hostDirs(paths: LabPaths, host: string): { base: string; upper: string; work: string; root: string; log: string } {
  const base = path.join(paths.hostsDir, host);
  return {
    base,
    upper: path.join(base, 'upper'),
    work: path.join(base, 'work'),
    root: path.join(base, 'root'),
    log: path.join(paths.logsDir, `${host}.log`),
  };
}

export function netnsName(host: string): string {
  return `${NETNS_PREFIX}${host}`;
}

export function vethName(host: string): string {
  return `${VETH_PREFIX}${host}`;
}
