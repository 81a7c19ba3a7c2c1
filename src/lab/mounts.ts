import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runLocal } from './local.js';

export interface MountEntry {
  mountPoint: string;
  fstype: string;
  superOptions: string;
}

/** Parses /proc/self/mountinfo (octal escapes in paths decoded). */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4];
    const [fstype = '', , superOptions = ''] = right.split(' ');
    if (mountPoint) entries.push({ mountPoint: mountPoint.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))), fstype, superOptions });
  }
  return entries;
}

export async function currentMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** Mount points at or below DIR, deepest first (the order to unmount them). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = path.resolve(dir);
  const points = (await currentMounts()).map((m) => m.mountPoint).filter((p) => p === prefix || p.startsWith(`${prefix}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below DIR (stacked mounts included). */
export async function unmountTree(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = await mountsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) {
      const { exitCode } = await runLocal('umount', [point], { allowFailure: true });
      if (exitCode !== 0) await runLocal('umount', ['-l', point], { what: `unmounting ${point}`, allowFailure: round < 4 });
    }
  }
}

/**
 * Deletes a directory tree the lab owns. Mounts below it are removed first and rm never
 * crosses into another filesystem, so a leftover bind mount (e.g. debootstrap's /dev or
 * /proc) can never take the machine's own files with it.
 */
export async function removeTree(dir: string): Promise<void> {
  await unmountTree(dir);
  await runLocal('rm', ['-rf', '--one-file-system', '--', dir], { what: `removing ${dir}` });
}
