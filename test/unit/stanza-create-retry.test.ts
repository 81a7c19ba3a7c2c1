// stanza-create asked again while a member's asynchronous archive-push holds the stanza's
// archive lock (pgBackRest's LockAcquireError); any other failure reported at once, with its
// exit code. The retry loop runs here as it runs on the repository host, with a stand-in for
// pgbackrest that fails the way pgBackRest did on the lab.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { STANZA_CREATE } from '../../src/tasks/pgbackrest/stanza.js';

const LOCKED = `WARN: unable to check pg1: [LockAcquireError] raised from remote-0 ssh protocol on '10.0.0.52': unable to acquire lock on file '/tmp/pgbackrest/copy-archive-1.lock': Resource temporarily unavailable
ERROR: [056]: unable to find primary cluster - cannot proceed`;

/** A stand-in for pgbackrest: answers `outcomes` in turn ([exit code, output]) and counts its calls. */
async function standIn(outcomes: [number, string][]): Promise<{ bin: string; calls: () => Promise<number> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hapg-stanza-'));
  const counter = path.join(dir, 'calls');
  await writeFile(counter, '0');
  const cases = outcomes.map(([code, out], i) => `  ${i + 1}) printf '%s\\n' '${out.replace(/'/g, `'\\''`)}' >&2; exit ${code} ;;`).join('\n');
  const bin = path.join(dir, 'pgbackrest');
  await writeFile(bin, `#!/bin/sh\nn=$(( $(cat ${counter}) + 1 )); echo $n > ${counter}\ncase $n in\n${cases}\nesac\n`, { mode: 0o755 });
  return { bin, calls: async () => Number((await readFile(counter, 'utf8')).trim()) };
}

describe('stanza-create while the archive lock is held', () => {
  it('asks again after a LockAcquireError and succeeds', async () => {
    const fake = await standIn([[56, LOCKED], [0, 'INFO: stanza-create command end: completed successfully']]);
    const r = await execa('sh', ['-c', STANZA_CREATE, 'sh', fake.bin, '--stanza=copy', 'stanza-create'], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/completed successfully/);
    expect(await fake.calls()).toBe(2);
  });

  it('reports any other failure at once, with pgBackRest\'s exit code and output', async () => {
    const fake = await standIn([[28, 'ERROR: [028]: backup and archive info files exist but do not match the database'], [0, 'never reached']]);
    const r = await execa('sh', ['-c', STANZA_CREATE, 'sh', fake.bin, '--stanza=copy', 'stanza-create'], { reject: false });
    expect(r.exitCode).toBe(28);
    expect(r.stderr).toMatch(/^ERROR: \[028\]: backup and archive info files exist/);
    expect(await fake.calls()).toBe(1);
  });
});
