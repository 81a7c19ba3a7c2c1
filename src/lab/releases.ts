import { HapgError } from '../errors.js';

/** Debian releases a lab can run, with what the inventory needs to know about each. */
export const LAB_RELEASES = {
  bookworm: { debian: 12, postgres: 15 },
  trixie: { debian: 13, postgres: 17 },
} as const;

export type LabRelease = keyof typeof LAB_RELEASES;

export const DEFAULT_RELEASE: LabRelease = 'trixie';

/** Labs written before releases existed ran bookworm. */
export const LEGACY_RELEASE: LabRelease = 'bookworm';

export function isLabRelease(value: string): value is LabRelease {
  return Object.hasOwn(LAB_RELEASES, value);
}

/** Checks `--release`. */
export function parseRelease(value: string): LabRelease {
  if (!isLabRelease(value)) {
    throw new HapgError('USAGE', `--release "${value}": expected ${Object.keys(LAB_RELEASES).join(' or ')}`);
  }
  return value;
}

/** "Debian 13 (trixie)". */
export function describeRelease(release: LabRelease): string {
  return `Debian ${LAB_RELEASES[release].debian} (${release})`;
}

/** The PostgreSQL major the release's own packages ship (what the lab's inventory deploys). */
export function postgresMajorOf(release: LabRelease): number {
  return LAB_RELEASES[release].postgres;
}
