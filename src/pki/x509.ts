// Reading certificates: node's X509Certificate does the parsing (no hand-rolled ASN.1).
import { createPublicKey, X509Certificate } from 'node:crypto';

/** A Subject Alternative Name as hapg writes them. */
export interface San {
  kind: 'DNS' | 'IP';
  value: string;
}

/** `DNS:pg1` / `IP:10.0.0.1`: the spelling openssl's subjectAltName takes and plans show. */
export const sanText = (san: San) => `${san.kind}:${san.value}`;

/** What hapg reads from a certificate. */
export interface CertificateInfo {
  subject: string;
  /** The subject's Common Name ('' when none). */
  commonName: string;
  sans: San[];
  notBefore: Date;
  notAfter: Date;
  serial: string;
  fingerprint256: string;
  isCa: boolean;
  /** The public key in SPKI PEM: compared with the key file's. */
  publicKey: string;
  x509: X509Certificate;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, in order; malformed blocks raise. */
export function parseCertificates(pem: string): CertificateInfo[] {
  return (pem.match(PEM_BLOCK) ?? []).map((block) => certificateInfo(new X509Certificate(block)));
}

/** The certificates of a PEM bundle, or undefined when it holds none or cannot be parsed. */
export function tryParseCertificates(pem: string): CertificateInfo[] | undefined {
  try {
    const certs = parseCertificates(pem);
    return certs.length > 0 ? certs : undefined;
  } catch {
    return undefined;
  }
}

export function certificateInfo(x509: X509Certificate): CertificateInfo {
  return {
    subject: x509.subject,
    commonName: /^CN=(.*)$/m.exec(x509.subject)?.[1] ?? '',
    sans: parseSans(x509.subjectAltName),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    serial: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    isCa: x509.ca,
    publicKey: x509.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    x509,
  };
}

/** node's subjectAltName string (`DNS:a, IP Address:10.0.0.1`) as SANs. */
export function parseSans(text: string | undefined): San[] {
  if (!text) return [];
  return text
    .split(/,\s*/)
    .map((part) => {
      const dns = /^DNS:(.+)$/.exec(part);
      if (dns) return { kind: 'DNS' as const, value: dns[1]! };
      const ip = /^IP Address:(.+)$/.exec(part);
      if (ip) return { kind: 'IP' as const, value: ip[1]!.toLowerCase() };
      return undefined;
    })
    .filter((s): s is San => s !== undefined);
}

/** A public key (any PEM form openssl prints) in one spelling, for comparison. */
export function normalPublicKey(pem: string): string | undefined {
  try {
    return createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    return undefined;
  }
}

/** Whether `cert` was issued and signed by one of `cas`. */
export function issuedBy(cert: CertificateInfo, cas: readonly CertificateInfo[]): boolean {
  return cas.some((ca) => cert.x509.checkIssued(ca.x509) && cert.x509.verify(ca.x509.publicKey));
}

/** SANs wanted but missing from the certificate. */
export function missingSans(cert: CertificateInfo, wanted: readonly San[]): San[] {
  const have = new Set(cert.sans.map(sanText));
  return wanted.filter((s) => !have.has(sanText(s)));
}

/** Whole days from `now` until the certificate expires (negative once expired). */
export function daysLeft(cert: Pick<CertificateInfo, 'notAfter'>, now: Date = new Date()): number {
  return Math.floor((cert.notAfter.getTime() - now.getTime()) / 86_400_000);
}
