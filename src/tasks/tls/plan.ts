import type { ServiceState } from '../../facts/services.js';
import type { Inventory } from '../../inventory/schema.js';
import type { LocalCa } from '../../pki/ca.js';
import { signCsr } from '../../pki/sign.js';
import { daysLeft, issuedBy, sanText, type CertificateInfo } from '../../pki/x509.js';
import { file, noop, service, type CertStep, type PlanItem } from '../../run/steps.js';
import type { HeldCertificate, HostTls } from './facts.js';
import { CA_BUNDLE_PATH, certificatesOn, type ServiceCertificate } from './model.js';

/** Why a certificate is issued anew, or undefined when the one on the host is as wanted. */
export function reissueReason(want: ServiceCertificate, held: HeldCertificate | undefined, signer: CertificateInfo, renewDays: number, now: Date = new Date()): string | undefined {
  const cert = held?.cert;
  if (cert === undefined) return 'none yet';
  if (cert === null) return 'the file holds no readable certificate';
  if (held!.keyPublic === undefined) return 'its key is missing';
  if (held!.keyPublic === null) return 'its key is unreadable';
  if (held!.keyPublic !== cert.publicKey) return 'it does not match its key';
  if (!issuedBy(cert, [signer])) return `not issued by the current CA (issuer ${cert.x509.issuer.replace(/\n/g, ', ')})`;
  const have = new Set(cert.sans.map(sanText));
  const wanted = new Set(want.sans.map(sanText));
  const missing = [...wanted].filter((s) => !have.has(s));
  const extra = [...have].filter((s) => !wanted.has(s));
  if (missing.length || extra.length) return `its names changed (${[...missing.map((s) => `+${s}`), ...extra.map((s) => `-${s}`)].join(', ')})`;
  const left = daysLeft(cert, now);
  if (left <= renewDays) return left < 0 ? `it expired on ${day(cert.notAfter)}` : `it expires in ${left} day${left === 1 ? '' : 's'} (renewal window ${renewDays} days)`;
  return undefined;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** Subject of the certificates hapg issues: no Common Name (etcd's gateway refuses client certificates with one). */
export const certificateSubject = (service: string) => `/O=hapg/OU=${service}`;

/** The step that issues a certificate for the key on the host, signed here by `ca`. */
export function issueStep(want: ServiceCertificate, ca: LocalCa, days: number, reason: string): CertStep {
  return {
    kind: 'cert',
    host: want.host,
    title: `issue ${want.certPath} (${reason}): ${want.sans.map(sanText).join(', ')}; ${days} days; key made and kept on ${want.host}`,
    keyPath: want.keyPath,
    certPath: want.certPath,
    keyOwner: want.owner,
    subject: certificateSubject(want.service),
    sign: (csr) => signCsr(ca, csr, { label: `${want.host} ${want.service}`, sans: want.sans, days, usage: 'server-and-client' }),
  };
}

export interface HostTlsFacts {
  tls: HostTls;
  services: ReadonlyMap<string, ServiceState>;
}

/**
 * One host's TLS material: the CA bundle, then each certificate that is missing, about to
 * expire, names other hosts or addresses than the inventory's, or was issued by another CA.
 * A running Patroni whose certificate or bundle changed is reloaded: PostgreSQL re-reads its
 * certificate and CA file on reload and Patroni its REST API's, so nothing restarts. A running
 * HAProxy whose bundle changed is reloaded (it reads the CA file its checks verify with at
 * start). etcd reads its certificate at every new connection, but its CA bundle only at start:
 * etcdNeedsRestart says when the stage restarts it (one member at a time).
 */
export function planHostTls(inventory: Inventory, host: string, ca: LocalCa, facts: HostTlsFacts, now: Date = new Date()): PlanItem[] {
  const items: PlanItem[] = [];
  const bundleChanged = bundleChanges(ca, facts);
  if (bundleChanged) items.push(file(host, CA_BUNDLE_PATH, ca.trust, { title: `write ${CA_BUNDLE_PATH} (the CAs this host trusts)` }));
  const renewed: string[] = [];
  for (const want of certificatesOn(inventory, host)) {
    const reason = reissueReason(want, facts.tls.certificates.get(want.certPath), ca.signerInfo, inventory.tls.renew_days, now);
    if (reason) {
      items.push(issueStep(want, ca, inventory.tls.validity_days, reason));
      renewed.push(want.service);
    }
  }
  const running = (name: string) => facts.services.get(name)?.active === 'active';
  if ((renewed.includes('postgres') || bundleChanged) && running('patroni')) items.push({ ...service(host, 'patroni', 'reloaded'), title: 'reload patroni' });
  if (bundleChanged && running('haproxy')) items.push({ ...service(host, 'haproxy', 'reloaded'), title: 'reload haproxy (its checks verify with the new bundle)' });
  return items.length ? items : [noop(host, 'certificates valid, CA bundle as wanted')];
}

/** Whether the host's CA bundle is not the run's (written anew by planHostTls). */
export function bundleChanges(ca: Pick<LocalCa, 'trust'>, facts: Pick<HostTlsFacts, 'tls'>): boolean {
  return facts.tls.trustedPem !== ca.trust;
}

/** Whether a running etcd member must restart to read a changed CA bundle (its peers' and clients' certificates are verified with it). */
export function etcdNeedsRestart(ca: Pick<LocalCa, 'trust'>, facts: HostTlsFacts): boolean {
  return facts.tls.trustedPem !== '' && bundleChanges(ca, facts) && facts.services.get('etcd')?.active === 'active';
}
