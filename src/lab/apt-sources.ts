import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { HapgError } from '../errors.js';

/** One apt repository entry, from either the deb822 or the one-line format. */
export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** Remaining fields (Signed-By, Architectures …) kept verbatim, deb822 names. */
  options: Record<string, string>;
}

/** Parses a deb822 `.sources` file; disabled stanzas (`Enabled: no`) are dropped. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  const stanzas = text.replace(/\r/g, '').split(/\n[ \t]*\n/);
  for (const stanza of stanzas) {
    const fields: Record<string, string> = {};
    let current: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#') || raw.trim() === '') continue;
      if (/^[ \t]/.test(raw) && current !== undefined) {
        fields[current] = `${fields[current] ?? ''}\n${raw.trim()}`;
        continue;
      }
      const m = /^([A-Za-z0-9-]+):(.*)$/.exec(raw);
      if (!m) continue;
      current = (m[1] ?? '').toLowerCase();
      fields[current] = (m[2] ?? '').trim();
    }
    if (!fields['uris'] || !fields['suites']) continue;
    if ((fields['enabled'] ?? 'yes').toLowerCase() === 'no') continue;
    const words = (key: string) => (fields[key] ?? '').split(/\s+/).filter(Boolean);
    const options: Record<string, string> = {};
    for (const [key, value] of Object.entries(fields)) {
      if (!['types', 'uris', 'suites', 'components', 'enabled'].includes(key)) options[canonicalField(key)] = value;
    }
    sources.push({ types: words('types'), uris: words('uris'), suites: words('suites'), components: words('components'), options });
  }
  return sources;
}

/** Parses a one-line `sources.list` (`deb [opts] URI SUITE COMPONENT…`). */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const options: Record<string, string> = {};
    for (const opt of (m[2] ?? '').split(/\s+/).filter(Boolean)) {
      const [key, value] = opt.split('=', 2);
      if (key && value !== undefined) options[canonicalField(key)] = value.replace(/,/g, ' ');
    }
    sources.push({
      types: [m[1] ?? 'deb'],
      uris: [m[3] ?? ''],
      suites: [m[4] ?? ''],
      components: (m[5] ?? '').split(/\s+/).filter(Boolean),
      options,
    });
  }
  return sources;
}

const canonicalNames: Record<string, string> = {
  'signed-by': 'Signed-By',
  arch: 'Architectures',
  architectures: 'Architectures',
  trusted: 'Trusted',
};

function canonicalField(key: string): string {
  const lower = key.toLowerCase();
  return canonicalNames[lower] ?? lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => `${dash}${c.toUpperCase()}`);
}

/** Reads every active apt source of the control machine (sources.list and sources.list.d). */
export async function readMachineSources(etcApt = '/etc/apt'): Promise<AptSource[]> {
  const sources: AptSource[] = [];
  const listFile = path.join(etcApt, 'sources.list');
  const text = await readFile(listFile, 'utf8').catch(() => undefined);
  if (text !== undefined) sources.push(...parseOneLineSources(text));
  const dir = path.join(etcApt, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(await readFile(file, 'utf8')));
    else if (name.endsWith('.list')) sources.push(...parseOneLineSources(await readFile(file, 'utf8')));
  }
  return sources;
}

/** The machine's Debian archive for the lab: the `deb` entry carrying SUITE itself with `main`. */
export interface DebianMirrors {
  /** Main archive URI (no trailing slash), e.g. what the machine's own apt uses. */
  archive: string;
  /** Entries the hosts get in their sources, rewritten from the machine's codename to SUITE. */
  hostSources: AptSource[];
}

/**
 * Picks the Debian mirror from the machine's apt sources, so nothing hard-codes a registry:
 * the lab reaches exactly what the machine's own apt reaches.
 */
export function pickDebianMirrors(sources: readonly AptSource[], machineCodename: string, suite: string): DebianMirrors {
  const family = (s: string) => s === machineCodename || s.startsWith(`${machineCodename}-`);
  const debian = sources.filter(
    (s) => s.types.includes('deb') && s.components.includes('main') && s.suites.some(family) && s.uris.some((u) => u.startsWith('http://')),
  );
  const main = debian.find((s) => s.suites.includes(machineCodename));
  const archive = main?.uris.find((u) => u.startsWith('http://'));
  if (!main || !archive) {
    throw new HapgError('LAB', `no http:// Debian mirror for "${machineCodename}" with component main in /etc/apt/sources.list{,.d}`, {
      hint: 'the lab caches packages through apt-cacher-ng, which needs a plain http mirror in the machine\'s apt sources',
    });
  }
  const hostSources = debian.map((s) => ({
    types: ['deb'],
    uris: s.uris.filter((u) => u.startsWith('http://')),
    suites: s.suites.filter(family).map((x) => suite + x.slice(machineCodename.length)),
    components: ['main'],
    options: pick(s.options, ['Signed-By']),
  }));
  return { archive: archive.replace(/\/+$/, ''), hostSources };
}

function pick(options: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(options).filter(([k]) => keys.includes(k)));
}

/** Renders sources in deb822 form for a host's /etc/apt/sources.list.d/debian.sources. */
export function renderDeb822(sources: readonly AptSource[]): string {
  return sources
    .map((s) => {
      const lines = [`Types: ${s.types.join(' ')}`, `URIs: ${s.uris.join(' ')}`, `Suites: ${s.suites.join(' ')}`, `Components: ${s.components.join(' ')}`];
      for (const [key, value] of Object.entries(s.options)) lines.push(`${key}: ${value.split('\n').join('\n ')}`);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

/** VERSION_CODENAME from os-release, e.g. "bookworm". */
export function parseOsReleaseCodename(text: string): string | undefined {
  const m = /^VERSION_CODENAME=["']?([^"'\n]*)["']?$/m.exec(text);
  return m?.[1] || undefined;
}
