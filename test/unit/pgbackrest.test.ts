import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseInventory } from '../../src/inventory/load.js';
import { backupCipherKey, CLUSTER_SECRETS, clusterSecretKey } from '../../src/inventory/secrets.js';
import { buildModel } from '../../src/model/model.js';
import { renderTemplate } from '../../src/render/templates.js';
import { Secret } from '../../src/secret.js';
import { patroniContext } from '../../src/tasks/patroni/context.js';
import { accessFiles, authorizedEntry, readerEntry } from '../../src/tasks/pgbackrest/access.js';
import { PGBACKREST_SECRET_LINES, pgbackrestConf, pgbackrestHosts } from '../../src/tasks/pgbackrest/context.js';
import { parseStanzaInfo, stanzaInfo, type StanzaInfo } from '../../src/tasks/pgbackrest/facts.js';
import { checkRepositorySpace, expectedBackupBytes, keyVerdict } from '../../src/tasks/pgbackrest/guards.js';
import { backupProblems, maxBackupAge } from '../../src/tasks/pgbackrest/status.js';
import { checkTarget, parseRestoreTarget, recoverySettings, restoreArgs, restoreBootstrapFile } from '../../src/tasks/pgbackrest/restore.js';

const base = await readFile('inventories/three-hosts.yml', 'utf8');
/** three-hosts.yml with a repository host pg4 and `backup:` on cluster main. */
function withBackup(backup: string): string {
  return base
    .replace(/^hosts:\n/m, 'hosts:\n  pg4: { address: 192.0.2.14, datacenter: dc1 }\n')
    .replace(/^clusters:\n  main:\n/m, `clusters:\n  main:\n    backup: ${backup}\n`);
}

const cipher = new Secret('cipher-"key"-value');
const secrets = new Map([...CLUSTER_SECRETS.map((s) => [clusterSecretKey('main', s), new Secret(`pw-${s}`)] as const), [backupCipherKey('main'), cipher] as const]);

describe('inventory backup section', () => {
  it('is optional: without it no host runs pgBackRest and patroni.yml builds replicas by base backup only', () => {
    const { inventory } = parseInventory(base, 'three-hosts.yml');
    const model = buildModel(inventory);
    expect(pgbackrestHosts(model).size).toBe(0);
    expect(model.packagesOn('pg1')).not.toContain('pgbackrest');
    const doc = parseYaml(renderTemplate('patroni/patroni.yml', patroniContext(model, 'main', 'pg1', secrets).context));
    expect(doc.postgresql.create_replica_methods).toEqual(['basebackup']);
    expect(doc.postgresql.recovery_conf).toBeUndefined();
    expect(doc.bootstrap.dcs.postgresql.parameters.archive_mode).toBeUndefined();
    expect(doc.bootstrap.method).toBeUndefined();
  });

  it('refuses a repository host that runs PostgreSQL of the cluster, and a value that would reach a config file', () => {
    expect(() => parseInventory(withBackup('{ repository: { host: pg1 } }'), 'inv.yml')).toThrow(/clusters\.main\.backup\.repository\.host: pg1 runs PostgreSQL of cluster main/);
    expect(() => parseInventory(withBackup('{ repository: { host: pg9 } }'), 'inv.yml')).toThrow(/unknown host "pg9"/);
    expect(() => parseInventory(withBackup('{ repository: { host: pg4 }, schedule: { full: "daily\\nExecStart=/bin/sh" } }'), 'inv.yml')).toThrow(/schedule\.full: must be a systemd calendar expression/);
    expect(() => parseInventory(withBackup('{ repository: { options: { "repo1-s3-key": "a\\nb" } } }'), 'inv.yml')).toThrow(/repo1-s3-key/);
  });
});

describe('a cluster backed up to a repository host', () => {
  const { inventory } = parseInventory(withBackup('{ repository: { host: pg4 }, archive_timeout: 30 }'), 'inv.yml');
  const model = buildModel(inventory);

  it('places pgBackRest on the members and the repository host', () => {
    expect([...pgbackrestHosts(model)].map(([h, r]) => `${h} ${r.kind}`)).toEqual(['pg1 member', 'pg2 member', 'pg3 member', 'pg4 repository']);
    expect(model.packagesOn('pg4')).toEqual(['pgbackrest']);
  });

  it('archives through the dynamic configuration and builds replicas from the repository first', () => {
    const doc = parseYaml(renderTemplate('patroni/patroni.yml', patroniContext(model, 'main', 'pg2', secrets).context));
    const p = doc.bootstrap.dcs.postgresql.parameters;
    expect(p.archive_mode).toBe('on');
    expect(p.archive_command).toBe('/usr/bin/pgbackrest --stanza=main archive-push %p');
    expect(p.archive_timeout).toBe(30);
    expect(doc.postgresql.create_replica_methods).toEqual(['pgbackrest', 'basebackup']);
    expect(doc.postgresql.pgbackrest).toEqual({ command: '/usr/bin/pgbackrest --stanza=main --delta --type=standby restore', keep_data: true, no_params: true });
    expect(doc.postgresql.recovery_conf.restore_command).toBe('/usr/bin/pgbackrest --stanza=main archive-get %f "%p"');
  });

  it('keeps the encryption key on the repository host only, in a line masked by position', () => {
    const repo = pgbackrestConf(model, 'pg4', pgbackrestHosts(model).get('pg4')!, secrets);
    const text = renderTemplate('pgbackrest/pgbackrest.conf', repo.context);
    expect(text).toContain('repo1-cipher-type=aes-256-cbc\n');
    expect(text).toContain(`repo1-cipher-pass=${cipher.reveal()}\n`);
    expect(repo.secrets).toEqual([cipher]);
    const line = text.split('\n').find((l) => l.startsWith('repo1-cipher-pass='))!;
    expect(line.replace(PGBACKREST_SECRET_LINES, '$1***')).toBe('repo1-cipher-pass=***');
    expect(text).toMatch(/^pg3-host=192\.0\.2\.13$/m);
    const member = pgbackrestConf(model, 'pg1', pgbackrestHosts(model).get('pg1')!, secrets);
    const memberText = renderTemplate('pgbackrest/pgbackrest.conf', member.context);
    expect(memberText).not.toContain('cipher');
    expect(memberText).toMatch(/^repo1-host=192\.0\.2\.14$/m);
    expect(memberText).toMatch(/^archive-async=y$/m);
  });

  it('lets a peer run pgBackRest only, from its own address', () => {
    expect(authorizedEntry('192.0.2.14', 'ssh-ed25519 AAAA k')).toBe('restrict,from="192.0.2.14",command="/usr/bin/pgbackrest ${SSH_ORIGINAL_COMMAND#* }" ssh-ed25519 AAAA k');
  });

  it('bootstraps a restore through Patroni with the target as recovery settings', () => {
    const target = parseRestoreTarget({ to: '2026-11-29T22:40:00+01:00' });
    const f = restoreBootstrapFile(model, 'main', 'pg1', secrets, target);
    const doc = parseYaml(f.content);
    expect(doc.bootstrap.method).toBe('pgbackrest');
    expect(doc.bootstrap.pgbackrest.command).toBe("/usr/bin/pgbackrest --stanza=main --type=time '--target=2026-11-29 21:40:00.000+00' restore");
    expect(doc.bootstrap.pgbackrest.recovery_conf).toEqual({
      restore_command: '/usr/bin/pgbackrest --stanza=main archive-get %f "%p"',
      recovery_target_time: '2026-11-29 21:40:00.000+00',
      recovery_target_timeline: 'latest',
      recovery_target_action: 'promote',
    });
  });
});

describe('restore targets', () => {
  it('reads latest, a time with its zone, an LSN and a restore point', () => {
    expect(parseRestoreTarget({ to: 'latest' })).toEqual({ kind: 'latest' });
    expect(parseRestoreTarget({ to: '2026-11-29 21:40:00.5Z' })).toMatchObject({ kind: 'time', time: '2026-11-29 21:40:00.500+00' });
    expect(parseRestoreTarget({ to: '2026-11-29T23:40:00+0200' })).toMatchObject({ time: '2026-11-29 21:40:00.000+00' });
    expect(parseRestoreTarget({ lsn: '0/3000060' })).toEqual({ kind: 'lsn', lsn: '0/3000060' });
    expect(restoreArgs(parseRestoreTarget({ name: 'before_upgrade' }))).toEqual(['--type=name', '--target=before_upgrade']);
    expect(recoverySettings('main', { kind: 'latest' })).toEqual({ restore_command: '/usr/bin/pgbackrest --stanza=main archive-get %f "%p"', recovery_target_timeline: 'latest' });
  });

  it('refuses a time without a zone, an impossible date, two targets, and anything a shell would read', () => {
    expect(() => parseRestoreTarget({ to: '2026-11-29 21:40:00' })).toThrow(/must be "latest" or a time with its zone/);
    expect(() => parseRestoreTarget({ to: '2026-13-45T21:40:00Z' })).toThrow(/must be "latest" or a time with its zone/);
    expect(() => parseRestoreTarget({ to: 'latest', lsn: '0/1' })).toThrow(/exactly one of/);
    expect(() => parseRestoreTarget({})).toThrow(/exactly one of/);
    expect(() => parseRestoreTarget({ lsn: '0/1;reboot' })).toThrow(/must be a WAL location/);
    expect(() => parseRestoreTarget({ name: "x' or '1" })).toThrow(/must be a restore point name/);
  });

  it('refuses a time before the oldest backup, in the future, or any target without a backup', () => {
    const info = parseStanzaInfo(JSON.stringify([{ name: 'main', status: { code: 0, message: 'ok' }, backup: [{ label: 'F1', type: 'full', timestamp: { start: 1000, stop: 2000 } }], archive: [] }]));
    expect(() => checkTarget('main', info, { kind: 'time', time: 't', epoch: 1500 }, 5000)).toThrow(/before the end of the oldest backup of main .*nothing was changed/);
    expect(() => checkTarget('main', info, { kind: 'time', time: 't', epoch: 6000 }, 5000)).toThrow(/in the future/);
    expect(() => checkTarget('main', info, { kind: 'time', time: 't', epoch: 3000 }, 5000)).not.toThrow();
    expect(() => checkTarget('main', { ...info, backups: [] }, { kind: 'latest' }, 5000)).toThrow(/holds no backup of cluster main/);
  });
});

describe('backup status', () => {
  const now = 10 * 86_400;
  const archiver = { archivedCount: 5, lastArchivedWal: 'A', lastArchivedAt: now - 60, failedCount: 0, lastFailedWal: '', lastFailedAt: 0, currentWal: 'B' };
  it('is healthy with a recent backup and archiving that works', () => {
    expect(backupProblems({ repository: { host: 'pg4' }, newest: { full: { label: 'F', stop: now - 3600 } }, archiver }, 2 * 86_400, now)).toEqual([]);
  });
  it('is DEGRADED with no backup, an overdue backup, an unreadable repository, or failing archiving', () => {
    expect(backupProblems({ repository: { host: 'pg4' }, newest: {}, archiver }, 2 * 86_400, now)).toEqual(['no backup in the repository']);
    expect(backupProblems({ repository: { host: 'pg4' }, newest: { full: { label: 'F', stop: now - 3 * 86_400 } }, archiver }, 2 * 86_400, now)).toEqual(['newest backup is 3 d old (the schedule allows 2 d)']);
    expect(backupProblems({ repository: { error: 'connection refused' }, newest: {}, archiver }, 2 * 86_400, now)).toEqual(['backup repository not readable: connection refused']);
    const failing = { ...archiver, failedCount: 3, lastFailedWal: 'C', lastFailedAt: now - 10 };
    expect(backupProblems({ repository: { host: 'pg4' }, newest: { full: { label: 'F', stop: now - 60 } }, archiver: failing }, 2 * 86_400, now)).toEqual([
      `WAL archiving fails: 3 failures, last C at ${new Date((now - 10) * 1000).toISOString()}`,
    ]);
  });
  it('allows a day and a day of grace with daily backups, a week and a day with weekly fulls only', () => {
    expect(maxBackupAge({ full: 'Sun', diff: 'Mon..Sat' })).toBe(2 * 86_400);
    expect(maxBackupAge({ full: 'Sun' })).toBe(8 * 86_400);
  });
});

describe('repository guards', () => {
  const info = (backups: object[], code = 0) => parseStanzaInfo(JSON.stringify([{ name: 'main', status: { code, message: code === 0 ? 'ok' : 'missing stanza path' }, backup: backups, archive: [] }]));
  const ok = (i: StanzaInfo) => ({ ok: true as const, info: i });

  it('refuses an encryption key that does not open an existing repository, in one line that names the key and the host, never its value', () => {
    const existing = ok(info([]));
    const wrong = { ok: false as const, error: 'ERROR: [095]: unable to load info file: CryptoError: cipher header invalid' };
    expect(() => keyVerdict('main', 'pg4', existing, wrong)).toThrow(
      /^the encryption key of cluster main in the secrets \(backups\.main\.cipher\) does not open its repository on pg4 \(pgBackRest: .*cipher header invalid\): put back the key the repository was made with; nothing was changed$/,
    );
    expect(() => keyVerdict('main', 'pg4', existing, existing)).not.toThrow();
    // No stanza yet, or no configuration yet: nothing to protect (the deploy creates it with the inventory's key).
    expect(() => keyVerdict('main', 'pg4', ok(info([], 1)), wrong)).not.toThrow();
    expect(() => keyVerdict('main', 'pg4', { ok: false, error: 'no configuration' }, wrong)).not.toThrow();
  });

  it('reads the repository with the key through stdin, never on the command line', () => {
    const fact = stanzaInfo('main', 'pgbackrest', { cipher, repoPath: '/var/lib/pgbackrest/repo' });
    expect(fact.argv.join(' ')).not.toContain(cipher.reveal());
    expect(fact.stdin).toBe(`${cipher.reveal()}\n`);
    expect(fact.argv).toContain('--repo1-path=/var/lib/pgbackrest/repo');
  });

  it('refuses a backup that would not fit in the repository: a full by the newest full, a diff or incr by the largest of its type', () => {
    const backups = info([
      { label: 'F1', type: 'full', timestamp: { start: 1, stop: 2 }, info: { size: 500e6, repository: { size: 100e6, delta: 100e6 } } },
      { label: 'F2', type: 'full', timestamp: { start: 3, stop: 4 }, info: { size: 600e6, repository: { size: 120e6, delta: 120e6 } } },
      { label: 'I1', type: 'incr', timestamp: { start: 5, stop: 6 }, info: { size: 600e6, repository: { size: 120e6, delta: 5e6 } } },
    ]);
    expect(expectedBackupBytes(backups, 'full', 600e6)).toBe(132e6);
    expect(expectedBackupBytes(backups, 'incr', 600e6)).toBe(5.5e6);
    expect(expectedBackupBytes(info([]), 'full', 600e6)).toBe(660e6);
    expect(() => checkRepositorySpace('main', 'pg4', '/var/lib/pgbackrest/repo', 50e6, backups, 'full', 600e6)).toThrow(
      /^the repository of main on pg4 \(\/var\/lib\/pgbackrest\/repo\) has 47\.7 MB free, a full backup needs about 125\.9 MB: free space there or lower the retention; nothing was changed$/,
    );
    expect(() => checkRepositorySpace('main', 'pg4', '/r', 50e6, backups, 'incr', 600e6)).not.toThrow();
    expect(() => checkRepositorySpace('main', 'pg4', '/r', undefined, backups, 'full', 600e6)).not.toThrow();
  });
});

describe('a standby cluster that fetches WAL from its source repository (standby.restore_command: repository)', async () => {
  const twoDc = await readFile('inventories/two-datacenters.yml', 'utf8');
  const inv = (withBackupOnMain: boolean) =>
    twoDc
      .replace(/^hosts:\n/m, 'hosts:\n  bk1: { address: 192.0.2.14, datacenter: dc1 }\n')
      .replace(/^  main:\n/m, withBackupOnMain ? '  main:\n    backup: { repository: { host: bk1 } }\n' : '  main:\n')
      .replace(/^    standby:\n      cluster: main\n/m, '    standby:\n      cluster: main\n      restore_command: repository\n');
  const { inventory } = parseInventory(inv(true), 'two-dc.yml');
  const model = buildModel(inventory);
  const drSecrets = new Map([...secrets, ...CLUSTER_SECRETS.map((s) => [clusterSecretKey('dr', s), new Secret(`pw-${s}`)] as const)]);

  it("renders standby_cluster.restore_command as archive-get of the source's stanza", () => {
    const doc = parseYaml(renderTemplate('patroni/patroni.yml', patroniContext(model, 'dr', 'dr1', drSecrets).context));
    expect(doc.bootstrap.dcs.standby_cluster.restore_command).toBe('/usr/bin/pgbackrest --stanza=main archive-get %f "%p"');
    // The standby is not backed up itself: no archiving of its own, no replicas from a repository of its own.
    expect(doc.bootstrap.dcs.postgresql.parameters.archive_mode).toBeUndefined();
  });

  it("places pgBackRest on the standby's members as readers of main's stanza, reaching the repository host over SSH", () => {
    const roles = pgbackrestHosts(model);
    expect(roles.get('dr1')).toEqual({ kind: 'reader', cluster: 'dr', source: 'main' });
    expect(model.packagesOn('dr1')).toContain('pgbackrest');
    const conf = pgbackrestConf(model, 'dr1', roles.get('dr1')!, drSecrets);
    expect(conf.context.stanzas).toEqual([
      expect.objectContaining({
        name: 'main',
        options: expect.arrayContaining([
          { name: 'repo1-host', value: '192.0.2.14' },
          { name: 'repo1-host-user', value: 'pgbackrest' },
          { name: 'pg1-path', value: inventory.clusters['dr']!.postgres.data_dir },
        ]),
      }),
    ]);
    // The repository's key stays on the repository host.
    expect(conf.secrets).toEqual([]);
    expect(renderTemplate('pgbackrest/pgbackrest.conf', conf.context)).not.toMatch(/cipher/);
  });

  it("lets a standby's member run only the remote side of archive-get on its source's stanza, from its own address", () => {
    expect(readerEntry('198.51.100.11', 'ssh-ed25519 AAAA k', 'main')).toBe(
      'restrict,from="198.51.100.11",command="case \\"$SSH_ORIGINAL_COMMAND\\" in *\' --remote-type=repo \'*\' --stanza=main archive-get:remote\') exec /usr/bin/pgbackrest ${SSH_ORIGINAL_COMMAND#* };; ' +
        "*) echo 'hapg: this key only fetches WAL of stanza main (pgBackRest archive-get)' >&2; exit 1;; esac\" ssh-ed25519 AAAA k",
    );
  });

  it("lets the standby's members into the repository host (archive-get only, from their address); nothing logs in to them", () => {
    const key = (h: string) => ({ userExists: true, publicKey: `ssh-ed25519 AAAA${h} pgbackrest`, hostKeys: [`ssh-ed25519 HOST${h}`], owners: new Map() });
    const states = new Map([...pgbackrestHosts(model).keys()].map((h) => [h, key(h)]));
    const repoFiles = accessFiles(model, 'bk1', pgbackrestHosts(model).get('bk1')!, states, drSecrets);
    const authorized = repoFiles.find((f) => f.path.endsWith('/authorized_keys'))!.content;
    expect(authorized).toContain(readerEntry('198.51.100.11', 'ssh-ed25519 AAAAdr1 pgbackrest', 'main'));
    expect(authorized).not.toContain(authorizedEntry('198.51.100.11', 'ssh-ed25519 AAAAdr1 pgbackrest'));
    const drFiles = accessFiles(model, 'dr1', pgbackrestHosts(model).get('dr1')!, states, drSecrets);
    expect(drFiles.map((f) => f.path)).toEqual(['/etc/pgbackrest/pgbackrest.conf', '/var/lib/postgresql/.ssh/known_hosts', '/var/lib/postgresql/.ssh/config']);
    expect(drFiles.find((f) => f.path.endsWith('/known_hosts'))!.content).toContain('192.0.2.14 ssh-ed25519 HOSTbk1');
    // Both ends offer AES-GCM first (less CPU per byte than ChaCha20 where AES instructions exist), ChaCha20 still allowed.
    for (const files of [repoFiles, drFiles]) {
      const config = files.find((f) => f.path.endsWith('/.ssh/config'))!.content;
      expect(config.match(/^ {2}Ciphers .*$/gm)).toEqual(expect.arrayContaining(['  Ciphers aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com']));
      expect(config.match(/^Host /gm)!.length).toBe(config.match(/^ {2}Ciphers /gm)!.length);
    }
  });

  it('refuses "repository" when the source has no backup section', () => {
    expect(() => parseInventory(inv(false), 'two-dc.yml')).toThrow(/clusters\.dr\.standby\.restore_command.*"repository" fetches WAL from the repository of main, which has no backup section/s);
  });
});
