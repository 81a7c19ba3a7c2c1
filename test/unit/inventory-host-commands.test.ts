import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/inventory/issues.js';
import { parseInventory } from '../../src/inventory/load.js';

// Free text that reaches a file or a command on the hosts: parameters and restore_command
// (postgresql.conf, written by Patroni as name = '<value>' with quotes and backslashes
// doubled), callbacks (run by Patroni without a shell), pg_hba fields, the VIP interface.
function firstProblem(cluster: string): string | undefined {
  const text = `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
etcd:
  dc1: { hosts: [pg1] }
clusters:
  main:
    hosts: [pg1]
    haproxy: {}
  dr:
    hosts: [pg2]
${cluster}
`;
  try {
    parseInventory(text, 'inv.yml');
    return undefined;
  } catch (err) {
    if (err instanceof InventoryError) return err.message;
    throw err;
  }
}

const parameter = (yamlValue: string) => firstProblem(`    postgres:\n      parameters:\n        log_line_prefix: ${yamlValue}`);
const standby = (field: string) => firstProblem(`    standby:\n      cluster: main\n      ${field}`);
const callback = (yamlValue: string) => firstProblem(`    patroni:\n      callbacks:\n        on_role_change: ${yamlValue}`);
const hba = (entry: string) => firstProblem(`    postgres:\n      hba:\n        - ${entry}`);

describe('postgresql.conf parameter values', () => {
  it.each([
    ['quotes', `"'%m' \\"%p\\""`],
    ['a backslash', `'C:\\x'`],
    ['a dollar sign', `'$user'`],
    ['a number', '42'],
    ['a boolean', 'true'],
  ])('accepts %s (Patroni escapes them)', (_what, value) => {
    expect(parameter(value)).toBeUndefined();
  });

  it.each([
    ['a newline', '"x\\nfsync = off"', 'a newline'],
    ['a carriage return', '"x\\r"', 'a carriage return'],
    ['a tab', '"x\\ty"', 'a tab'],
    ['a NUL', '"x\\0"', 'a NUL character'],
    ['a next-line character', '"x\\Ny"', 'the invisible character U+0085'],
    ['a line separator', '"x\\Ly"', 'the invisible character U+2028'],
  ])('rejects %s, which leaves postgresql.conf unreadable', (_what, value, named) => {
    const message = parameter(value);
    expect(message).toContain(`contains ${named}`);
    expect(message).toContain('every member would fail at its next restart');
    expect(message).not.toMatch(/[\n\r\u0085\u2028]/u);
  });

  it('rejects include directives as parameter names', () => {
    expect(firstProblem('    postgres:\n      parameters:\n        include_dir: /etc/x')).toContain('are postgresql.conf directives, not parameters');
  });
});

describe('standby.restore_command and recovery_min_apply_delay', () => {
  it.each([
    "restore_command: 'cp /archive/%f %p'",
    `restore_command: 'test -f "/archive/%f" && cp /archive/%f %p || echo 100%% >&2'`,
    "restore_command: 'pgbackrest --stanza=main archive-get %f \"%p\"'",
    'restore_command: "/usr/bin/restore %f %p %r"',
    'recovery_min_apply_delay: 5min',
    "recovery_min_apply_delay: '5 min'",
    'recovery_min_apply_delay: 300000',
  ])('accepts %s', (field) => {
    expect(standby(`source: members\n      ${field}`)).toBeUndefined();
  });

  it.each([
    ['restore_command: "cp /archive/%f %p\\nrecovery_target = immediate"', 'contains a newline'],
    ["restore_command: 'cp /archive/%f %p %t'", 'contains "%t": PostgreSQL replaces only %f, %p, %r and %%'],
    ["restore_command: 'cp /archive/%f %p 100%'", 'contains "%"'],
    ['recovery_min_apply_delay: "5\\nmin"', 'must be a delay such as 5min'],
    ['recovery_min_apply_delay: "5\\tmin"', 'must be a delay such as 5min'],
  ])('rejects %s', (field, expected) => {
    expect(standby(`source: members\n      ${field}`)).toContain(expected);
  });
});

describe('Patroni callbacks', () => {
  it.each(['/usr/local/bin/notify-role-change', '/usr/local/bin/notify --channel=db-ops --retries 3'])('accepts %s', (command) => {
    expect(callback(command)).toBeUndefined();
  });

  it.each([
    ['notify', 'must be a command starting with an absolute path'],
    ['"/usr/local/bin/notify\\n"', 'contains a newline'],
    ['"/usr/local/bin/notify; reboot"', 'contains ";": Patroni runs callbacks without a shell'],
    ['"/usr/local/bin/notify $HOME"', 'contains "$"'],
    ['"/usr/local/bin/notify `id`"', 'contains "`"'],
    ['"/usr/local/bin/notify \'a b\'"', `contains "'"`],
    ['"/usr/local/bin/notify | sh"', 'contains "|"'],
    ['"/usr/local/bin/notify  x"', 'repeated or trailing spaces'],
  ])('rejects %s', (command, expected) => {
    expect(callback(command)).toContain(expected);
  });
});

describe('pg_hba fields', () => {
  it('accepts lists, groups and keywords', () => {
    expect(hba('{ type: host, database: "app,reports", user: +readers, address: 10.0.0.0/8, method: scram-sha-256 }')).toBeUndefined();
  });

  it.each([
    ['{ type: host, database: "app\\nhost", user: all, address: all, method: scram-sha-256 }', 'database: must not contain spaces, control characters'],
    ['{ type: host, database: app, user: "a\\u0001", address: all, method: scram-sha-256 }', 'user: must not contain spaces, control characters'],
    ['{ type: host, database: app, user: all, address: "10.0.0.0/8\\nhost", method: scram-sha-256 }', 'is not an address range'],
  ])('rejects %s', (entry, expected) => {
    const message = hba(entry);
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });
});

describe('host addresses', () => {
  it('rejects an IPv6 zone', () => {
    const text = `hosts:\n  pg1: { address: "fe80::1%eth0" }\netcd:\n  dc1: { hosts: [pg1] }\nclusters:\n  main: { hosts: [pg1] }\n`;
    expect(() => parseInventory(text, 'inv.yml')).toThrow('has an IPv6 zone (%eth0)');
  });
});
