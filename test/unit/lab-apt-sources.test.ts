import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseDeb822Sources,
  parseOneLineSources,
  parseOsReleaseCodename,
  pickDebianMirrors,
  readMachineSources,
  renderDeb822,
} from '../../src/lab/apt-sources.js';
import { HapgError } from '../../src/errors.js';

// Shaped like a Debian 12 machine's /etc/apt/sources.list.d/debian.sources (mirror names are placeholders).
const DEBIAN_SOURCES = `Types: deb
# http://snapshot.example.test/archive/debian/20250520T000000Z
URIs: http://mirror.example.test/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.example.test/archive/debian-security/20250520T000000Z
URIs: http://mirror.example.test/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

const THIRD_PARTY = `Types: deb
URIs: https://vendor.example.test/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
Signed-By: /usr/share/keyrings/vendor.gpg
`;

describe('parseDeb822Sources', () => {
  it('reads every stanza with its fields, skipping comments', () => {
    const sources = parseDeb822Sources(DEBIAN_SOURCES);
    expect(sources).toEqual([
      {
        types: ['deb'],
        uris: ['http://mirror.example.test/debian'],
        suites: ['bookworm', 'bookworm-updates'],
        components: ['main'],
        options: { 'Signed-By': '/usr/share/keyrings/debian-archive-keyring.gpg' },
      },
      {
        types: ['deb'],
        uris: ['http://mirror.example.test/debian-security'],
        suites: ['bookworm-security'],
        components: ['main'],
        options: { 'Signed-By': '/usr/share/keyrings/debian-archive-keyring.gpg' },
      },
    ]);
  });

  it('drops stanzas marked Enabled: no', () => {
    expect(parseDeb822Sources(`${DEBIAN_SOURCES}\nTypes: deb\nURIs: http://off.example.test/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n`)).toHaveLength(2);
  });
});

describe('parseOneLineSources', () => {
  it('reads deb lines with options and ignores comments', () => {
    const text = [
      '# main archive',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example.test/debian bookworm main contrib',
      'deb-src http://mirror.example.test/debian bookworm main',
      '',
    ].join('\n');
    expect(parseOneLineSources(text)).toEqual([
      {
        types: ['deb'],
        uris: ['http://mirror.example.test/debian'],
        suites: ['bookworm'],
        components: ['main', 'contrib'],
        options: { Architectures: 'amd64', 'Signed-By': '/usr/share/keyrings/k.gpg' },
      },
      { types: ['deb-src'], uris: ['http://mirror.example.test/debian'], suites: ['bookworm'], components: ['main'], options: {} },
    ]);
  });
});

describe('pickDebianMirrors', () => {
  it('takes the archive carrying the codename and gives the hosts every Debian entry, third parties left out', () => {
    const sources = [...parseDeb822Sources(THIRD_PARTY), ...parseDeb822Sources(DEBIAN_SOURCES)];
    const picked = pickDebianMirrors(sources, 'bookworm', 'bookworm');
    expect(picked.archive).toBe('http://mirror.example.test/debian');
    expect(picked.hostSources.map((s) => s.uris[0])).toEqual(['http://mirror.example.test/debian', 'http://mirror.example.test/debian-security']);
    expect(picked.hostSources.map((s) => s.options)).toEqual([
      { 'Signed-By': '/usr/share/keyrings/debian-archive-keyring.gpg' },
      { 'Signed-By': '/usr/share/keyrings/debian-archive-keyring.gpg' },
    ]);
  });

  it('rewrites the machine codename to the lab suite', () => {
    const sources = parseOneLineSources('deb http://mirror.example.test/debian trixie main\ndeb http://mirror.example.test/debian trixie-updates main\n');
    const picked = pickDebianMirrors(sources, 'trixie', 'bookworm');
    expect(picked.hostSources.map((s) => s.suites)).toEqual([['bookworm'], ['bookworm-updates']]);
  });

  it('refuses when no plain-http Debian archive exists (apt-cacher-ng cannot cache https)', () => {
    const sources = parseOneLineSources('deb https://mirror.example.test/debian bookworm main\n');
    expect(() => pickDebianMirrors(sources, 'bookworm', 'bookworm')).toThrow(HapgError);
    expect(() => pickDebianMirrors(sources, 'bookworm', 'bookworm')).toThrow(/no http:\/\/ Debian mirror/);
  });
});

describe('renderDeb822', () => {
  it('parses back to the same entries', () => {
    const sources = pickDebianMirrors(parseDeb822Sources(DEBIAN_SOURCES), 'bookworm', 'bookworm').hostSources;
    expect(parseDeb822Sources(renderDeb822(sources))).toEqual(sources);
  });
});

describe('readMachineSources', () => {
  it('reads sources.list and *.sources / *.list but not disabled files', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hapg-apt-'));
    try {
      await mkdir(path.join(dir, 'sources.list.d'));
      await writeFile(path.join(dir, 'sources.list'), 'deb http://one.example.test/debian bookworm main\n');
      await writeFile(path.join(dir, 'sources.list.d', 'debian.sources'), DEBIAN_SOURCES);
      await writeFile(path.join(dir, 'sources.list.d', 'extra.list'), 'deb http://two.example.test/debian bookworm main\n');
      await writeFile(path.join(dir, 'sources.list.d', 'vendor.sources.disabled-by-admin'), THIRD_PARTY);
      const uris = (await readMachineSources(dir)).map((s) => s.uris[0]);
      expect(uris).toEqual([
        'http://one.example.test/debian',
        'http://mirror.example.test/debian',
        'http://mirror.example.test/debian-security',
        'http://two.example.test/debian',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseOsReleaseCodename', () => {
  it('reads VERSION_CODENAME', () => {
    expect(parseOsReleaseCodename('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n')).toBe('bookworm');
    expect(parseOsReleaseCodename('ID=alpine\n')).toBeUndefined();
  });
});
