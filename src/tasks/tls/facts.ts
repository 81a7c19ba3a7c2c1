// What a host holds of its TLS material: each certificate (public), the public half of each
// key (the key itself is never read off the host), and the CA bundle it trusts.
import type { CommandFact } from '../../facts/fact.js';
import { CommandError } from '../../errors.js';
import { normalPublicKey, tryParseCertificates, type CertificateInfo } from '../../pki/x509.js';
import { CA_BUNDLE_PATH } from './model.js';

export interface HeldCertificate {
  /** undefined: no file; null: a file that holds no readable certificate. */
  cert: CertificateInfo | null | undefined;
  /** The key's public half (SPKI PEM); undefined: no key file; null: unreadable. */
  keyPublic: string | null | undefined;
}

export interface HostTls {
  /** By certificate path. */
  certificates: Map<string, HeldCertificate>;
  /** The CAs in the host's bundle (undefined: no bundle). */
  trusted: CertificateInfo[] | undefined;
  /** The bundle's text as it is ('' when absent). */
  trustedPem: string;
}

// Sections start with a line `==<what> <state> <path>`; the PEM follows.
const SCRIPT = [
  'bundle=$1; shift',
  'if [ -f "$bundle" ]; then echo "==bundle present"; cat "$bundle"; echo; else echo "==bundle absent"; fi',
  'while [ $# -ge 2 ]; do',
  '  if [ -f "$1" ]; then echo "==cert present $1"; cat "$1"; echo; else echo "==cert absent $1"; fi',
  '  if [ ! -f "$2" ]; then echo "==key absent $2"',
  '  elif pub=$(openssl pkey -in "$2" -pubout 2>/dev/null); then echo "==key present $2"; echo "$pub"',
  '  else echo "==key unreadable $2"; fi',
  '  shift 2',
  'done',
].join('\n');

/** The certificates at `pairs` ([certPath, keyPath]) and the CA bundle, in one round trip, as root. */
export function hostTls(pairs: readonly (readonly [string, string])[]): CommandFact<HostTls> {
  return {
    id: `tls:${pairs.map((p) => p.join('+')).join(',')}`,
    argv: ['sh', '-c', SCRIPT, 'sh', CA_BUNDLE_PATH, ...pairs.flat()],
    sudo: true,
    parse: (r) => {
      if (r.exitCode !== 0) throw new CommandError(r);
      return parseHostTls(r.stdout);
    },
  };
}

export function parseHostTls(stdout: string): HostTls {
  const certificates = new Map<string, HeldCertificate>();
  let trusted: CertificateInfo[] | undefined;
  let trustedPem = '';
  let lastCert: string | undefined;
  for (const section of stdout.split(/^==/m).filter((s) => s.trim() !== '')) {
    const newline = section.indexOf('\n');
    const [what, state] = (newline < 0 ? section : section.slice(0, newline)).trim().split(' ', 2) as [string, string];
    const path = (newline < 0 ? section : section.slice(0, newline)).trim().split(' ').slice(2).join(' ');
    const body = newline < 0 ? '' : section.slice(newline + 1).trim();
    if (what === 'bundle') {
      trustedPem = state === 'present' && body ? `${body}\n` : '';
      trusted = state === 'present' ? (tryParseCertificates(body) ?? []) : undefined;
    } else if (what === 'cert') {
      lastCert = path;
      certificates.set(path, { cert: state === 'present' ? (tryParseCertificates(body)?.[0] ?? null) : undefined, keyPublic: undefined });
    } else if (what === 'key' && lastCert !== undefined) {
      certificates.get(lastCert)!.keyPublic = state === 'absent' ? undefined : state === 'unreadable' ? null : (normalPublicKey(body) ?? null);
    }
  }
  return { certificates, trusted, trustedPem };
}
