// Signing with a CA on the operator's machine: host certificates from CSRs made on the hosts,
// and hapg's own client certificate. The CA key never leaves this machine.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HapgError } from '../errors.js';
import { openssl } from './openssl.js';
import type { LocalCa } from './ca.js';
import { parseCertificates, sanText, type San } from './x509.js';

/** What a certificate is for: a service on a host (server and client), or a client only. */
export interface CertificateRequest {
  /** For messages: `pg1 etcd`. */
  label: string;
  sans: readonly San[];
  days: number;
  usage: 'server-and-client' | 'client';
}

/** A positive 127-bit serial in hex, as openssl's -set_serial takes it. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

/** The X.509 v3 extensions of a certificate hapg issues (openssl extfile syntax). */
export function certificateExtensions(req: Pick<CertificateRequest, 'sans' | 'usage'>): string {
  return [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    `extendedKeyUsage = ${req.usage === 'client' ? 'clientAuth' : 'serverAuth, clientAuth'}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...(req.sans.length ? [`subjectAltName = ${req.sans.map(sanText).join(', ')}`] : []),
    '',
  ].join('\n');
}

/**
 * Signs a CSR with the CA: the subject comes from the CSR, everything else (SANs, usage,
 * validity) from hapg, never from the CSR. Refuses a result with a Common Name: etcd's
 * gateway rejects client certificates that carry one once authentication is on.
 */
export async function signCsr(ca: LocalCa, csrPem: string, req: CertificateRequest): Promise<string> {
  const key = ca.key;
  if (!key) throw new HapgError('INTERNAL', `no CA key to sign ${req.label}'s certificate with`);
  if (!/-----BEGIN CERTIFICATE REQUEST-----/.test(csrPem)) throw new HapgError('COMMAND_FAILED', `${req.label}: the host returned no certificate request`);
  const run = await openssl(
    (dir) => [
      'x509', '-req', '-in', path.join(dir, 'req.csr'),
      '-CA', path.join(dir, 'ca.crt'), '-CAkey', path.join(dir, 'ca.key'),
      '-set_serial', randomSerial(), '-days', String(req.days), '-sha256',
      '-extfile', path.join(dir, 'ext.cnf'), '-out', path.join(dir, 'out.crt'),
    ],
    { 'req.csr': csrPem, 'ca.crt': ca.signer, 'ca.key': key.reveal(), 'ext.cnf': certificateExtensions(req) },
    `signing the certificate of ${req.label}`,
  );
  try {
    const pem = await readFile(path.join(run.dir, 'out.crt'), 'utf8');
    const [cert] = parseCertificates(pem);
    if (!cert) throw new HapgError('COMMAND_FAILED', `signing the certificate of ${req.label}: openssl wrote no certificate`);
    if (cert.commonName) throw new HapgError('UNSAFE_OPERATION', `${req.label}: the certificate request names Common Name "${cert.commonName}": hapg issues certificates without one`);
    return pem;
  } finally {
    await run.cleanup();
  }
}

/** A new P-256 key and a CSR for it, made on this machine (hapg's own client certificate). */
export async function localKeyAndCsr(subject: string): Promise<{ key: string; csr: string }> {
  const run = await openssl(
    (dir) => ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-subj', subject, '-out', path.join(dir, 'req.csr')],
    {},
    'creating hapg\'s client key',
  );
  try {
    return { key: await readFile(path.join(run.dir, 'key.pem'), 'utf8'), csr: await readFile(path.join(run.dir, 'req.csr'), 'utf8') };
  } finally {
    await run.cleanup();
  }
}
