// hapg restore --into: the inventory's refusals, the read access the target's hosts get to the
// source's stanza (and only while the restore runs), the key's forced command run by a real
// shell, the target's bootstrap file, and the order of the run's stages.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseInventory } from '../../src/inventory/load.js';
import { backupCipherKey, CLUSTER_SECRETS, clusterSecretKey, userSecretKey } from '../../src/inventory/secrets.js';
import { buildModel } from '../../src/model/model.js';
import { renderTemplate } from '../../src/render/templates.js';
import { Secret } from '../../src/secret.js';
import { accessFiles, authorizedEntry, restoreReaderEntry } from '../../src/tasks/pgbackrest/access.js';
import { pgbackrestConf, pgbackrestHosts } from '../../src/tasks/pgbackrest/context.js';
import { checkRestoreInto, restoreIntoGraph, stanzaAsidePath, stanzaDirs } from '../../src/tasks/pgbackrest/into.js';
import { parseRestoreTarget, restoreBootstrapFile } from '../../src/tasks/pgbackrest/restore.js';
import { isLanes, type GraphNode } from '../../src/stages/stage.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** main (pg1-pg3, backed up to bk1) and copy (cp1, cp2), one etcd cluster; `edit` changes the document first. */
function inventory(edit: (doc: Doc) => void = () => {}) {
  const doc: Doc = {
    hosts: Object.fromEntries(['pg1', 'pg2', 'pg3', 'bk1', 'cp1', 'cp2', 'bk2', 'dr1'].map((h, i) => [h, { address: `192.0.2.${11 + i}` }])),
    etcd: { dc1: { hosts: ['pg1', 'pg2', 'pg3'] } },
    clusters: {
      main: {
        etcd: 'dc1',
        hosts: ['pg1', 'pg2', 'pg3'],
        postgres: { users: { app: { options: ['LOGIN'] }, reporting: { options: ['LOGIN'] } }, databases: { app: { owner: 'app' } } },
        backup: { repository: { host: 'bk1' } },
      },
      copy: { etcd: 'dc1', hosts: ['cp1', 'cp2'], postgres: { users: { app: { options: ['LOGIN'] } } } },
    },
  };
  edit(doc);
  return parseInventory(YAML.stringify(doc), 'inv.yml').inventory;
}

const into = { source: 'main', target: 'copy' };
const secrets = new Map([
  ...['main', 'copy', 'dr'].flatMap((c) => CLUSTER_SECRETS.map((s) => [clusterSecretKey(c, s), new Secret(`${c}-${s}-pw`)] as const)),
  [userSecretKey('main', 'app'), new Secret('main-app-pw')] as const,
  [userSecretKey('main', 'reporting'), new Secret('main-reporting-pw')] as const,
  [userSecretKey('copy', 'app'), new Secret('copy-app-pw')] as const,
  [backupCipherKey('main'), new Secret('main-cipher')] as const,
  [backupCipherKey('copy'), new Secret('copy-cipher')] as const,
]);

describe('restore --into: refusals from the inventory, one line each', () => {
  const cases: [string, (doc: Doc) => void, { source?: string; target: string }, RegExp][] = [
    ['the target is the source', () => {}, { target: 'main' }, /^--into main: that is the cluster restored from \(--cluster main\): restore it in place without --into, or name another cluster of inv\.yml$/],
    ['an unknown target', () => {}, { target: 'nosuch' }, /^--into nosuch: no such cluster in inv\.yml \(clusters: main, copy\)$/],
    ['an unknown source', () => {}, { source: 'nosuch', target: 'copy' }, /^--cluster nosuch: no such cluster in inv\.yml/],
    ['a source without backups', (d) => delete d.clusters.main.backup, { target: 'copy' }, /^--cluster main: has no backup section in inv\.yml: there is no repository to restore from$/],
    ['a source kept on a mount', (d) => (d.clusters.main.backup = { repository: { posix: '/mnt/pgbackrest/main' } }), { target: 'copy' }, /^--cluster main: keeps its backups in the mount \/mnt\/pgbackrest\/main: restore --into reads a repository only through its repository host/],
    ['a standby target', (d) => ((d.clusters.copy.standby = { cluster: 'main', source: 'members' }), delete d.clusters.copy.postgres.users), { target: 'copy' }, /^--into copy: a standby cluster of main: it follows its source and is never restored/],
    [
      'a target some standby follows',
      (d) => (d.clusters.dr = { etcd: 'dc1', hosts: ['dr1'], standby: { cluster: 'copy', source: 'members' } }),
      { target: 'copy' },
      /^--into copy: the source of standby cluster dr: a copy of main in it would cut them off/,
    ],
    ['a target on the source repository host', (d) => (d.clusters.copy.backup = { repository: { host: 'bk1' } }), { target: 'copy' }, /^--into copy: shares bk1 with main \(members, proxies or repository host\): restoring into it would touch main; give copy hosts of its own$/],
    ['a target whose proxies are the source members', (d) => (d.clusters.copy.haproxy = { hosts: ['pg1'] }), { target: 'copy' }, /^--into copy: shares pg1 with main/],
    ['another PostgreSQL major version', (d) => (d.clusters.copy.postgres.version = 16), { target: 'copy' }, /^--into copy: runs PostgreSQL 16, main runs 17: a copy of main's data needs the same major version$/],
    ['a target kept in an object store', (d) => (d.clusters.copy.backup = { repository: { options: { 'repo1-type': 's3' } } }), { target: 'copy' }, /^--into copy: keeps its backups in an object store/],
  ];
  it.each(cases)('%s', (_, edit, args, message) => {
    const model = buildModel(inventory(edit));
    expect(() => checkRestoreInto(model, 'inv.yml', { source: args.source ?? 'main', target: args.target })).toThrow(message);
  });

  it('accepts a target of its own hosts, with or without a repository host of its own', () => {
    expect(() => checkRestoreInto(buildModel(inventory()), 'inv.yml', into)).not.toThrow();
    expect(() => checkRestoreInto(buildModel(inventory((d) => (d.clusters.copy.backup = { repository: { host: 'bk2' } }))), 'inv.yml', into)).not.toThrow();
  });
});

describe('restore --into: read access to the source stanza, only while the restore runs', () => {
  const inv = inventory();
  const plain = buildModel(inv);
  const reading = buildModel(inv, { restoreInto: into });
  const keys = (h: string) => ({ userExists: true, publicKey: `ssh-ed25519 AAAA${h} k`, hostKeys: [`ssh-ed25519 HOST${h}`], owners: new Map() });
  const states = (model: typeof plain) => new Map([...pgbackrestHosts(model).keys()].map((h) => [h, keys(h)]));
  const authorizedOn = (model: typeof plain, host: string) => accessFiles(model, host, pgbackrestHosts(model).get(host)!, states(model), secrets).find((f) => f.path.endsWith('/authorized_keys'))?.content ?? '';

  it('a target without backups: its hosts read the source stanza (pgBackRest installed, no key of the repository); the inventory model gives them nothing', () => {
    expect(pgbackrestHosts(plain).has('cp1')).toBe(false);
    expect(plain.packagesOn('cp1')).not.toContain('pgbackrest');
    expect(pgbackrestHosts(reading).get('cp1')).toEqual({ kind: 'reader', cluster: 'copy', source: 'main', restore: true });
    expect(reading.packagesOn('cp1')).toContain('pgbackrest');
    const conf = pgbackrestConf(reading, 'cp1', pgbackrestHosts(reading).get('cp1')!, secrets);
    expect(conf.secrets).toEqual([]);
    const text = renderTemplate('pgbackrest/pgbackrest.conf', conf.context);
    expect(text).toMatch(/^\[main\]$/m);
    expect(text).toContain('repo1-host=192.0.2.14');
    expect(text).toContain(`pg1-path=${inv.clusters['copy']!.postgres.data_dir}`);
    expect(text).not.toMatch(/cipher/);
  });

  it("the source's repository host admits the target's hosts from their address for restore and archive-get of main, and only while the restore runs", () => {
    const during = authorizedOn(reading, 'bk1');
    expect(during).toContain(restoreReaderEntry('192.0.2.15', 'ssh-ed25519 AAAAcp1 k', 'main'));
    expect(during).toContain(restoreReaderEntry('192.0.2.16', 'ssh-ed25519 AAAAcp2 k', 'main'));
    expect(during).not.toContain(authorizedEntry('192.0.2.15', 'ssh-ed25519 AAAAcp1 k'));
    // main's own members keep their entries.
    expect(during).toContain(authorizedEntry('192.0.2.11', 'ssh-ed25519 AAAApg1 k'));
    const after = authorizedOn(plain, 'bk1');
    expect(after).not.toContain('AAAAcp1');
    expect(after.replace(/^#.*\n/gm, '')).toBe(during.replace(/^#.*\n/gm, '').split('\n').filter((l) => !l.includes('AAAAcp')).join('\n'));
  });

  it('a target with a repository host of its own: members of copy that also read main, admitted by bk1 read-only and by bk2 as usual', () => {
    const own = inventory((d) => (d.clusters.copy.backup = { repository: { host: 'bk2' } }));
    const model = buildModel(own, { restoreInto: into });
    const role = pgbackrestHosts(model).get('cp1')!;
    expect(role).toEqual({ kind: 'member', cluster: 'copy', restoreFrom: 'main' });
    const conf = pgbackrestConf(model, 'cp1', role, secrets);
    expect(conf.context.stanzas.map((s) => s.name)).toEqual(['copy', 'main']);
    expect(conf.context.stanzas[1]!.options).toEqual(expect.arrayContaining([{ name: 'repo1-host', value: '192.0.2.14' }, { name: 'pg1-path', value: own.clusters['copy']!.postgres.data_dir }]));
    const all = new Map([...pgbackrestHosts(model).keys()].map((h) => [h, keys(h)]));
    const cp1 = accessFiles(model, 'cp1', role, all, secrets);
    // Only copy's repository host logs in to cp1; cp1 reaches both repository hosts with pinned keys.
    expect(cp1.find((f) => f.path.endsWith('/authorized_keys'))!.content).toContain(authorizedEntry('192.0.2.17', 'ssh-ed25519 AAAAbk2 k'));
    expect(cp1.find((f) => f.path.endsWith('/authorized_keys'))!.content).not.toContain('AAAAbk1');
    const known = cp1.find((f) => f.path.endsWith('/known_hosts'))!.content;
    expect(known).toContain('192.0.2.14 ssh-ed25519 HOSTbk1');
    expect(known).toContain('192.0.2.17 ssh-ed25519 HOSTbk2');
    const bk1 = accessFiles(model, 'bk1', pgbackrestHosts(model).get('bk1')!, all, secrets).find((f) => f.path.endsWith('/authorized_keys'))!.content;
    expect(bk1).toContain(restoreReaderEntry('192.0.2.15', 'ssh-ed25519 AAAAcp1 k', 'main'));
    const bk2 = accessFiles(model, 'bk2', pgbackrestHosts(model).get('bk2')!, all, secrets).find((f) => f.path.endsWith('/authorized_keys'))!.content;
    expect(bk2).toContain(authorizedEntry('192.0.2.15', 'ssh-ed25519 AAAAcp1 k'));
  });
});

describe("restore --into: the read-only key's forced command, run by a real shell", () => {
  const entry = restoreReaderEntry('192.0.2.15', 'ssh-ed25519 AAAA k', 'main');
  // What sshd runs: the user's shell with -c and the command="" text (its \" unescaped);
  // pgBackRest itself replaced by echo, to see what would run.
  const forced = entry.replace(/^restrict,from="[^"]*",command="/, '').replace(/" ssh-ed25519 AAAA k$/, '').replace(/\\"/g, '"').replace('/usr/bin/pgbackrest', 'echo RAN');
  const run = (remote: string) => execa('sh', ['-c', forced], { env: { SSH_ORIGINAL_COMMAND: remote }, reject: false });
  const line = (options: string, command: string) =>
    `pgbackrest --exec-id=1-a --log-level-console=off --log-level-file=off --log-level-stderr=error --pg1-path=/var/lib/postgresql/17/main --process=0 --remote-type=repo --repo=1 ${options}${command}`;

  it.each([
    ['restore', line('--stanza=main ', 'restore:remote')],
    ['archive-get', line('--stanza=main ', 'archive-get:remote')],
    ['restore with an option sorted after the stanza', line('--stanza=main --type=time ', 'restore:remote')],
  ])('runs pgBackRest for %s of main', async (_, remote) => {
    const r = await run(remote);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(`RAN ${remote.replace(/^pgbackrest /, '')}`);
  });

  it.each([
    ['archive-push of main', line('--stanza=main ', 'archive-push:remote')],
    ['expire of main', line('--stanza=main ', 'expire:remote')],
    ['backup of main', line('--stanza=main ', 'backup:remote')],
    ['stanza-delete of main', line('--stanza=main ', 'stanza-delete:remote')],
    ['restore of another stanza', line('--stanza=other ', 'restore:remote')],
    ['restore of a stanza named like it', line('--stanza=main2 ', 'restore:remote')],
    ['a pg remote', line('--stanza=main ', 'restore:remote').replace('--remote-type=repo', '--remote-type=pg')],
    ['a shell', 'sh -c id'],
  ])('refuses %s in one line', async (_, remote) => {
    const r = await run(remote);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('hapg: this key only restores and fetches WAL of stanza main (hapg restore --into)');
  });
});

describe('restore --into: the bootstrap and the order of the run', () => {
  const inv = inventory();
  const plain = buildModel(inv);
  const reading = buildModel(inv, { restoreInto: into });
  const target = parseRestoreTarget({ to: '2026-11-30T08:00:00Z' });

  it("bootstraps copy in its own scope from main's stanza, with copy's own passwords", () => {
    const step = restoreBootstrapFile(reading, 'copy', 'cp1', secrets, target, 'main');
    expect(step.title).toBe("write /etc/patroni/patroni.yml that bootstraps from the backups of main (recovery to 2026-11-30 08:00:00.000+00)");
    const doc = YAML.parse(step.content);
    expect(doc.scope).toBe('copy');
    expect(doc.bootstrap.method).toBe('pgbackrest');
    expect(doc.bootstrap.pgbackrest.command).toBe("/usr/bin/pgbackrest --stanza=main --type=time '--target=2026-11-30 08:00:00.000+00' restore");
    expect(doc.bootstrap.pgbackrest.recovery_conf).toEqual({
      restore_command: '/usr/bin/pgbackrest --stanza=main archive-get %f "%p"',
      recovery_target_timeline: 'latest',
      recovery_target_time: '2026-11-30 08:00:00.000+00',
      recovery_target_action: 'promote',
    });
    expect(doc.postgresql.authentication.replication.password).toBe('copy-replication-pw');
    expect(doc.postgresql.authentication.superuser.password).toBe('copy-superuser-pw');
    expect(doc.postgresql.authentication.rewind.password).toBe('copy-rewind-pw');
    expect(step.secrets?.map((s) => s.reveal())).toEqual(expect.arrayContaining(['copy-replication-pw', 'copy-superuser-pw', 'copy-rewind-pw']));
  });

  const ids = (nodes: GraphNode[]) => nodes.flatMap((n) => (isLanes(n) ? n.lanes.flat() : [n])).map((s) => s.id);

  it('checks first; restores after the hosts can read; sets roles before the deploy stages start replicas; takes the access away; cleans up', () => {
    const graph = ids(restoreIntoGraph(plain, reading, into, target, { replaceData: false, targetInitialized: true }, {}));
    expect(graph[0]).toBe('restore-into:check:copy');
    const restore = graph.indexOf('restore-into:copy');
    const access = graph.indexOf('pgbackrest:access');
    expect(access).toBeGreaterThan(0);
    expect(access).toBeLessThan(restore);
    // An initialised target: only the gates and host preparation before the restore, no Patroni stage of copy.
    expect(graph.slice(0, restore).filter((id) => id.includes('copy'))).toEqual(['restore-into:check:copy', 'gate:patroni:copy']);
    expect(graph[restore + 1]).toBe('roles:copy');
    const rest = graph.slice(restore + 2);
    expect(rest).toContain('pgbackrest:access');
    expect(rest.some((id) => /patroni.*copy|copy.*patroni/.test(id))).toBe(true);
    expect(graph.at(-1)).toBe('restore-into:cleanup:copy');
    // main gets none of its own stages (no configuration change, no verification write): its health gate reads only.
    expect(graph.filter((id) => /(^|:)main(:|$)/.test(id))).toEqual(['gate:patroni:main', 'gate:patroni:main']);
  });

  it('a target never initialised gets the whole deploy graph first (its hosts get everything), and a target with backups a new stanza before its replicas', () => {
    const graph = ids(restoreIntoGraph(plain, reading, into, target, { replaceData: false, targetInitialized: false }, {}));
    const restore = graph.indexOf('restore-into:copy');
    expect(graph.slice(0, restore).filter((id) => /copy/.test(id)).length).toBeGreaterThan(1);
    const own = inventory((d) => (d.clusters.copy.backup = { repository: { host: 'bk2' } }));
    const withBackup = ids(restoreIntoGraph(buildModel(own), buildModel(own, { restoreInto: into }), into, target, { replaceData: true, targetInitialized: true }, {}));
    const at = withBackup.indexOf('restore-into:copy');
    expect(withBackup.slice(at + 1, at + 3)).toEqual(['roles:copy', 'pgbackrest:copy']);
  });

  it("finds a target's former stanza by its directories and moves it aside next to the repository", () => {
    const fact = stanzaDirs('/var/lib/pgbackrest/repo', 'copy');
    expect(fact.argv.slice(-2)).toEqual(['/var/lib/pgbackrest/repo/backup/copy', '/var/lib/pgbackrest/repo/archive/copy']);
    expect(fact.parse({ exitCode: 0, stdout: '/var/lib/pgbackrest/repo/backup/copy\n', stderr: '' } as never)).toEqual(['/var/lib/pgbackrest/repo/backup/copy']);
    expect(stanzaAsidePath('/var/lib/pgbackrest/repo', '20261130T080000Z')).toBe('/var/lib/pgbackrest/repo.hapg-restore-20261130T080000Z');
  });
});
