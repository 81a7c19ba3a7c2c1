// How long each certificate hapg keeps on the hosts has left: `status` lists them and calls the
// cluster DEGRADED once one is inside the renewal window (`tls.renew_days`), which a deploy
// then renews.
import type { Session } from '../../run/session.js';
import { daysLeft } from '../../pki/x509.js';
import { hostTls } from './facts.js';
import { certificatesOn, tlsHosts } from './model.js';

export interface CertificateExpiry {
  host: string;
  service: string;
  /** ISO date the certificate ends; undefined: no readable certificate on the host. */
  notAfter: string | undefined;
  daysLeft: number | undefined;
}

/** Each certificate of every reachable TLS host, as the hosts hold them. */
export async function gatherCertificateExpiry(session: Session, now: Date = new Date()): Promise<CertificateExpiry[]> {
  const { inventory } = session.model;
  const perHost = await Promise.all(
    tlsHosts(inventory)
      .filter((host) => session.remotes.has(host))
      .map(async (host) => {
        const wanted = certificatesOn(inventory, host);
        if (wanted.length === 0) return [];
        const held = await session.facts.get(host, hostTls(wanted.map((c) => [c.certPath, c.keyPath] as const))).catch(() => undefined);
        return wanted.map((c): CertificateExpiry => {
          const cert = held?.certificates.get(c.certPath)?.cert ?? undefined;
          return { host, service: c.service, notAfter: cert ? cert.notAfter.toISOString() : undefined, daysLeft: cert ? daysLeft(cert, now) : undefined };
        });
      }),
  );
  return perHost.flat();
}

/** A certificate missing, expired, or inside the renewal window: what `status` reports as a problem. */
export function certificateProblems(certs: readonly CertificateExpiry[], renewDays: number): string[] {
  return certs.flatMap((c) => {
    const what = `${c.service} certificate on ${c.host}`;
    if (c.daysLeft === undefined) return [`${what} is missing or unreadable (deploy issues it)`];
    if (c.daysLeft < 0) return [`${what} expired on ${c.notAfter!.slice(0, 10)} (deploy renews it)`];
    if (c.daysLeft <= renewDays) return [`${what} expires in ${c.daysLeft} day${c.daysLeft === 1 ? '' : 's'}, within the renewal window of ${renewDays} days (deploy renews it)`];
    return [];
  });
}
