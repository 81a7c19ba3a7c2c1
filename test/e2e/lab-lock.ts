// Files run side by side on one lab. Most own their hosts and never disturb the others, but
// two kinds of test need the whole lab as it is: lab.test.ts checks every host and runs
// `lab up` (which boots any stopped host), and the fault suite powers hosts off. They take
// this lock (a directory beside the lab's inventory, naming its holder's pid) for that time.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { LabContext } from './lab-context.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Runs fn holding the lab's whole-lab lock; waits (up to timeoutMs) while another file holds it. */
export async function withWholeLab<T>(lab: LabContext, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const dir = `${lab.inventoryPath}.whole-lab.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(`${dir}/pid`, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(`${dir}/pid`, 'utf8').catch(() => ''));
      // A holder that died (a killed test run) leaves the directory: take it over.
      if (holder > 0 && !alive(holder)) await rm(dir, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`the whole-lab lock ${dir} is still held by pid ${holder || '?'}`);
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The lock for a whole file: take it in beforeAll, release it in afterAll. */
export function wholeLabForFile(lab: LabContext): { take: () => Promise<void>; release: () => Promise<void> } {
  let release: (() => void) | undefined;
  let held: Promise<void> | undefined;
  return {
    take: () =>
      new Promise<void>((taken, failed) => {
        held = withWholeLab(lab, () => {
          taken();
          return new Promise<void>((r) => (release = r));
        }).catch(failed);
      }),
    release: async () => {
      release?.();
      await held;
    },
  };
}
