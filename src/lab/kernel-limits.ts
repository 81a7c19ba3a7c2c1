import { readFile, writeFile } from 'node:fs/promises';
import type { EventSink } from '../run/events.js';
import { HapgError } from '../errors.js';

/**
 * Kernel limits the hosts need, machine-wide: every booted host's systemd holds several
 * inotify instances and many watches, and at the default 128 instances about twenty hosts
 * fail to boot ("Too many open files"). 40 hosts in each of a few labs fit under these.
 */
export const LAB_KERNEL_LIMITS: readonly { key: string; minimum: number }[] = [
  { key: 'fs.inotify.max_user_instances', minimum: 1024 },
  { key: 'fs.inotify.max_user_watches', minimum: 524288 },
];

/** The limits below their minimum, with the value to raise each to (never a lowering). */
export function limitsToRaise(current: ReadonlyMap<string, number>): { key: string; from: number; to: number }[] {
  return LAB_KERNEL_LIMITS.flatMap(({ key, minimum }) => {
    const from = current.get(key);
    return from !== undefined && from < minimum ? [{ key, from, to: minimum }] : [];
  });
}

function procFile(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** Raises the limits the hosts need before any boots; one event line says what changed. */
export async function ensureKernelLimits(sink: EventSink): Promise<void> {
  const current = new Map<string, number>();
  for (const { key } of LAB_KERNEL_LIMITS) {
    const value = Number((await readFile(procFile(key), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(value)) current.set(key, value);
  }
  const raise = limitsToRaise(current);
  for (const { key, to } of raise) {
    await writeFile(procFile(key), `${to}\n`).catch((err: NodeJS.ErrnoException) => {
      throw new HapgError('LAB', `cannot raise ${key} to ${to} (${procFile(key)}: ${err.code ?? err.message})`, {
        hint: `raise it by hand: sysctl -w ${key}=${to}`,
      });
    });
  }
  if (raise.length === 0) {
    sink({ kind: 'noop', host: 'localhost', title: 'kernel limits', reason: LAB_KERNEL_LIMITS.map(({ key }) => `${key} ${current.get(key) ?? '?'}`).join(', ') });
  } else {
    sink({ kind: 'change', host: 'localhost', title: 'kernel limits raised', detail: raise.map((r) => `${r.key} ${r.from} → ${r.to}`).join(', ') });
  }
}
