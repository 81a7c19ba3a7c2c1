// A running cluster whose inventory asks for TLS while it runs in plaintext is converted by
// deploy in passes, each one a whole deploy of an intermediate state, re-planned from fresh
// facts (src/stages/conversion.ts runs them):
//
//   prepare  certificates issued; etcd serves its clients over http and https on the same port
//            (members restarted one at a time, quorum checked between), peers still http;
//            PostgreSQL serves TLS (a reload) and pg_hba admits TLS and plain connections alike.
//   peers    each etcd member's peer URL updated to https and the member restarted listening
//            there, one at a time (its peers already present certificates since `prepare`).
//   clients  the clusters paused and HAProxy's checks of their servers suspended; etcd
//            advertises https client URLs (members restarted in turn), its users and roles
//            created and authentication enabled (Patroni, paused, cannot read etcd until it
//            restarts with its login, and changes nothing meanwhile); Patroni
//            restarted to reach etcd over TLS with its login (PostgreSQL keeps running: paused),
//            its REST API on https; pg_hba admits TLS only; replication verify-full; HAProxy
//            and keepalived check over TLS.
//   final    the inventory as it is: etcd serves https only (members restarted in turn);
//            then the clusters resume.
//
// Nothing else is stored: where a conversion stands is read from the hosts, so a run cut short
// is finished by running deploy again. Turning TLS off on a running cluster is refused.
import { readFile, unlink } from 'node:fs/promises';
import { HapgError } from '../../errors.js';
import type { HttpFact } from '../../facts/fact.js';
import { fileContent } from '../../facts/files.js';
import type { LoadedInventory } from '../../inventory/load.js';
import type { TlsConversion } from '../../inventory/schema.js';
import { etcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';
import { tlsFiles, writeLocalFile } from '../../pki/ca.js';
import type { Session } from '../../run/session.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { ETCD_ENV_PATH } from '../etcd/context.js';
import type { EtcdMember } from '../etcd/facts.js';
import { isClusterInitialized } from '../patroni/cluster-state.js';
import { clustersOnEtcd, clusterTls, etcdTls } from './model.js';

/** How the live members of an etcd cluster talk to their peers: by the schemes of their peer URLs. */
export type PeerScheme = 'http' | 'https' | 'mixed';

/** The scheme the live members' peer URLs use (undefined: no member listed). */
export function livePeerScheme(peerUrls: readonly (readonly string[])[]): PeerScheme | undefined {
  const schemes = new Set(peerUrls.flat().map((u) => (u.startsWith('https://') ? 'https' : 'http')));
  if (schemes.size === 0) return undefined;
  return schemes.size > 1 ? 'mixed' : ([...schemes][0] as PeerScheme);
}

/** The passes of a conversion, in order (the last, `final`, deploys the inventory as it is). */
export const CONVERSION_PASSES = ['prepare', 'peers', 'clients', 'final'] as const;
export type ConversionPass = (typeof CONVERSION_PASSES)[number];

/** What each pass does, in the words `plan` and the progress print. */
export const PASS_TITLES: Record<ConversionPass, string> = {
  prepare: 'certificates issued; etcd serves clients over http and https (members restarted one at a time); PostgreSQL serves TLS by reload, pg_hba admits TLS and plain',
  peers: "each etcd member's peer URL moved to https, one member at a time",
  clients: "clusters paused, HAProxy's checks suspended; etcd advertises https client URLs (members restarted one at a time), users and roles created, authentication enabled; Patroni restarted to reach etcd over TLS with its login (PostgreSQL keeps running), REST API on https, pg_hba TLS only, replication verify-full; HAProxy and keepalived check over TLS",
  final: 'etcd serves https only (members restarted one at a time); clusters resumed',
};

/**
 * Where an etcd cluster's conversion stands, from its peer URLs and whether a member still
 * serves clients over both schemes (`dualClients`): the pass to run first, or undefined when it
 * is not converting. `wantTls` is what the inventory asks.
 */
export function etcdConversionStart(etcd: string, running: PeerScheme | undefined, dualClients: boolean, wantTls: boolean, clusters: readonly { name: string; tls: boolean }[]): ConversionPass | undefined {
  if (running === undefined) return undefined;
  if (!wantTls) {
    if (running === 'http' && !dualClients) return undefined;
    const settings = clusters.map((c) => `clusters.${c.name}.tls`).join(', ');
    throw new HapgError('UNSAFE_OPERATION', `etcd cluster ${etcd} runs with TLS (or is being converted to it), but no cluster on it asks for TLS any more: hapg does not turn TLS off on a running cluster; nothing was changed`, {
      hint: `set tls: true again on the clusters that had it (${settings}), and deploy to finish`,
    });
  }
  if (running === 'http') return 'prepare';
  if (running === 'mixed') return 'peers';
  return dualClients ? 'clients' : undefined;
}

/**
 * The refusal for converting an etcd cluster that runs `version` (undefined: none): serving
 * clients over http and https on one port, which the conversion relies on, works from etcd 3.5
 * (etcd 3.4, Debian 12's, drops the plain-HTTP gateway's connections then: seen on the lab).
 */
export function etcdVersionRefusal(etcd: string, version: string | undefined, clusters: readonly string[]): HapgError | undefined {
  const [major, minor] = (version ?? '').split('.').map(Number);
  if (major !== undefined && minor !== undefined && (major > 3 || (major === 3 && minor >= 5))) return undefined;
  return new HapgError(
    'UNSAFE_OPERATION',
    `etcd cluster ${etcd} runs etcd ${version ?? '(version unknown)'} without TLS, and the inventory asks for TLS: converting it live needs etcd 3.5 or later (it serves clients over http and https on one port during the move; etcd 3.4 does not); nothing was changed`,
    { hint: `keep tls: false on ${clusters.map((c) => `clusters.${c}`).join(', ')}, or move the hosts to Debian 13 (etcd 3.5) first` },
  );
}

/** Whether an etcd environment file hapg wrote serves clients over both schemes (a conversion under way). */
export function servesBothSchemes(envFile: string): boolean {
  const urls = /^ETCD_LISTEN_CLIENT_URLS="([^"]*)"$/m.exec(envFile)?.[1] ?? '';
  return urls.includes('http://') && urls.includes('https://');
}

/** Whether Patroni's REST API on a member answers over TLS (verified against `ca`): asked first, so that a TLS REST API never sees a plain request (Patroni logs each one as an SSL error). */
export function restApiTlsFact(port: number, address: string, ca: string): HttpFact<boolean> {
  return {
    id: `patroni-tls-http:${port}`,
    http: { method: 'GET', address, port, path: '/patroni', timeoutMs: 5000, tls: { ca } },
    parse: (res) => res !== undefined && /"state"\s*:/.test(res.body),
  };
}

/** Whether Patroni's REST API on a member answers plain HTTP (it serves no TLS): a probe that never speaks TLS. */
export function restApiPlainFact(port: number, address: string): HttpFact<boolean> {
  return {
    id: `patroni-plain-http:${port}`,
    http: { method: 'GET', address, port, path: '/patroni', timeoutMs: 5000 },
    parse: (res) => res !== undefined && /"state"\s*:/.test(res.body),
  };
}

/** A conversion to run: the pass each etcd cluster starts at, and the clusters whose own hops move. */
export interface ConversionTarget {
  etcd: Record<string, ConversionPass>;
  clusters: string[];
  /** The first pass to run. */
  start: ConversionPass;
}

/** The member list as the first inventory member that answers gives it; undefined when none answers. */
async function liveMembers(session: Session, model: DesiredState, etcd: string): Promise<EtcdMember[] | undefined> {
  const client = etcdClient(model, etcd);
  for (const host of client.hosts.filter((h) => session.remotes.has(h))) {
    const listed = await session.facts.get(host, client.members()).catch(() => undefined);
    if (listed) return listed;
  }
  return undefined;
}

const passIndex = (p: ConversionPass) => CONVERSION_PASSES.indexOf(p);

/**
 * What the hosts say must still be converted (undefined: nothing). An etcd cluster by its
 * members' peer URLs and client listeners; a cluster that asks for TLS by whether its members'
 * REST API still answers plain HTTP. Refuses, with nothing changed, to turn TLS off.
 */
export async function conversionTarget(session: Session, model: DesiredState): Promise<ConversionTarget | undefined> {
  const { inventory } = model;
  const etcd: Record<string, ConversionPass> = {};
  for (const name of Object.keys(inventory.etcd)) {
    const listed = await liveMembers(session, model, name);
    if (!listed) continue;
    const hosts = inventory.etcd[name]!.hosts.filter((h) => session.remotes.has(h));
    const envs = await Promise.all(hosts.map((h) => session.facts.get(h, fileContent(ETCD_ENV_PATH))));
    const clusters = clustersOnEtcd(inventory, name).map((c) => ({ name: c, tls: clusterTls(inventory, c) }));
    const start = etcdConversionStart(name, livePeerScheme(listed.map((m) => m.peerUrls)), envs.some(servesBothSchemes), etcdTls(inventory, name), clusters);
    if (!start) continue;
    const client = etcdClient(model, name);
    const versions = await Promise.all(hosts.map((h) => session.facts.get(h, client.serverVersion()).catch(() => undefined)));
    const oldest = versions.filter((v): v is string => v !== undefined).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))[0];
    const refusal = etcdVersionRefusal(name, oldest, clusters.map((c) => c.name));
    if (refusal) throw refusal;
    etcd[name] = start;
  }
  const clusters: string[] = [];
  for (const [name, cluster] of Object.entries(inventory.clusters)) {
    if (!clusterTls(inventory, name) || !(await isClusterInitialized(session.facts, model, name))) continue;
    const hosts = cluster.hosts.filter((h) => session.remotes.has(h));
    const ca = model.access.tls?.ca.trust;
    const port = cluster.patroni.rest_api_port;
    const plain = await Promise.all(
      hosts.map(async (h) => {
        if (ca && (await session.facts.get(h, restApiTlsFact(port, addressOf(inventory, h), ca)))) return false;
        return session.facts.get(h, restApiPlainFact(port, addressOf(inventory, h)));
      }),
    );
    if (plain.some(Boolean)) clusters.push(name);
  }
  const starts = [...Object.values(etcd), ...(clusters.length ? (['prepare'] as const) : [])];
  if (starts.length === 0) return undefined;
  return { etcd, clusters, start: CONVERSION_PASSES[Math.min(...starts.map(passIndex))]! };
}

/** The passes still to run, from the target's first. */
export function passesOf(target: ConversionTarget): ConversionPass[] {
  return CONVERSION_PASSES.slice(passIndex(target.start));
}

/** The inventory's override for one pass before `final` (an etcd cluster that got further earlier keeps where it is). */
export function conversionOf(target: ConversionTarget, pass: Exclude<ConversionPass, 'final'>): TlsConversion {
  const mode = (start: ConversionPass) => (pass === 'clients' ? 'dual-clients-tls' : pass === 'prepare' && start === 'prepare' ? 'dual' : 'dual-peers-tls');
  const etcd = Object.fromEntries(Object.entries(target.etcd).map(([name, start]) => [name, mode(start)] as const));
  return { pass, etcd, clusters: target.clusters };
}

/** The clusters a conversion pauses: those it converts, and every initialised cluster on an etcd cluster it converts. */
export function clustersToPause(model: DesiredState, target: ConversionTarget): string[] {
  return model.clusterOrder.filter((c) => target.clusters.includes(c) || target.etcd[model.inventory.clusters[c]!.etcd] !== undefined);
}

/**
 * The clusters a conversion paused and has not resumed yet, kept next to the secrets so that a
 * run cut short after the last pass still resumes them (and only them: a pause set by the
 * operator is theirs).
 */
export function pausedFile(loaded: Pick<LoadedInventory, 'inventory' | 'path'>): string {
  return tlsFiles(loaded).caCert.replace(/\.ca\.crt$/, '.tls-conversion-paused.json');
}

export async function readPaused(loaded: Pick<LoadedInventory, 'inventory' | 'path'>): Promise<string[]> {
  try {
    const list = JSON.parse(await readFile(pausedFile(loaded), 'utf8')) as unknown;
    return Array.isArray(list) ? list.filter((c): c is string => typeof c === 'string' && Object.hasOwn(loaded.inventory.clusters, c)) : [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function writePaused(loaded: Pick<LoadedInventory, 'inventory' | 'path'>, clusters: readonly string[]): Promise<void> {
  await writeLocalFile(pausedFile(loaded), `${JSON.stringify(clusters)}\n`, 0o600);
}

export async function forgetPaused(loaded: Pick<LoadedInventory, 'inventory' | 'path'>): Promise<void> {
  await unlink(pausedFile(loaded)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/**
 * Before anything changes in a deploy that is no pass of a conversion: nothing is left to
 * convert. Deploy and plan find a conversion first and run its passes; this gate
 * catches a command that would deploy without them.
 */
export function tlsConversionGate(model: DesiredState): Stage {
  return {
    id: 'gate:tls-conversion',
    title: 'Checking for clusters changing to or from TLS',
    async plan({ session }) {
      if (model.inventory.tlsConversion) return notesOnly();
      const target = await conversionTarget(session, model);
      if (target) {
        const what = [...Object.keys(target.etcd).map((e) => `etcd cluster ${e}`), ...target.clusters.map((c) => `cluster ${c}`)].join(', ');
        throw new HapgError('UNSAFE_OPERATION', `${what} run${Object.keys(target.etcd).length + target.clusters.length === 1 ? 's' : ''} without TLS while the inventory asks for it: \`hapg deploy\` converts it (see \`hapg plan\`); this command does not; nothing was changed`);
      }
      return notesOnly();
    },
  };
}
