import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { prepareCa, tlsFiles } from '../../src/pki/ca.js';
import { assertOwnCa, forgetRetiringCa, phaseOf, promoteNextCa, retirePreviousCa, rotationPhase, rotationSteps, stageNextCa } from '../../src/pki/rotation.js';
import { parseCertificates, type CertificateInfo } from '../../src/pki/x509.js';
import type { ServiceState } from '../../src/facts/services.js';
import { etcdNeedsRestart, planHostTls } from '../../src/tasks/tls/plan.js';
import { certificatesOn } from '../../src/tasks/tls/model.js';
import type { PlanItem } from '../../src/run/steps.js';

const inventoryText = (extra = '') => `hosts:
  pg1: { address: 192.0.2.11 }
  pg2: { address: 192.0.2.12 }
  pg3: { address: 192.0.2.13 }
etcd:
  dc1: { hosts: [pg1, pg2, pg3] }
clusters:
  main:
    hosts: [pg1, pg2, pg3]
    haproxy: { hosts: [pg1, pg2, pg3] }
${extra}`;

async function freshInventory() {
  const dir = await mkdtemp(path.join(tmpdir(), 'hapg-rotate-'));
  const file = path.join(dir, 'inventory.yml');
  await writeFile(file, inventoryText());
  const loaded = parseInventory(inventoryText(), file);
  const made = await prepareCa(loaded, { createMissing: true });
  await made.persist();
  return { loaded, files: tlsFiles(loaded), first: made.ca.signer };
}

const fingerprints = (pem: string) => parseCertificates(pem).map((c) => c.fingerprint256);
const exists = (file: string) => stat(file).then(() => true, () => false);

describe('where a CA rotation stands, from its files', () => {
  it.each([
    [{ next: false, previous: false }, 'none'],
    [{ next: true, previous: false }, 'trust'],
    [{ next: true, previous: true }, 'takeover'],
    [{ next: false, previous: true }, 'reissue'],
    [{ next: false, previous: false, retiring: true }, 'retire'],
  ] as const)('%j is %s', (present, phase) => {
    expect(phaseOf(present)).toBe(phase);
  });

  it('--dry-run words: all three phases from the start, only what is left when resumed', () => {
    expect(rotationSteps('none')).toHaveLength(5);
    expect(rotationSteps('reissue').map((s) => s.slice(0, 8))).toEqual(['phase 2:', 'phase 3:']);
    expect(rotationSteps('retire').map((s) => s.slice(0, 8))).toEqual(['phase 3:']);
  });

  it('an inventory CA (tls.ca.file) is refused in one line: its owner rotates it', () => {
    const loaded = parseInventory(`${inventoryText()}tls:\n  ca: { file: their-ca.crt }\n`, '/tmp/x/inventory.yml');
    expect(() => assertOwnCa(loaded)).toThrow(/^tls\.ca\.file: the inventory brings its own CA \(their-ca\.crt\); hapg rotates only the CA it made/);
  });
});

describe('the CA files through a rotation (real openssl, temporary directory)', () => {
  it('phase 1 trusts old+new with the old signing; phase 2 the same bundle with the new signing; phase 3 the new alone', async () => {
    const { loaded, files, first } = await freshInventory();
    expect(await rotationPhase(loaded)).toBe('none');

    await stageNextCa(loaded);
    expect(await rotationPhase(loaded)).toBe('trust');
    expect((await stat(files.nextCaKey)).mode & 0o777).toBe(0o600);
    const next = await readFile(files.nextCaCert, 'utf8');
    const trusting = (await prepareCa(loaded, { createMissing: false })).ca;
    expect(trusting.signer).toBe(first);
    expect(fingerprints(trusting.trust)).toEqual([...fingerprints(first), ...fingerprints(next)]);

    await promoteNextCa(loaded);
    expect(await rotationPhase(loaded)).toBe('reissue');
    const reissuing = (await prepareCa(loaded, { createMissing: false })).ca;
    expect(reissuing.signer).toBe(next);
    // The same bundle text as in phase 1: hosts see no change between the two phases.
    expect(reissuing.trust).toBe(trusting.trust);
    expect((await stat(files.caKey)).mode & 0o777).toBe(0o600);
    expect(await exists(files.nextCaKey)).toBe(false);

    await retirePreviousCa(loaded);
    expect(await rotationPhase(loaded)).toBe('retire');
    const retiring = (await prepareCa(loaded, { createMissing: false })).ca;
    expect(retiring.trust.trim()).toBe(next.trim());

    await forgetRetiringCa(loaded);
    expect(await rotationPhase(loaded)).toBe('none');
    expect((await prepareCa(loaded, { createMissing: false })).ca.trust.trim()).toBe(next.trim());
  });

  it('killed while the new CA took over: deploy refuses in one line, a second promotion ends in the same files', async () => {
    const { loaded, files, first } = await freshInventory();
    await stageNextCa(loaded);
    const next = await readFile(files.nextCaCert, 'utf8');
    // The previous CA was written, then the run died before the new CA replaced ca.crt/ca.key.
    await writeFile(files.previousCaCert, first);
    expect(await rotationPhase(loaded)).toBe('takeover');
    await expect(prepareCa(loaded, { createMissing: false })).rejects.toThrow(/a CA rotation was interrupted .*run `hapg certs rotate-ca` to finish it; nothing was changed/);
    await promoteNextCa(loaded);
    const ca = (await prepareCa(loaded, { createMissing: false })).ca;
    expect(ca.signer).toBe(next);
    expect(fingerprints(ca.trust)).toEqual([...fingerprints(first), ...fingerprints(next)]);
    expect(ca.key?.reveal()).toMatch(/PRIVATE KEY/);
    // The key never shows in what is printed about the CA.
    expect(JSON.stringify({ ...ca, key: ca.key })).not.toMatch(/PRIVATE KEY/);
  });
});

describe('a changed CA bundle on running hosts', () => {
  const inventory = parseInventory(inventoryText(), 'inv.yml').inventory;
  const signer = { fingerprint256: 'NEW', x509: {} } as CertificateInfo;
  const held = (issued: boolean) => ({
    cert: { sans: certificatesOn(inventory, 'pg1')[0]!.sans, notAfter: new Date(Date.now() + 300 * 86_400_000), publicKey: 'PUB', x509: { checkIssued: () => issued, verify: () => issued, issuer: 'O=hapg' } } as unknown as CertificateInfo,
    keyPublic: 'PUB',
  });
  const certs = (issued: boolean) => new Map(certificatesOn(inventory, 'pg1').map((c) => [c.certPath, { ...held(issued), cert: { ...held(issued).cert, sans: c.sans } as CertificateInfo }]));
  const running = new Map<string, ServiceState>(['etcd', 'haproxy', 'patroni'].map((n) => [n, { active: 'active', enabled: 'enabled' } as ServiceState]));
  const ca = { signer: 'NEW', signerInfo: signer, key: undefined, trust: 'OLD\nNEW\n', trustInfo: [], certPath: 'ca.crt', keyPath: 'ca.key', source: 'hapg' as const };
  const titles = (items: PlanItem[]) => items.map((i) => (i.kind === 'noop' ? `noop: ${i.reason}` : i.kind === 'service' ? `${i.kind} ${i.name} ${i.state}` : `${i.kind} ${i.title}`));

  it('phase 1 (and 3): the bundle is written, Patroni and HAProxy reloaded, etcd restarted by the stage; no certificate changes', () => {
    const facts = { tls: { certificates: certs(true), trusted: [], trustedPem: 'OLD\n' }, services: running };
    expect(titles(planHostTls(inventory, 'pg1', ca, facts))).toEqual([
      'file write /etc/hapg/tls/ca.crt (the CAs this host trusts)',
      'service patroni reloaded',
      'service haproxy reloaded',
    ]);
    expect(etcdNeedsRestart(ca, facts)).toBe(true);
  });

  it('phase 2: same bundle, every certificate reissued, Patroni reloaded, no etcd restart', () => {
    const facts = { tls: { certificates: certs(false), trusted: [], trustedPem: 'OLD\nNEW\n' }, services: running };
    const items = titles(planHostTls(inventory, 'pg1', ca, facts));
    expect(items.filter((t) => t.startsWith('cert issue'))).toHaveLength(2);
    expect(items.filter((t) => t.startsWith('service'))).toEqual(['service patroni reloaded']);
    expect(etcdNeedsRestart(ca, facts)).toBe(false);
  });

  it('a host with no bundle yet (first deploy) restarts nothing', () => {
    const facts = { tls: { certificates: new Map(), trusted: undefined, trustedPem: '' }, services: running };
    expect(etcdNeedsRestart(ca, facts)).toBe(false);
  });
});
