// The rule of the layers above the executor, read from the source: a component, a stage, a
// command or the model plans steps and reads facts; only src/run (the executor, facts' runner)
// and src/ssh touch a host. A change made anywhere else would bypass the executor: `plan`
// could not show it and no event would report it.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');
const PLANNING_LAYERS = ['tasks', 'stages', 'commands', 'model'];

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}

/** Every `import … from '…'` and `import('…')` of a file, with whether it imports types only. */
function imports(text: string): { from: string; typeOnly: boolean; names: string }[] {
  const declared = [...text.matchAll(/^import\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)';/gms)].map((m) => ({ typeOnly: m[1] !== undefined, names: m[2]!, from: m[3]! }));
  const dynamic = [...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => ({ typeOnly: false, names: '*', from: m[1]! }));
  return [...declared, ...dynamic];
}

/** `{ type A, type B }`: an import whose every name is a type. */
const onlyTypes = (names: string) => /^\{[^}]*\}$/.test(names.trim()) && names.trim().slice(1, -1).split(',').map((n) => n.trim()).filter(Boolean).every((n) => /^type\s/.test(n));

/** What a planning-layer file may not import for its values: the transports and process spawning (node:net only for isIP and friends, never a socket). */
function forbidden(file: string, from: string, names = ''): boolean {
  if (['ssh2', 'execa', 'node:child_process', 'node:http', 'node:https', 'node:tls', 'node:dgram'].includes(from)) return true;
  if (from === 'node:net') return !/^\{\s*(isIP|isIPv4|isIPv6)(\s*,\s*(isIP|isIPv4|isIPv6))*\s*\}$/.test(names.trim());
  if (!from.startsWith('.')) return false;
  const target = path.relative(SRC, path.resolve(path.dirname(file), from));
  return target.startsWith('ssh/') || target.startsWith('lab/');
}

describe('layering: only the executor changes a host', () => {
  it('no file of the planning layers imports a transport (SSH, HTTP, TLS sockets, child processes) except for its types', async () => {
    const offending: string[] = [];
    for (const layer of PLANNING_LAYERS) {
      for (const file of await sources(path.join(SRC, layer))) {
        const text = await readFile(file, 'utf8');
        for (const imp of imports(text)) {
          if (imp.typeOnly || onlyTypes(imp.names)) continue;
          if (forbidden(file, imp.from, imp.names)) offending.push(`${path.relative(SRC, file)}: ${imp.from} ${imp.names}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it('the planning layers ask the session only whether a host is connected, never for its connection', async () => {
    const uses: string[] = [];
    for (const layer of PLANNING_LAYERS) {
      for (const file of await sources(path.join(SRC, layer))) {
        const text = await readFile(file, 'utf8');
        for (const m of text.matchAll(/\bremotes\b(\.\w+)?/g)) {
          // `remotes.has(h)`: reachability. Handing the map to a new FactCache (facts are reads) is the one other use.
          if (m[1] === '.has' || /new FactCache\(\w+\.remotes\)/.test(text.slice(Math.max(0, m.index! - 40), m.index! + 10))) continue;
          uses.push(`${path.relative(SRC, file)}: ${text.slice(m.index!, m.index! + 30).split('\n')[0]}`);
        }
      }
    }
    expect(uses).toEqual([]);
  });

  it('the import guard names a value import (static or dynamic) of the SSH layer, execa or a socket, and lets type imports, isIP and the run layer through', () => {
    const file = path.join(SRC, 'tasks/example/plan.ts');
    expect(imports("import { SshRemote } from '../../ssh/remote.js';").map((i) => forbidden(file, i.from))).toEqual([true]);
    expect(imports("import type { Remote } from '../../ssh/types.js';")[0]!.typeOnly).toBe(true);
    expect(onlyTypes('{ type Remote, type ExecResult }')).toBe(true);
    expect(onlyTypes('{ type Remote, SshRemote }')).toBe(false);
    expect(imports("import { execa } from 'execa';").map((i) => forbidden(file, i.from))).toEqual([true]);
    expect(forbidden(file, '../../run/steps.js')).toBe(false);
    expect(imports("const { spawn } = await import('node:child_process');").map((i) => forbidden(file, i.from, i.names))).toEqual([true]);
    expect(forbidden(file, 'node:net', '{ isIP }')).toBe(false);
    expect(forbidden(file, 'node:net', '{ connect }')).toBe(true);
  });
});
