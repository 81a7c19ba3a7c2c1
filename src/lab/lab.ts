import { open, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EventSink } from '../run/events.js';
import { HapgError } from '../errors.js';
import { parseOsReleaseCodename, pickDebianMirrors, readMachineSources, type AptSource, type DebianMirrors } from './apt-sources.js';
import { labCgroupRoots, cgroupTreePids, removeCgroupTree } from './cgroup.js';
import { bootFailureInLog, lastBootLines, parseSystemState, SYSTEM_STATE_COMMAND, type SystemState } from './host-health.js';
import { bootHost, findHostProcesses, isHostProcess, isRootMounted, powerOffHost, prepareHostDisk } from './hosts.js';
import { GENERATED_HEADER, writeLabInventory } from './inventory-writer.js';
import { ensureKernelLimits } from './kernel-limits.js';
import { ensureHostKey, ensureLabKey, publicKeyBlob, renderKnownHosts, type KeyPair } from './keys.js';
import { assertHostCounts, candidateSubnets, parseSubnet, planLayout, type LabLayout, type LabSubnet } from './layout.js';
import { removeTree, unmountTree } from './mounts.js';
import {
  assertBridgeIsOurs,
  assertSubnetIsFree,
  createHostNetwork,
  cutPeers,
  hostAddresses,
  deleteLink,
  deleteNetns,
  ensureBridge,
  hostIsIsolated,
  hostNetworkIsIntact,
  linkExists,
  listLabBridges,
  listLabNetworkObjects,
  setHostIsolated,
  setPeersCut,
  subnetConflict,
} from './network.js';
import { DEFAULT_LAB, hostDirs, labFlag, labPaths, type LabNames, type LabPaths } from './paths.js';
import { assertLabPlatform, assertOverlayfs, installLabPackages, missingLabPackages } from './prereqs.js';
import { terminate } from './processes.js';
import { APT_PROXY_PORT, aptProxyRunning, ensureAptProxy, proxyAnswers, stopAptProxy } from './proxy.js';
import { DEFAULT_RELEASE, type LabRelease } from './releases.js';
import { baseRootfsDir, ensureBaseRootfs } from './rootfs.js';
import { sshRun, waitForSsh } from './ssh-probe.js';
import { findHost, readLabState, withCachesLock, withLabLock, writeLabState, type LabHostState, type LabState } from './state.js';

const BOOT_TIMEOUT_MS = 120_000;
/** nspawn turns SIGTERM into an orderly poweroff of the host's systemd; this long we wait for it. */
const POWEROFF_GRACE_MS = 30_000;

export interface LabUpOptions {
  hosts: number;
  datacenters: number;
  /** Inventory to write; default defaultInventoryPath(lab). */
  out?: string | undefined;
  /** A private /24; default: the lab's current subnet, else the first free one for its name. */
  subnet?: string | undefined;
  /** Default: the lab's current release, else trixie. */
  release?: LabRelease | undefined;
}

export interface LabUpResult {
  state: LabState;
  inventoryPath: string;
  /** True when the running lab already matched and nothing was (re)created. */
  reused: boolean;
  /** True when this call built the lab from nothing (no usable lab was running before). */
  created: boolean;
}

export interface LabHostStatus {
  name: string;
  address: string;
  datacenter: string;
  running: boolean;
  sshReachable: boolean;
  isolated: boolean;
  /** Hosts of the lab this one is partitioned from (`lab partition`). */
  cutFrom: string[];
  /** What the host's systemd says (asked over SSH), when it answers. */
  system?: SystemState | undefined;
  /** Why the host's systemd did not come up, from its console log, when SSH does not answer. */
  bootFailure?: string | undefined;
}

export interface LabStatus {
  lab: string;
  state: LabState | undefined;
  hosts: LabHostStatus[];
  proxyRunning: boolean;
  /** Whether the apt proxy answers on this lab's bridge (what its hosts use). */
  proxyServesLab: boolean;
}

/** `inventories/lab.yml` for the default lab, `inventories/lab-NAME.yml` for lab NAME. */
export function defaultInventoryPath(lab: string): string {
  return lab === DEFAULT_LAB ? 'inventories/lab.yml' : `inventories/lab-${lab}.yml`;
}

function proxyUrlOn(address: string): string {
  return `http://${address}:${APT_PROXY_PORT}`;
}

function waitingFor(sink: EventSink, what: string): (pid: number) => void {
  return (pid) => sink({ kind: 'info', message: `waiting for ${what} (pid ${pid})` });
}

function waitingForCaches(sink: EventSink): (pid: number) => void {
  return waitingFor(sink, 'another hapg lab command to finish with the shared caches');
}

/** The machine's release and apt sources, from which each lab release's mirrors are picked. */
interface MachineSources {
  codename: string;
  sources: AptSource[];
}

/** Packages, kernel features and the machine's Debian mirror: what every lab command that builds needs. */
async function ensureMachineReady(paths: LabPaths, sink: EventSink): Promise<MachineSources> {
  assertLabPlatform();
  await withCachesLock(paths, waitingForCaches(sink), async () => {
    const missing = await missingLabPackages();
    if (missing.length > 0) await installLabPackages(missing, sink);
    else sink({ kind: 'noop', host: 'localhost', title: 'lab packages', reason: 'installed' });
  });
  await assertOverlayfs();
  const codename = parseOsReleaseCodename(await readFile('/etc/os-release', 'utf8').catch(() => ''));
  if (!codename) throw new HapgError('LAB', 'cannot tell the Debian release of this machine (no VERSION_CODENAME in /etc/os-release)');
  return { codename, sources: await readMachineSources() };
}

/**
 * Proxy, lab key and the release's base rootfs: the caches every lab builds on. The proxy
 * listens on loopback and on the bridge of every lab that is up (this one's included when its
 * bridge exists), so one apt-cacher-ng serves them all.
 */
async function ensureCaches(paths: LabPaths, release: LabRelease, mirrors: DebianMirrors, sink: EventSink): Promise<{ baseDir: string; labKey: KeyPair }> {
  return withCachesLock(paths, waitingForCaches(sink), async () => {
    const bridges = (await listLabBridges()).map((b) => b.address).filter((a): a is string => a !== undefined);
    const bind = [...new Set(['127.0.0.1', ...bridges.sort()])];
    await ensureAptProxy(paths, { bindAddresses: bind, mirror: mirrors.archive }, sink);
    const labKey = await ensureLabKey(paths);
    const baseDir = await ensureBaseRootfs(paths, release, { mirror: mirrors.archive, hostSources: mirrors.hostSources, proxyUrl: proxyUrlOn('127.0.0.1') }, sink);
    return { baseDir, labKey };
  });
}

/** `hapg lab setup`: installs what is missing, starts the apt proxy, builds the base rootfs of RELEASE (default: the lab's, else trixie). */
export async function labSetup(opts: { release?: LabRelease | undefined }, sink: EventSink, paths = labPaths()): Promise<LabRelease> {
  assertLabPlatform();
  return withLabLock(paths, waitingFor(sink, 'another hapg lab command'), async () => {
    const machine = await ensureMachineReady(paths, sink);
    const release = opts.release ?? (await readLabState(paths))?.release ?? DEFAULT_RELEASE;
    await ensureCaches(paths, release, pickDebianMirrors(machine.sources, machine.codename, release), sink);
    return release;
  });
}

/**
 * The lab's subnet when --subnet is not given: the one it has (while still free), else the
 * first free candidate for its name.
 */
async function chooseSubnet(names: LabNames, previous: LabState | undefined): Promise<LabSubnet> {
  const candidates = [...(previous ? [previous.subnet] : []), ...candidateSubnets(names.lab)];
  let firstConflict: string | undefined;
  for (const cidr of candidates) {
    const subnet = parseSubnet(cidr);
    const conflict = await subnetConflict(names, subnet);
    if (!conflict) return subnet;
    firstConflict ??= `${cidr} overlaps ${conflict}`;
  }
  throw new HapgError('LAB', `no free subnet for lab "${names.lab}": ${firstConflict ?? 'none to try'}`, {
    hint: 'pick a free private /24 with --subnet',
  });
}

/**
 * `hapg lab up`: a running lab with the same host count, subnet and release is kept as it is
 * (hosts powered off by `lab stop` are booted, isolated hosts healed); anything else —
 * leftovers of a killed session, a lab of another size, a host that died — is torn down and
 * re-created. Only this lab's objects are touched; other labs keep running.
 */
export async function labUp(opts: LabUpOptions, sink: EventSink, paths = labPaths()): Promise<LabUpResult> {
  assertHostCounts(opts);
  if (opts.subnet !== undefined) parseSubnet(opts.subnet);
  const { names } = paths;
  const inventoryPath = path.resolve(opts.out ?? defaultInventoryPath(names.lab));
  assertLabPlatform();
  return withLabLock(paths, waitingFor(sink, `another hapg lab command on lab ${names.lab}`), async () => {
    const machine = await ensureMachineReady(paths, sink);
    await assertBridgeIsOurs(names);
    const previous = await readLabState(paths);
    const release = opts.release ?? previous?.release ?? DEFAULT_RELEASE;
    const subnet = opts.subnet !== undefined ? parseSubnet(opts.subnet) : await chooseSubnet(names, previous);
    await assertSubnetIsFree(names, subnet);
    const layout = planLayout({ hosts: opts.hosts, datacenters: opts.datacenters, subnet: subnet.cidr });
    const mirrors = pickDebianMirrors(machine.sources, machine.codename, release);
    const verdict = await reusable(paths, previous, layout, release);
    if (!verdict.ok) {
      if (verdict.reason) sink({ kind: 'info', message: `re-creating lab ${names.lab}: ${verdict.reason}` });
      await teardown(paths, sink);
    }
    await ensureKernelLimits(sink);
    // Checked again with the bridge made under the caches lock: two labs coming up at once
    // cannot both take one subnet.
    await withCachesLock(paths, waitingForCaches(sink), async () => {
      await assertSubnetIsFree(names, layout.subnet);
      await ensureBridge(names, layout.subnet, layout.bridgeAddress);
    });
    const { baseDir, labKey } = await ensureCaches(paths, release, mirrors, sink);
    const hostKeys = new Map<string, KeyPair>();
    for (const host of layout.hosts) hostKeys.set(host.name, await ensureHostKey(paths, host.name));
    const proxyUrl = proxyUrlOn(layout.bridgeAddress);

    const state: LabState =
      verdict.ok && previous
        ? { ...previous, datacenters: layout.datacenters, hosts: previous.hosts.map((h, i) => ({ ...h, datacenter: layout.hosts[i]?.datacenter ?? h.datacenter })) }
        : {
            version: 1,
            release,
            subnet: layout.subnet.cidr,
            bridgeAddress: layout.bridgeAddress,
            datacenters: layout.datacenters,
            baseDir,
            proxyUrl,
            inventories: [],
            hosts: layout.hosts.map((h) => ({ ...h, stopped: false, isolated: false })),
          };
    await mkdir(paths.stateDir, { recursive: true, mode: 0o755 });
    const knownHosts = renderKnownHosts(layout.hosts.map((h) => ({ address: h.address, publicKey: hostKeys.get(h.name)?.publicKey ?? '' })));
    if ((await readFile(paths.knownHosts, 'utf8').catch(() => undefined)) !== knownHosts) await writeFile(paths.knownHosts, knownHosts, { mode: 0o644 });

    const toBoot: LabHostState[] = [];
    if (verdict.ok) {
      for (const host of state.hosts) {
        if (host.isolated) {
          await setHostIsolated(names, host.name, false);
          host.isolated = false;
          sink({ kind: 'change', host: host.name, title: 'network healed' });
        }
        if (!(await isHostProcess(paths, host.name, host.pid))) toBoot.push(host);
      }
    } else {
      await Promise.all(
        state.hosts.map(async (host) => {
          await createHostNetwork(names, host.name, host.address, layout.subnet);
          await prepareHostDisk(paths, { host, hosts: layout.hosts, baseDir, labKey, hostKey: hostKeys.get(host.name) as KeyPair, proxyUrl });
        }),
      );
      toBoot.push(...state.hosts);
    }
    for (const host of toBoot) {
      host.pid = await bootHost(paths, host.name);
      host.stopped = false;
      sink({ kind: 'step', host: host.name, title: `booting (${host.address})` });
    }
    await writeLabState(paths, state);

    await waitForSsh(
      state.hosts.map((h) => ({ host: h.name, address: h.address, hostKey: publicKeyBlob(hostKeys.get(h.name)?.publicKey ?? '') })),
      labKey.privateKeyFile,
      {
        timeoutMs: BOOT_TIMEOUT_MS,
        stillRunning: (name) => isHostProcess(paths, name, state.hosts.find((h) => h.name === name)?.pid),
        logOf: (name) => hostDirs(paths, name).log,
      },
    );
    for (const host of state.hosts) {
      if (toBoot.includes(host)) sink({ kind: 'change', host: host.name, title: 'up', detail: `ssh root@${host.address}` });
      else sink({ kind: 'noop', host: host.name, title: 'host', reason: `running, ssh root@${host.address}` });
    }
    await writeLabInventory({ lab: names.lab, layout, release: state.release, identityFile: labKey.privateKeyFile, knownHosts: paths.knownHosts, proxyUrl, inventoryPath });
    if (!state.inventories.includes(inventoryPath)) state.inventories.push(inventoryPath);
    await writeLabState(paths, state);
    return { state, inventoryPath, reused: verdict.ok && toBoot.length === 0, created: !verdict.ok };
  });
}

/** Whether the lab on the machine is exactly what LAYOUT and RELEASE ask for, and whole. */
async function reusable(paths: LabPaths, state: LabState | undefined, layout: LabLayout, release: LabRelease): Promise<{ ok: boolean; reason?: string }> {
  const { names } = paths;
  if (!state) return { ok: false };
  if (state.release !== release) return { ok: false, reason: `release ${state.release} → ${release}` };
  if (state.subnet !== layout.subnet.cidr) return { ok: false, reason: `subnet ${state.subnet} → ${layout.subnet.cidr}` };
  if (state.hosts.length !== layout.hosts.length) return { ok: false, reason: `${state.hosts.length} hosts → ${layout.hosts.length}` };
  if (state.baseDir !== baseRootfsDir(paths, release)) return { ok: false, reason: 'the base rootfs changed' };
  if (!(await linkExists(names.bridge))) return { ok: false, reason: `bridge ${names.bridge} is gone` };
  for (const host of state.hosts) {
    if (!(await hostNetworkIsIntact(names, host.name, host.address))) return { ok: false, reason: `the network of ${host.name} is incomplete` };
    if (!(await isRootMounted(paths, host.name))) return { ok: false, reason: `the root of ${host.name} is not mounted` };
    if (!host.stopped && !(await isHostProcess(paths, host.name, host.pid))) {
      return { ok: false, reason: `${host.name} is not running (killed, or powered off from inside)` };
    }
  }
  return { ok: true };
}

/**
 * Removes every kernel object and process this lab owns — found by its names and paths, not
 * only through the state file — in dependency order: processes (waited for), cgroups,
 * mounts, veths, namespaces, bridge, state dir. Other labs' objects, the caches and the apt
 * proxy stay.
 */
async function teardown(paths: LabPaths, sink: EventSink): Promise<void> {
  const { names } = paths;
  const state = await readLabState(paths);
  const running = new Map<number, string>();
  for (const p of await findHostProcesses(names)) running.set(p.pid, p.host);
  for (const h of state?.hosts ?? []) {
    if (h.pid !== undefined && (await isHostProcess(paths, h.name, h.pid))) running.set(h.pid, h.name);
  }
  if (running.size > 0) {
    sink({ kind: 'step', host: 'localhost', title: `powering off ${[...new Set(running.values())].sort().join(', ')} (lab ${names.lab})` });
    const left = await terminate([...running.keys()], { signal: 'SIGTERM', graceMs: POWEROFF_GRACE_MS });
    if (left.length > 0) throw new HapgError('LAB', `nspawn processes ${left.join(', ')} of lab ${names.lab} survived SIGKILL`);
  }
  for (const root of await labCgroupRoots(names)) {
    const pids = await cgroupTreePids(root);
    if (pids.length > 0) await terminate(pids, { signal: 'SIGKILL', graceMs: 5000 });
    await removeCgroupTree(root);
  }
  await unmountTree(paths.hostsDir);
  const objects = await listLabNetworkObjects(names);
  for (const veth of objects.veths) await deleteLink(veth);
  for (const ns of objects.netns) await deleteNetns(ns);
  if (objects.bridge) await deleteLink(names.bridge);
  for (const file of state?.inventories ?? []) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text?.startsWith(`#${GENERATED_HEADER}`)) await rm(file, { force: true });
  }
  await removeTree(paths.stateDir);
}

/**
 * `hapg lab down`: everything this lab created goes, the caches stay. The apt proxy stops
 * with the last lab: while another lab's bridge is up, it keeps serving that lab.
 */
export async function labDown(sink: EventSink, paths = labPaths()): Promise<void> {
  assertLabPlatform();
  await withLabLock(paths, waitingFor(sink, `another hapg lab command on lab ${paths.names.lab}`), async () => {
    await assertBridgeIsOurs(paths.names);
    await teardown(paths, sink);
    await withCachesLock(paths, waitingForCaches(sink), async () => {
      const others = await listLabBridges();
      if (others.length > 0) {
        const users = others.map((b) => (b.lab ? `lab ${b.lab}` : b.bridge)).join(', ');
        if (await aptProxyRunning(paths)) sink({ kind: 'noop', host: 'localhost', title: 'apt proxy', reason: `kept running for ${users}` });
        return;
      }
      if (await stopAptProxy(paths)) sink({ kind: 'change', host: 'localhost', title: 'apt proxy stopped', detail: `no lab left; cache kept in ${paths.proxyDir}` });
    });
  });
}

/** The last 64 KiB of a host's console log (enough for its last boot). */
async function logTail(file: string): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** One host as `lab status` shows it: process, SSH, bridge port, and what its systemd says. */
async function hostStatus(paths: LabPaths, host: LabHostState, privateKey: Buffer | undefined): Promise<LabHostStatus> {
  const running = await isHostProcess(paths, host.name, host.pid);
  const isolated = await hostIsIsolated(paths.names, host.name);
  const pub = await readFile(path.join(paths.hostKeysDir, host.name, 'ssh_host_ed25519_key.pub'), 'utf8').catch(() => undefined);
  const target = pub !== undefined ? { host: host.name, address: host.address, hostKey: publicKeyBlob(pub) } : undefined;
  // Every host is asked at once: on a busy machine a handshake may miss the first 10 s, so a
  // host that did not answer (and is not isolated on purpose) is asked once more before it
  // counts as unreachable.
  const answer =
    running && privateKey !== undefined && target !== undefined
      ? ((await sshRun(target, privateKey, SYSTEM_STATE_COMMAND, 10_000)) ?? (isolated ? undefined : await sshRun(target, privateKey, SYSTEM_STATE_COMMAND, 20_000)))
      : undefined;
  const cut = running ? await cutPeers(paths.names, host.name) : [];
  const byAddress = new Map((await readLabState(paths))?.hosts.map((h) => [h.address, h.name]) ?? []);
  const cutFrom = cut.map((a) => byAddress.get(a) ?? a);
  const status: LabHostStatus = { name: host.name, address: host.address, datacenter: host.datacenter, running, sshReachable: answer !== undefined, isolated, cutFrom };
  if (answer) status.system = parseSystemState(answer.stdout);
  else if (running && !isolated) status.bootFailure = bootFailureInLog(await logTail(hostDirs(paths, host.name).log));
  return status;
}

/** `hapg lab status`: the named lab's hosts — address, running, SSH, isolated, systemd's state — and the apt proxy. */
export async function labStatus(paths = labPaths()): Promise<LabStatus> {
  assertLabPlatform();
  const lab = paths.names.lab;
  const state = await readLabState(paths);
  const proxyRunning = await aptProxyRunning(paths);
  if (!state) return { lab, state, hosts: [], proxyRunning, proxyServesLab: false };
  const privateKey = await readFile(paths.labKey).catch(() => undefined);
  const hosts = await Promise.all(state.hosts.map((h) => hostStatus(paths, h, privateKey)));
  return { lab, state, hosts, proxyRunning, proxyServesLab: proxyRunning && (await proxyAnswers(state.bridgeAddress)) };
}

async function withHost<T>(paths: LabPaths, name: string, sink: EventSink, fn: (state: LabState, host: LabHostState) => Promise<T>): Promise<T> {
  assertLabPlatform();
  return withLabLock(paths, waitingFor(sink, `another hapg lab command on lab ${paths.names.lab}`), async () => {
    const state = await readLabState(paths);
    const host = findHost(state, name, paths.names.lab);
    const result = await fn(state as LabState, host);
    await writeLabState(paths, state as LabState);
    return result;
  });
}

/** Ends every partition a host is on either side of (`lab heal HOST`). */
async function healPartitions(paths: LabPaths, state: LabState, host: LabHostState, sink: EventSink): Promise<void> {
  const mine = await cutPeers(paths.names, host.name);
  if (mine.length === 0) return;
  await setPeersCut(paths.names, host.name, mine, false);
  // A peer was cut from this host's own address and from the VIPs it held: addresses that are
  // no host's own are dropped from the peer's cut list with it.
  const own = new Set(state.hosts.map((h) => h.address));
  for (const peer of state.hosts.filter((h) => mine.includes(h.address))) {
    const theirs = await cutPeers(paths.names, peer.name);
    await setPeersCut(paths.names, peer.name, theirs.filter((addr) => addr === host.address || !own.has(addr)), false);
  }
  sink({ kind: 'change', host: host.name, title: `partition healed (${state.hosts.filter((h) => mine.includes(h.address)).map((h) => h.name).join(', ')})` });
}

/** `hapg lab stop HOST`: orderly poweroff; address, disk and identity stay for `lab start`. */
export async function labStop(name: string, sink: EventSink, paths = labPaths(), opts: { hard?: boolean } = {}): Promise<void> {
  await withHost(paths, name, sink, async (_state, host) => {
    if (!(await isHostProcess(paths, host.name, host.pid))) {
      host.stopped = true;
      host.pid = undefined;
      sink({ kind: 'noop', host: host.name, title: 'stop', reason: 'not running' });
      return;
    }
    await powerOffHost(paths.names, host.name, host.pid, { graceMs: POWEROFF_GRACE_MS, hard: opts.hard ?? false });
    host.stopped = true;
    host.pid = undefined;
    sink({ kind: 'change', host: host.name, title: opts.hard ? 'powered off hard (every process killed, no shutdown)' : 'powered off' });
  });
}

/** `hapg lab start HOST`: boots a stopped host with its disk and waits for its sshd. */
export async function labStart(name: string, sink: EventSink, paths = labPaths()): Promise<void> {
  await withHost(paths, name, sink, async (state, host) => {
    if (await isHostProcess(paths, host.name, host.pid)) {
      sink({ kind: 'noop', host: host.name, title: 'start', reason: 'already running' });
      return;
    }
    await bootAndWaitForSsh(paths, state, host, sink);
  });
}

/**
 * `hapg lab rebuild HOST`: the host's disk dies and a fresh one takes its place — powered off
 * at once (as a dead machine is), its root replaced by a fresh copy of the lab's base rootfs
 * (its own files gone: packages, data, configuration), then booted with the same name,
 * address, SSH host key and authorised lab key as `lab up` gives it.
 */
export async function labRebuild(name: string, sink: EventSink, paths = labPaths()): Promise<void> {
  await withHost(paths, name, sink, async (state, host) => {
    // Its network stays as it is: only the disk is new.
    assertHostIntact(paths, host, await hostNetworkIsIntact(paths.names, host.name, host.address));
    if (await isHostProcess(paths, host.name, host.pid)) {
      await powerOffHost(paths.names, host.name, host.pid, { graceMs: POWEROFF_GRACE_MS, hard: true });
      sink({ kind: 'change', host: host.name, title: 'powered off hard' });
    }
    host.stopped = true;
    host.pid = undefined;
    await writeLabState(paths, state);
    const dirs = hostDirs(paths, host.name);
    await unmountTree(dirs.root);
    await removeTree(dirs.upper);
    await removeTree(dirs.work);
    await prepareHostDisk(paths, {
      host,
      hosts: state.hosts,
      baseDir: state.baseDir,
      labKey: await ensureLabKey(paths),
      hostKey: await ensureHostKey(paths, host.name),
      proxyUrl: state.proxyUrl,
    });
    sink({ kind: 'change', host: host.name, title: 'fresh disk', detail: `a new copy of ${state.baseDir}` });
    await bootAndWaitForSsh(paths, state, host, sink);
  });
}

/** Refuses to boot a host whose network or root mount is gone (only `lab up` re-creates them). */
function assertHostIntact(paths: LabPaths, host: LabHostState, intact: boolean): void {
  if (intact) return;
  throw new HapgError('LAB', `${host.name}: its network or disk is gone (lab ${paths.names.lab})`, {
    host: host.name,
    hint: `re-create the lab with \`hapg lab up${labFlag(paths.names.lab)}\``,
  });
}

/** Boots a host that is off (network and root in place) and waits for its sshd. */
async function bootAndWaitForSsh(paths: LabPaths, state: LabState, host: LabHostState, sink: EventSink): Promise<void> {
  assertHostIntact(paths, host, (await hostNetworkIsIntact(paths.names, host.name, host.address)) && (await isRootMounted(paths, host.name)));
  await ensureKernelLimits(sink);
  const pub = await readFile(path.join(paths.hostKeysDir, host.name, 'ssh_host_ed25519_key.pub'), 'utf8');
  const boot = async () => {
    host.pid = await bootHost(paths, host.name);
    host.stopped = false;
    await writeLabState(paths, state);
    await waitForSsh([{ host: host.name, address: host.address, hostKey: publicKeyBlob(pub) }], paths.labKey, {
      timeoutMs: BOOT_TIMEOUT_MS,
      stillRunning: () => isHostProcess(paths, host.name, host.pid),
      logOf: () => hostDirs(paths, host.name).log,
    });
  };
  // Seen on a busy machine right after a power cut: nspawn exits at once. What it said is in
  // the host's log; booting again (2 s, then 10 s later) is what anyone would try, and it is said.
  const pauses = [2000, 10_000];
  for (let attempt = 0; ; attempt++) {
    try {
      await boot();
      break;
    } catch (err) {
      if (!(err instanceof HapgError && /stopped while booting/.test(err.message))) throw err;
      const said = lastBootLines(await logTail(hostDirs(paths, host.name).log)).join(' | ');
      if (attempt === pauses.length) {
        throw new HapgError('LAB', `${host.name} stopped while booting, ${attempt + 1} times (its log ends: ${said || 'nothing'})`, { host: host.name, hint: `see ${hostDirs(paths, host.name).log}` });
      }
      sink({ kind: 'warn', message: `${host.name} stopped while booting (its log ends: ${said || 'nothing'}): booting it again in ${pauses[attempt]! / 1000} s` });
      await new Promise((r) => setTimeout(r, pauses[attempt]));
    }
  }
  sink({ kind: 'change', host: host.name, title: 'up', detail: `ssh root@${host.address}` });
}

/**
 * `hapg lab partition A,B C,D`: the hosts of each group lose each other (packets silently
 * lost, both ways) and keep every other peer, the control machine included: two datacenters
 * whose link failed. `lab heal HOST` restores a host's side.
 */
export async function labPartition(groupA: readonly string[], groupB: readonly string[], sink: EventSink, paths = labPaths()): Promise<void> {
  assertLabPlatform();
  await withLabLock(paths, waitingFor(sink, `another hapg lab command on lab ${paths.names.lab}`), async () => {
    const state = await readLabState(paths);
    const a = groupA.map((n) => findHost(state, n, paths.names.lab));
    const b = groupB.map((n) => findHost(state, n, paths.names.lab));
    const both = a.filter((h) => b.includes(h));
    if (both.length) throw new HapgError('USAGE', `${both.map((h) => h.name).join(', ')} cannot be on both sides of a partition`);
    // Every address the other side holds, not only the hosts' own: traffic to a VIP held over
    // there must be lost too, or a replica streaming through the VIP would cross the cut.
    const held = async (group: readonly LabHostState[]) => [...new Set((await Promise.all(group.map(async (h) => [h.address, ...(await hostAddresses(paths.names, h.name))]))).flat())];
    const addresses = new Map([[a, await held(a)], [b, await held(b)]]);
    for (const [side, other] of [[a, b], [b, a]] as const) {
      for (const host of side) {
        await setPeersCut(paths.names, host.name, addresses.get(other)!, true);
        sink({ kind: 'change', host: host.name, title: `cut off from ${other.map((h) => h.name).join(', ')}` });
      }
    }
  });
}

/** `hapg lab isolate HOST` / `heal HOST`: drops (or forwards again) the host's frames at the bridge; heal also ends its partitions. */
export async function labSetIsolated(name: string, isolated: boolean, sink: EventSink, paths = labPaths()): Promise<void> {
  await withHost(paths, name, sink, async (state, host) => {
    if (!isolated) await healPartitions(paths, state, host, sink);
    if ((await hostIsIsolated(paths.names, host.name)) === isolated) {
      host.isolated = isolated;
      sink({ kind: 'noop', host: host.name, title: isolated ? 'isolate' : 'heal', reason: isolated ? 'already isolated' : 'not isolated' });
      return;
    }
    await setHostIsolated(paths.names, host.name, isolated);
    host.isolated = isolated;
    sink({ kind: 'change', host: host.name, title: isolated ? 'isolated (frames dropped at the bridge)' : 'network healed' });
  });
}
