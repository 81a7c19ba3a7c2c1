import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandError } from '../../src/errors.js';
import { chownSpec, fileDrift, parseProbe, putFile } from '../../src/ssh/put-file.js';
import { quoteArgv } from '../../src/ssh/quote.js';
import type { ExecOptions, ExecResult } from '../../src/ssh/types.js';

/** Runs the probe and write scripts with the local /bin/sh, as a host would (minus sudo). */
function localRun(argv: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const command = quoteArgv(argv);
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (exitCode) => {
      const result = { host: 'local', command, exitCode, stdout, stderr, durationMs: 0 };
      if (exitCode === 0 || opts.allowFailure) resolve(result);
      else reject(new CommandError(result));
    });
    child.stdin.on('error', () => undefined); // the probe does not read stdin
    child.stdin.end(opts.stdin ?? '');
  });
}

const me = userInfo().username;

describe('parseProbe', () => {
  it.each([
    ['absent\n', { kind: 'absent' }],
    ['directory\n', { kind: 'other', what: 'directory' }],
    ['symlink\n', { kind: 'other', what: 'symlink' }],
    [
      `file ${'a'.repeat(64)} 640 0 root 112 postgres\n`,
      { kind: 'file', sha256: 'a'.repeat(64), mode: 0o640, uid: '0', user: 'root', gid: '112', group: 'postgres' },
    ],
    [`file ${'b'.repeat(64)} 4755 0 root 0 root\n`, { kind: 'file', sha256: 'b'.repeat(64), mode: 0o4755, uid: '0', user: 'root', gid: '0', group: 'root' }],
  ])('parses %j', (stdout, expected) => {
    expect(parseProbe(stdout)).toEqual(expected);
  });

  it('refuses output it does not understand', () => {
    expect(() => parseProbe('file nothex 644 0 root 0 root')).toThrow(/unexpected output/);
  });
});

describe('fileDrift', () => {
  const state = { kind: 'file', sha256: 'x'.repeat(64), mode: 0o640, uid: '0', user: 'root', gid: '112', group: 'postgres' } as const;
  it.each([
    ['same everything', { mode: 0o640, owner: 'root', group: 'postgres' }, 'none'],
    ['owner and group by id', { mode: 0o640, owner: '0', group: '112' }, 'none'],
    ['ownership not asked for', { mode: 0o640 }, 'none'],
    ['mode differs', { mode: 0o600, owner: 'root', group: 'postgres' }, 'attributes'],
    ['owner differs', { mode: 0o640, owner: 'postgres', group: 'postgres' }, 'attributes'],
    ['group differs', { mode: 0o640, owner: 'root', group: 'root' }, 'attributes'],
  ])('%s → %s', (_name, opts, expected) => {
    expect(fileDrift(state, 'x'.repeat(64), opts)).toBe(expected);
  });

  it('content differs or file absent → content', () => {
    expect(fileDrift(state, 'y'.repeat(64), { mode: 0o640 })).toBe('content');
    expect(fileDrift({ kind: 'absent' }, 'x'.repeat(64), { mode: 0o640 })).toBe('content');
  });

  it('builds chown specs', () => {
    expect(chownSpec({ owner: 'postgres', group: 'postgres' })).toBe('postgres:postgres');
    expect(chownSpec({ owner: 'postgres' })).toBe('postgres');
    expect(chownSpec({ group: 'postgres' })).toBe(':postgres');
    expect(chownSpec({})).toBe('');
  });
});

describe('putFile with the real scripts (local /bin/sh)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hapg-put-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const mode = async (path: string) => (await lstat(path)).mode & 0o7777;

  it('writes once, then reports unchanged; creates missing parent directories', async () => {
    const path = join(dir, 'a', 'b', 'patroni.yml');
    await expect(putFile(localRun, 'local', path, 'scope: main\n', { mode: 0o600, owner: me })).resolves.toEqual({ changed: true });
    expect(await readFile(path, 'utf8')).toBe('scope: main\n');
    expect(await mode(path)).toBe(0o600);
    await expect(putFile(localRun, 'local', path, 'scope: main\n', { mode: 0o600, owner: me })).resolves.toEqual({ changed: false });
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['patroni.yml']); // no temp file left behind
  });

  it('fixes mode drift alone, without rewriting', async () => {
    const path = join(dir, 'secret');
    await putFile(localRun, 'local', path, 'pw\n', { mode: 0o600 });
    await chmod(path, 0o644);
    await expect(putFile(localRun, 'local', path, 'pw\n', { mode: 0o600 })).resolves.toEqual({ changed: true });
    expect(await mode(path)).toBe(0o600);
  });

  it('rewrites changed content, and binary content byte for byte', async () => {
    const path = join(dir, 'blob');
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13, 0x27, 0x24]);
    await putFile(localRun, 'local', path, 'old', { mode: 0o644 });
    await expect(putFile(localRun, 'local', path, bytes, { mode: 0o644 })).resolves.toEqual({ changed: true });
    expect(await readFile(path)).toEqual(bytes);
    expect(await mode(path)).toBe(0o644);
  });

  it('handles paths with spaces and quotes', async () => {
    const path = join(dir, "it's a dir", 'file $(x).conf');
    await expect(putFile(localRun, 'local', path, 'x', { mode: 0o640 })).resolves.toEqual({ changed: true });
    expect(await readFile(path, 'utf8')).toBe('x');
  });

  it('replaces a symlink with a regular file', async () => {
    const target = join(dir, 'target');
    const path = join(dir, 'link');
    await writeFile(target, 'x');
    await symlink(target, path);
    await expect(putFile(localRun, 'local', path, 'x', { mode: 0o644 })).resolves.toEqual({ changed: true });
    expect((await lstat(path)).isFile()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('x');
  });

  it('refuses to replace a directory', async () => {
    const path = join(dir, 'conf.d');
    await mkdir(path);
    await expect(putFile(localRun, 'local', path, 'x', { mode: 0o644 })).rejects.toThrow(`local: cannot write ${path}: a directory is in the way`);
  });

  it('never renames a transfer cut short into place (hapg killed, the connection lost mid-write)', async () => {
    const path = join(dir, 'patroni.yml');
    await putFile(localRun, 'local', path, 'scope: main\n', { mode: 0o600 });
    // The host receives only the first half of the new content, then end of input.
    const truncated: typeof localRun = (argv, opts) => localRun(argv, { ...opts, ...(opts.stdin !== undefined ? { stdin: Buffer.from(opts.stdin).subarray(0, 6) } : {}) });
    const err = (await putFile(truncated, 'local', path, 'scope: other\nname: pg1\n', { mode: 0o600 }).catch((e: unknown) => e)) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.message).toMatch(/incomplete transfer \(digest mismatch\)/);
    expect(await readFile(path, 'utf8')).toBe('scope: main\n');
    expect(await readdir(dir)).toEqual(['patroni.yml']);
  });

  it('names the file operation, not the script, when a step fails', async () => {
    const path = join(dir, 'x');
    const err = (await putFile(localRun, 'local', path, 'x', { mode: 0o644, owner: 'no-such-user-hapg' }).catch((e: unknown) => e)) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.message).toMatch(new RegExp(`^local: \`write ${path}\` failed \\(exit 1\\): .*no-such-user-hapg`));
    expect(await readdir(dir)).toEqual([]); // the temp file was removed
  });

  it('refuses relative paths and silly modes', async () => {
    await expect(putFile(localRun, 'local', 'etc/x', 'x', { mode: 0o644 })).rejects.toThrow(/absolute/);
    await expect(putFile(localRun, 'local', join(dir, 'x'), 'x', { mode: 0o10000 })).rejects.toThrow(/invalid mode/);
  });
});
