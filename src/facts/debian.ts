import type { OsRelease } from './system.js';

/** A Debian stable release hapg supports, and what its own archive ships of what hapg installs. */
export interface DebianRelease {
  version: string;
  codename: string;
  postgres: number;
  patroni: string;
  etcd: string;
}

export const DEBIAN_RELEASES: readonly DebianRelease[] = [
  { version: '12', codename: 'bookworm', postgres: 15, patroni: '3.0.2', etcd: '3.4' },
  { version: '13', codename: 'trixie', postgres: 17, patroni: '4.0.7', etcd: '3.5' },
];

/** The supported release a host runs, from its os-release; undefined for anything else. */
export function debianRelease(os: OsRelease): DebianRelease | undefined {
  return os.id === 'debian' ? DEBIAN_RELEASES.find((r) => r.version === os.versionId) : undefined;
}

/** "Debian 12 ships 15, Debian 13 ships 17". */
export function shippedMajors(): string {
  return DEBIAN_RELEASES.map((r) => `Debian ${r.version} ships ${r.postgres}`).join(', ');
}
