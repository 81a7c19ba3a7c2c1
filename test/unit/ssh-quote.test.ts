import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HapgError } from '../../src/errors.js';
import { commandLine, quoteArg, quoteArgv } from '../../src/ssh/quote.js';

/** Runs a command line through /bin/sh and returns the argv printf received (NUL-separated). */
function argvSeenByShell(line: string): string[] {
  const out = spawnSync('/bin/sh', ['-c', line], { encoding: 'utf8' });
  expect(out.status, out.stderr).toBe(0);
  return out.stdout.split('\0').slice(0, -1);
}

const nasty = [
  '',
  ' ',
  'plain',
  'with space',
  "it's",
  "''",
  '"double"',
  '$(id)',
  '`id`',
  '${HOME}',
  '$HOME',
  'a\nb',
  'tab\there',
  'back\\slash',
  '*',
  '?',
  '[abc]',
  '{a,b}',
  '~',
  '~root',
  '#comment',
  'a;b',
  'a|b',
  'a&b',
  '>out',
  '<in',
  '!bang',
  '-n',
  '--',
  'FOO=bar',
  'ünïcødé ✓',
  '日本語',
  "mixed 'single' and \"double\" and $(subshell) and `tick`\n",
];

describe('quoteArg', () => {
  it.each([
    ['plain', 'plain'],
    ['/etc/patroni/patroni.yml', '/etc/patroni/patroni.yml'],
    ['--port=5432', '--port=5432'],
    ['user@host:1,2+3%', 'user@host:1,2+3%'],
    ['', "''"],
    ['with space', "'with space'"],
    ["it's", "'it'\\''s'"],
    ['$(id)', "'$(id)'"],
    ['a\nb', "'a\nb'"],
    ['~', "'~'"],
    ['*.conf', "'*.conf'"],
    ['FOO=bar', "'FOO=bar'"],
    ['ünï', "'ünï'"],
  ])('quotes %j as %j', (arg, expected) => {
    expect(quoteArg(arg)).toBe(expected);
  });

  it('refuses NUL bytes, which no argv can carry', () => {
    expect(() => quoteArg('a\0b')).toThrow(HapgError);
  });

  it.each(nasty)('round-trips %j through /bin/sh unchanged', (arg) => {
    expect(argvSeenByShell(`printf '%s\\0' ${quoteArg(arg)}`)).toEqual([arg]);
  });

  it('round-trips every nasty string at once, in order', () => {
    expect(argvSeenByShell(quoteArgv(['printf', '%s\\0', ...nasty]))).toEqual(nasty);
  });

  it('keeps an assignment-looking first word a command, not an assignment', () => {
    const out = spawnSync('/bin/sh', ['-c', quoteArgv(['FOO=bar', 'x'])], { encoding: 'utf8' });
    expect(out.stderr).toMatch(/FOO=bar/); // "not found": the shell tried to run it
  });
});

describe('commandLine', () => {
  const argv = ['systemctl', 'restart', 'patroni'];
  it.each([
    ['root, no sudo', { loginUser: 'root' }, 'systemctl restart patroni'],
    ['root, sudo is a no-op', { loginUser: 'root', sudo: true }, 'systemctl restart patroni'],
    ['non-root without sudo', { loginUser: 'deploy' }, 'systemctl restart patroni'],
    ['non-root with sudo', { loginUser: 'deploy', sudo: true }, 'sudo -n -- systemctl restart patroni'],
    ['root as another user', { loginUser: 'root', user: 'postgres' }, 'runuser -u postgres -- systemctl restart patroni'],
    ['non-root as another user', { loginUser: 'deploy', user: 'postgres' }, 'sudo -n -u postgres -- systemctl restart patroni'],
    ['non-root as another user, sudo too', { loginUser: 'deploy', sudo: true, user: 'postgres' }, 'sudo -n -u postgres -- systemctl restart patroni'],
    ['as the login user itself', { loginUser: 'deploy', user: 'deploy' }, 'systemctl restart patroni'],
    ['root, as root', { loginUser: 'root', user: 'root' }, 'systemctl restart patroni'],
    ['env', { loginUser: 'root', env: { LANG: 'C', PGPASSWORD: "p'w $x" } }, `env 'LANG=C' 'PGPASSWORD=p'\\''w $x' systemctl restart patroni`],
    [
      'env under sudo (env after sudo, so sudo cannot strip it)',
      { loginUser: 'deploy', sudo: true, env: { A: '1' } },
      `sudo -n -- env 'A=1' systemctl restart patroni`,
    ],
    ['env as another user', { loginUser: 'root', user: 'postgres', env: { A: '1' } }, `runuser -u postgres -- env 'A=1' systemctl restart patroni`],
  ])('%s', (_name, ctx, expected) => {
    expect(commandLine(argv, ctx)).toBe(expected);
  });

  it('passes env values through the shell intact', () => {
    const line = commandLine(['sh', '-c', 'printf "%s\\0" "$V"'], { loginUser: 'root', env: { V: "it's $(id) `x`\nline2" } });
    expect(argvSeenByShell(line)).toEqual(["it's $(id) `x`\nline2"]);
  });

  it.each([
    ['an empty command', [], { loginUser: 'root' }],
    ['a bad env name', ['true'], { loginUser: 'root', env: { 'A B': '1' } }],
    ['an env name with =', ['true'], { loginUser: 'root', env: { 'A=B': '1' } }],
    ['a user that looks like an option', ['true'], { loginUser: 'root', user: '-rf' }],
  ])('refuses %s', (_name, a, ctx) => {
    expect(() => commandLine(a, ctx)).toThrow(HapgError);
  });
});
