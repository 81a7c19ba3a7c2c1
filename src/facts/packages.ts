import type { CommandFact } from './fact.js';

/** Which of the given Debian packages are fully installed (dpkg status "installed"). */
export function installedPackages(names: readonly string[]): CommandFact<Set<string>> {
  const sorted = [...names].sort();
  return {
    id: `packages:${sorted.join(',')}`,
    argv: ['dpkg-query', '-W', '-f', '${Package} ${db:Status-Status}\\n', ...sorted],
    parse: (r) => parseDpkgQuery(r.stdout),
  };
}

/** Parses `dpkg-query -W -f '${Package} ${db:Status-Status}\n'`; unknown packages are simply absent. */
export function parseDpkgQuery(stdout: string): Set<string> {
  const out = new Set<string>();
  for (const line of stdout.split('\n')) {
    const [name, status] = line.trim().split(/\s+/);
    if (name && status === 'installed') out.add(name);
  }
  return out;
}
