// How pgBackRest's hosts reach each other: over SSH, as pgBackRest documents. Each side gets a
// key pair made on the host itself (the private key never leaves it); hapg collects the public
// keys and the SSH host keys through its own sessions and writes authorized_keys entries that
// run only pgBackRest, only from the peer's address, and known_hosts pinned to the real host keys.
import { isIP } from 'node:net';
import { fileMatches, fileStates } from '../../facts/files.js';
import type { InventorySecrets } from '../../inventory/secrets.js';
import type { DesiredState } from '../../model/model.js';
import { addressOf } from '../../model/topology.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, noop, type FileStep, type PlanItem } from '../../run/steps.js';
import type { Block, Stage, StageContext } from '../../stages/stage.js';
import { PGBACKREST_SECRET_LINES, pgbackrestConf, pgbackrestHosts, type HostRole } from './context.js';
import { accessState, type AccessState } from './facts.js';
import { verifyRepositoryKey } from './guards.js';
import {
  backedUpClusters,
  CONFIG_PATH,
  IS_PRIMARY_SCRIPT,
  LOG_PATH,
  PACKAGE_REPO_DIR,
  PG_USER,
  PG_USER_HOME,
  PGBACKREST_BIN,
  REPO_USER,
  REPO_USER_HOME,
  repositoryMode,
  repositoryReaders,
  stanzaOf,
} from './model.js';

/** The OS user pgBackRest runs as on a host, and its home. */
function userOf(role: HostRole): { user: string; home: string } {
  return role.kind === 'repository' ? { user: REPO_USER, home: REPO_USER_HOME } : { user: PG_USER, home: PG_USER_HOME };
}

/** Directories the repository user must own on a repository host (the package makes them postgres's). */
function repositoryDirs(model: DesiredState, role: HostRole): string[] {
  if (role.kind !== 'repository') return [];
  const paths = role.clusters.map((c) => repositoryMode(model.inventory.clusters[c]!.backup!)).flatMap((m) => (m.kind === 'host' ? [m.path] : []));
  return [PACKAGE_REPO_DIR, ...new Set(paths), LOG_PATH];
}

/** The repository host of a cluster, when it has one. */
function repositoryHostOf(model: DesiredState, cluster: string): string | undefined {
  const mode = repositoryMode(model.inventory.clusters[cluster]!.backup!);
  return mode.kind === 'host' ? mode.host : undefined;
}

/** Whether SSH is part of this host's setup: repository hosts, and members of clusters kept on one (or reading one). */
function usesSsh(model: DesiredState, role: HostRole): boolean {
  if (role.kind === 'repository') return true;
  if (role.kind === 'member' && role.restoreFrom && repositoryHostOf(model, role.restoreFrom)) return true;
  return repositoryHostOf(model, role.kind === 'reader' ? role.source : role.cluster) !== undefined;
}

/** The hosts that log in to a host over SSH: a repository host's members and readers, a member's repository host. */
function loginPeersOf(model: DesiredState, role: HostRole): string[] {
  if (role.kind === 'repository') {
    const readers = repositoryReaders(model.inventory).filter(([, source]) => role.clusters.includes(source));
    const into = model.restoreInto && role.clusters.includes(model.restoreInto.source) ? [model.restoreInto.target] : [];
    return [...new Set([...role.clusters, ...readers.map(([standby]) => standby), ...into].flatMap((c) => model.inventory.clusters[c]!.hosts))];
  }
  const host = repositoryHostOf(model, role.kind === 'reader' ? role.source : role.cluster);
  return host ? [host] : [];
}

/** The hosts a host reaches over SSH: the same, and the repository host of a cluster it is restored from. */
function reachedPeersOf(model: DesiredState, role: HostRole): string[] {
  const from = role.kind === 'member' && role.restoreFrom ? repositoryHostOf(model, role.restoreFrom) : undefined;
  return [...new Set([...loginPeersOf(model, role), ...(from ? [from] : [])])];
}

const ENSURE_USER = [
  'set -e',
  `id -u ${REPO_USER} >/dev/null 2>&1 || useradd --system --user-group --create-home --home-dir ${REPO_USER_HOME} --shell /bin/sh --comment "pgBackRest repository (hapg)" ${REPO_USER}`,
].join('\n');

/**
 * The SSH ciphers pgBackRest's connections offer, in order: AES-GCM first, since with the AES
 * instructions every current server CPU has it costs less per byte than ChaCha20-Poly1305
 * (OpenSSH's own first choice), and backups and restores move the whole database through it;
 * all three are AEAD ciphers of OpenSSH's default list.
 */
const BULK_CIPHERS = 'aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com';

// Each directory, parent first, owned by the user with mode 0750 (install -d sets both on existing ones too).
const OWN_DIRS = 'set -e; u=$1; shift; for d in "$@"; do install -d -m 0750 -o "$u" -g "$u" -- "$d"; done';

const MAKE_KEY = [
  'set -e',
  'u=$1; h=$2',
  'install -d -m 0700 -o "$u" -g "$u" -- "$h/.ssh"',
  '[ -f "$h/.ssh/id_ed25519" ] || runuser -u "$u" -- ssh-keygen -q -t ed25519 -N "" -C "pgbackrest $u@$(hostname) (hapg)" -f "$h/.ssh/id_ed25519"',
].join('\n');

/** Steps that give a host its pgBackRest user, directories and key pair, where missing. */
export function planIdentity(model: DesiredState, host: string, role: HostRole, state: AccessState): PlanItem[] {
  const { user, home } = userOf(role);
  const items: PlanItem[] = [];
  if (role.kind === 'repository' && !state.userExists) items.push(exec(host, `create user ${REPO_USER}`, ['sh', '-c', ENSURE_USER]));
  const dirs = repositoryDirs(model, role);
  const wrong = dirs.filter((d) => state.owners.get(d) !== user);
  if (wrong.length > 0) items.push(exec(host, `give ${wrong.join(', ')} to ${user}`, ['sh', '-c', OWN_DIRS, 'sh', user, ...dirs]));
  if (usesSsh(model, role) && !state.publicKey) items.push(exec(host, `make an SSH key pair for ${user} (pgBackRest)`, ['sh', '-c', MAKE_KEY, 'sh', user, home]));
  return items.length ? items : [noop(host, `pgBackRest user ${user}${usesSsh(model, role) ? ' and its key pair' : ''} in place`)];
}

/** An authorized_keys entry that runs nothing but pgBackRest (the remote's own arguments), from the peer's address only. */
export function authorizedEntry(peerAddress: string, publicKey: string): string {
  const from = isIP(peerAddress) !== 0 ? `from="${peerAddress}",` : '';
  return `restrict,${from}command="${PGBACKREST_BIN} \${SSH_ORIGINAL_COMMAND#* }" ${publicKey}`;
}

/**
 * The repository host's entry for a member of a standby cluster: the same, but it runs only
 * the remote side of `archive-get` on the source's stanza (pgBackRest names the command it
 * serves last, after its sorted options), so the key fetches WAL and cannot push, back up,
 * expire or delete. Anything else is refused with one line on stderr.
 */
export function readerEntry(peerAddress: string, publicKey: string, stanza: string): string {
  const from = isIP(peerAddress) !== 0 ? `from="${peerAddress}",` : '';
  const command = [
    `case \\"$SSH_ORIGINAL_COMMAND\\" in *' --remote-type=repo '*' --stanza=${stanza} archive-get:remote') exec ${PGBACKREST_BIN} \${SSH_ORIGINAL_COMMAND#* };;`,
    `*) echo 'hapg: this key only fetches WAL of stanza ${stanza} (pgBackRest archive-get)' >&2; exit 1;; esac`,
  ].join(' ');
  return `restrict,${from}command="${command}" ${publicKey}`;
}

/**
 * The source's repository host's entry for a host of the target of `hapg restore --into`,
 * while that restore runs: the remote side of `restore` and `archive-get` on the source's
 * stanza and nothing else (no push, backup, expire, stanza-delete; no other stanza). The
 * stanza option is followed by a space, so `main` never admits `main2`; options pgBackRest
 * sorts after it may stand between it and the command, which is always last.
 */
export function restoreReaderEntry(peerAddress: string, publicKey: string, stanza: string): string {
  const from = isIP(peerAddress) !== 0 ? `from="${peerAddress}",` : '';
  const allowed = ['restore', 'archive-get'].map((c) => `*' --remote-type=repo '*' --stanza=${stanza} '*'${c}:remote'`).join('|');
  const command = [
    `case \\"$SSH_ORIGINAL_COMMAND\\" in ${allowed}) exec ${PGBACKREST_BIN} \${SSH_ORIGINAL_COMMAND#* };;`,
    `*) echo 'hapg: this key only restores and fetches WAL of stanza ${stanza} (hapg restore --into)' >&2; exit 1;; esac`,
  ].join(' ');
  return `restrict,${from}command="${command}" ${publicKey}`;
}

/** The entry a repository host gives a peer that logs in: a member of a cluster kept here, a standby's reader, or a restore's reader. */
function entryFor(model: DesiredState, repository: Extract<HostRole, { kind: 'repository' }>, peerRole: HostRole | undefined, address: string, key: string): string {
  if (peerRole?.kind === 'reader') return peerRole.restore ? restoreReaderEntry(address, key, stanzaOf(peerRole.source)) : readerEntry(address, key, stanzaOf(peerRole.source));
  if (peerRole?.kind === 'member' && !repository.clusters.includes(peerRole.cluster) && peerRole.restoreFrom) return restoreReaderEntry(address, key, stanzaOf(peerRole.restoreFrom));
  return authorizedEntry(address, key);
}

/** Every file of a host's pgBackRest setup, from the host's and its peers' access state. */
export function accessFiles(model: DesiredState, host: string, role: HostRole, states: ReadonlyMap<string, AccessState | undefined>, secrets: InventorySecrets): FileStep[] {
  const { inventory } = model;
  const { user, home } = userOf(role);
  const conf = pgbackrestConf(model, host, role, secrets);
  const files: FileStep[] = [
    file(host, CONFIG_PATH, renderTemplate('pgbackrest/pgbackrest.conf', conf.context), {
      mode: 0o600,
      owner: user,
      secrets: conf.secrets,
      secretLines: PGBACKREST_SECRET_LINES,
    }),
  ];
  if (role.kind === 'member' && !repositoryHostOf(model, role.cluster)) {
    files.push(file(host, IS_PRIMARY_SCRIPT, renderTemplate('pgbackrest/pg-is-primary', {}), { mode: 0o755 }));
  }
  if (!usesSsh(model, role)) return files;
  const loginPeers = loginPeersOf(model, role);
  const peers = reachedPeersOf(model, role);
  const roles = pgbackrestHosts(model);
  const header = (what: string) => `# Managed by hapg: ${what}. Changes here are overwritten.\n`;
  const keyLines = loginPeers.map((peer) => {
    const key = states.get(peer)?.publicKey;
    if (!key) return `# ${peer}: its key pair is made by \`hapg deploy\``;
    return role.kind === 'repository' ? entryFor(model, role, roles.get(peer), addressOf(inventory, peer), key) : authorizedEntry(addressOf(inventory, peer), key);
  });
  const knownLines = peers.flatMap((peer) => {
    const keys = states.get(peer)?.hostKeys ?? [];
    return keys.length ? keys.map((k) => `${addressOf(inventory, peer)} ${k}`) : [`# ${peer}: host keys read by \`hapg deploy\``];
  });
  const config = peers
    .map((peer) =>
      [
        `Host ${addressOf(inventory, peer)}`,
        `  User ${role.kind === 'repository' ? PG_USER : REPO_USER}`,
        '  IdentityFile ~/.ssh/id_ed25519',
        '  IdentitiesOnly yes',
        '  StrictHostKeyChecking yes',
        '  UserKnownHostsFile ~/.ssh/known_hosts',
        '  BatchMode yes',
        `  Ciphers ${BULK_CIPHERS}`,
      ].join('\n'),
    )
    .join('\n');
  const what = role.kind === 'repository' ? `the members whose pgBackRest pushes and fetches WAL here` : `the repository host, whose pgBackRest runs backups here`;
  files.push(
    // A reader only fetches: nothing logs in to it, so it gets no authorized_keys.
    ...(role.kind === 'reader'
      ? []
      : [file(host, `${home}/.ssh/authorized_keys`, `${header(`pgBackRest access for ${what}; each key runs only pgBackRest, from its host's address`)}${keyLines.join('\n')}\n`, { mode: 0o600, owner: user })]),
    file(host, `${home}/.ssh/known_hosts`, `${header('SSH host keys of the pgBackRest peers, read from the hosts themselves')}${knownLines.join('\n')}\n`, { mode: 0o644, owner: user }),
    file(host, `${home}/.ssh/config`, `${header('how pgBackRest reaches its peers: pinned host keys, this key only, no prompts')}${config}\n`, { mode: 0o600, owner: user }),
  );
  return files;
}

/** Every host's access state (user, key, host keys, directory owners). */
async function gatherStates(ctx: StageContext, model: DesiredState, roles: ReadonlyMap<string, HostRole>, fresh: boolean) {
  const entries = await Promise.all(
    [...roles].filter(([h]) => ctx.session.remotes.has(h)).map(async ([host, role]) => {
      const { user, home } = userOf(role);
      const fact = accessState(user, home, repositoryDirs(model, role));
      return [host, await (fresh ? ctx.session.facts.fresh(host, fact) : ctx.session.facts.get(host, fact))] as const;
    }),
  );
  return new Map<string, AccessState | undefined>(entries);
}

async function filesBlock(ctx: StageContext, model: DesiredState, roles: ReadonlyMap<string, HostRole>, fresh: boolean): Promise<PlanItem[]> {
  const states = await gatherStates(ctx, model, roles, fresh);
  const hosts = [...roles].filter(([h]) => ctx.session.remotes.has(h));
  const items = await Promise.all(
    hosts.map(async ([host, role]) => {
      const files = accessFiles(model, host, role, states, ctx.secrets);
      const current = await ctx.session.facts.get(host, fileStates(files.map((f) => f.path)));
      const changed = files.filter((f) => !fileMatches(current.get(f.path), f));
      return changed.length ? changed : [noop(host, 'pgBackRest configuration and SSH access as declared')];
    }),
  );
  return items.flat();
}

/**
 * pgBackRest on every host that needs it, after the packages: the repository user, its
 * directories and key pairs first; then, from the keys read back, pgbackrest.conf and the
 * SSH files (deploy reads the keys again once the first block made them).
 */
export function accessStage(model: DesiredState): Stage[] {
  const roles = pgbackrestHosts(model);
  if (roles.size === 0) return [];
  return [
    {
      id: 'pgbackrest:access',
      title: 'pgBackRest users, keys and configuration',
      async plan(ctx) {
        // An encryption key the existing repository does not open is refused before any configuration is written.
        for (const [cluster] of backedUpClusters(model.inventory)) await verifyRepositoryKey(ctx.session.facts, model, cluster, ctx.secrets, (h) => ctx.session.remotes.has(h));
        const states = await gatherStates(ctx, model, roles, false);
        const identity = [...roles].filter(([h]) => ctx.session.remotes.has(h)).flatMap(([host, role]) => planIdentity(model, host, role, states.get(host)!));
        const files: Block = {
          items: await filesBlock(ctx, model, roles, false),
          replan: async (run) => ({ items: await filesBlock(run, model, roles, true) }),
        };
        return { blocks: [{ items: identity }, files], notes: [] };
      },
    },
  ];
}
