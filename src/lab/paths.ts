import { createHash } from 'node:crypto';
import path from 'node:path';
import { HapgError } from '../errors.js';

/** The lab `hapg lab …` works on when neither --lab nor HAPG_LAB names one. */
export const DEFAULT_LAB = 'default';

/**
 * Machine-wide names of one lab's kernel objects. The default lab keeps the names hapg has
 * always used (so leftovers of older versions are still recognised); lab NAME gets its own
 * set, derived from a short hash of NAME because interface names stop at 15 characters
 * (IFNAMSIZ): `hapg-1a2b-br`, veths and namespaces `hapg-1a2b-pg40`.
 */
export interface LabNames {
  lab: string;
  bridge: string;
  /** Network namespaces: PREFIX + host (`hapg-lab-pg1`, `hapg-1a2b-pg1`). */
  netnsPrefix: string;
  /** Host ends of the veths on the bridge: PREFIX + host (`hapg-pg1`, `hapg-1a2b-pg1`). */
  vethPrefix: string;
  /** Parent cgroup (in every hierarchy) holding one child per host. */
  cgroupGroup: string;
  /** nspawn machine names: PREFIX + host (`pg1`, `NAME-pg1`), unique on the machine. */
  machinePrefix: string;
  /** ifalias written on the bridge: tells which lab owns it (`ip link` shows it too). */
  bridgeAlias: string;
}

/** Every name and path the lab owns; teardown removes exactly these and nothing else. */
export interface LabPaths {
  names: LabNames;
  /** Shared by every lab, survives `lab down`: base rootfs, apt cache, lab key, host keys. */
  cacheDir: string;
  /** This lab's, removed by `lab down`: state file, overlays, logs, known_hosts. */
  stateDir: string;
  labKey: string;
  hostKeysDir: string;
  rootfsDir: string;
  proxyDir: string;
  stateFile: string;
  knownHosts: string;
  hostsDir: string;
  logsDir: string;
  /** This lab's commands run one at a time (other labs run beside it). */
  lockDir: string;
  /** Held while the shared caches change: lab packages, the apt proxy, a base rootfs build. */
  cachesLockDir: string;
}

const LAB_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const MAX_LAB_NAME = 24;

/** Checks a lab name (`--lab`, HAPG_LAB): it ends up in paths, cgroup and machine names. */
export function parseLabName(name: string): string {
  if (!LAB_NAME.test(name) || name.length > MAX_LAB_NAME) {
    throw new HapgError('USAGE', `lab name "${name}": expected lower-case letters, digits and inner dashes, at most ${MAX_LAB_NAME} characters (e.g. ci-2)`);
  }
  return name;
}

/** --lab, else HAPG_LAB, else `default`. */
export function resolveLabName(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return parseLabName(flag ?? (env['HAPG_LAB'] || DEFAULT_LAB));
}

/** ` --lab NAME` for hints that name a command; empty for the default lab. */
export function labFlag(lab: string): string {
  return lab === DEFAULT_LAB ? '' : ` --lab ${lab}`;
}

/** Four hex digits of the name's SHA-256: short enough for interface names. */
export function labTag(lab: string): string {
  return createHash('sha256').update(lab).digest('hex').slice(0, 4);
}

export function labNames(lab: string): LabNames {
  if (lab === DEFAULT_LAB) {
    return {
      lab,
      bridge: 'hapg-br0',
      netnsPrefix: 'hapg-lab-',
      vethPrefix: 'hapg-',
      cgroupGroup: 'hapg-lab',
      machinePrefix: '',
      bridgeAlias: `hapg lab ${lab}`,
    };
  }
  const tag = labTag(lab);
  return {
    lab,
    bridge: `hapg-${tag}-br`,
    netnsPrefix: `hapg-${tag}-`,
    vethPrefix: `hapg-${tag}-`,
    cgroupGroup: `hapg-lab-${lab}`,
    machinePrefix: `${lab}-`,
    bridgeAlias: `hapg lab ${lab}`,
  };
}

/** True for the bridge of any lab (default or named), whoever started it. */
export function isLabBridgeName(name: string): boolean {
  return name === labNames(DEFAULT_LAB).bridge || /^hapg-[0-9a-f]{4}-br$/.test(name);
}

/**
 * Resolves a lab's directories. Caches ($HAPG_LAB_CACHE, /var/cache/hapg/lab) are shared by
 * every lab; the default lab's state is $HAPG_LAB_STATE or /var/lib/hapg/lab, lab NAME's is
 * the same path with `-NAME` appended (/var/lib/hapg/lab-NAME), its lock /run/hapg-lab-NAME.lock.
 */
export function labPaths(env: NodeJS.ProcessEnv = process.env, lab: string = resolveLabName(undefined, env)): LabPaths {
  const names = labNames(parseLabName(lab));
  const suffix = lab === DEFAULT_LAB ? '' : `-${lab}`;
  const cacheDir = path.resolve(env['HAPG_LAB_CACHE'] || '/var/cache/hapg/lab');
  const stateDir = `${path.resolve(env['HAPG_LAB_STATE'] || '/var/lib/hapg/lab')}${suffix}`;
  return {
    names,
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
    lockDir: `/run/hapg-lab${suffix}.lock`,
    cachesLockDir: '/run/hapg-lab.caches.lock',
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

export function netnsName(names: LabNames, host: string): string {
  return `${names.netnsPrefix}${host}`;
}

export function vethName(names: LabNames, host: string): string {
  return `${names.vethPrefix}${host}`;
}

/** The lab host a namespace or veth name belongs to, if it is one of this lab's. */
export function hostOfLabObject(prefix: string, objectName: string): string | undefined {
  if (!objectName.startsWith(prefix)) return undefined;
  const host = objectName.slice(prefix.length);
  return /^pg\d+$/.test(host) ? host : undefined;
}
