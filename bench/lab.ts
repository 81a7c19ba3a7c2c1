// Shared pieces of the benchmarks: run the built CLI, time it, and print figures.
import path from 'node:path';
import { execa } from 'execa';

const BIN = path.resolve(import.meta.dirname, '../bin/hapg.js');

/** Runs `hapg …`, failing loudly (a benchmark of a failed run means nothing). Returns stdout and seconds. */
export async function timedHapg(args: string[]): Promise<{ stdout: string; seconds: number }> {
  const started = performance.now();
  const r = await execa('node', [BIN, ...args], { reject: false, env: { NO_COLOR: '1' } });
  const seconds = (performance.now() - started) / 1000;
  if (r.exitCode !== 0) throw new Error(`hapg ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.split('\n').filter((l) => l.startsWith('hapg:')).join(' ') || r.stderr.slice(-400)}`);
  return { stdout: r.stdout, seconds };
}

/** The `--json` result of `hapg …` whatever its exit code (status exits 1 on an unhealthy cluster, and still reports it). */
export async function hapgResult<T>(args: string[]): Promise<T> {
  const r = await execa('node', [BIN, ...args, '--json'], { reject: false, env: { NO_COLOR: '1' } });
  const last = r.stdout.trim().split('\n').at(-1);
  if (!last) throw new Error(`hapg ${args.join(' ')} printed no result (exit ${r.exitCode}): ${r.stderr.slice(-400)}`);
  return JSON.parse(last) as T;
}

/** Seconds each phase of a `--json` run took, from its events' `ms` stamps. */
export function phaseSeconds(stdout: string): Map<string, number> {
  const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; title?: string; ms?: number });
  const phases = events.filter((e) => e.kind === 'phase' || e.kind === 'result');
  const out = new Map<string, number>();
  const end = events.at(-1)?.ms ?? 0;
  phases.forEach((p, i) => {
    if (p.kind !== 'phase' || p.title === undefined) return;
    out.set(p.title, ((phases[i + 1]?.ms ?? end) - (p.ms ?? 0)) / 1000);
  });
  return out;
}

export const fmt = (seconds: number) => `${seconds.toFixed(1)} s`;
