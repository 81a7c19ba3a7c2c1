import { isIP } from 'node:net';
import { z } from 'zod';
import { aptUrlProblem, normalisedAptUrl } from './apt-url.js';
import { dataDirectoryProblem, devicePathProblem } from './host-paths.js';
import { quote } from './quote.js';
import { describeChar, firstControlChar } from './text.js';

export { describeType, quote } from './quote.js';

// Value types shared by the inventory schema. Each carries its own operator-facing message,
// so a zod issue can be printed as is after the path.

const NAME_RE = /^[a-z][a-z0-9_-]{0,62}$/;
const DNS_LABEL_RE = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PG_IDENTIFIER_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const SLOT_NAME_RE = /^[a-z0-9_]{1,63}$/;

/** Host, etcd and cluster names: they become Patroni/etcd member names and systemd unit instances. */
export const Name = z
  .string({ error: 'must be a name (a string)' })
  .regex(NAME_RE, 'must start with a lowercase letter and contain only a-z, 0-9, "-" and "_" (at most 63 characters)');

/** True for a DNS name made of valid labels (not an IP address). */
export function isDnsName(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.endsWith('.') ? value.slice(0, -1).split('.') : value.split('.');
  if (!labels.every((label) => DNS_LABEL_RE.test(label))) return false;
  // A dotted all-numeric string is a malformed IPv4 address, not a name.
  return !labels.every((label) => /^\d+$/.test(label));
}

/**
 * Why `value` cannot be a host's address, or undefined. An IPv6 zone (`fe80::1%eth0`) names
 * a link of one machine: other hosts cannot reach it, and URLs and configs cannot carry it.
 */
function zoneProblem(value: string): string | undefined {
  if (isIP(value) === 6 && value.includes('%')) {
    return `${quote(value)} has an IPv6 zone (${value.slice(value.indexOf('%'))}): use an address other hosts can reach, not a link-local one`;
  }
  return undefined;
}

/** IPv4, IPv6 or DNS name of a host. */
export const Address = z
  .string({ error: 'must be an IP address or a DNS name' })
  .refine((v) => isIP(v) !== 0 || isDnsName(v), {
    error: (iss) => `${quote(iss.input)} is not an IP address or a DNS name`,
  })
  .superRefine(reportProblem(zoneProblem));

/** An IP address only: keepalived cannot float a DNS name. */
export const IpAddress = z
  .string({ error: 'must be an IP address' })
  .refine((v) => isIP(v) !== 0, { error: (iss) => `${quote(iss.input)} is not an IPv4 or IPv6 address` })
  .superRefine(reportProblem(zoneProblem));

const PORT_MESSAGE = 'must be a port number from 1 to 65535';
/** TCP port. */
export const Port = z.int({ error: PORT_MESSAGE }).min(1, PORT_MESSAGE).max(65535, PORT_MESSAGE);

/** A refinement that reports the problem `problemOf` names (undefined: no problem) as the message. */
function reportProblem(problemOf: (value: string) => string | undefined) {
  return (value: string, ctx: z.core.$RefinementCtx<string>) => {
    const problem = problemOf(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value });
  };
}

/**
 * A string that `problemOf` accepts. The problem it names is the message, so each rule
 * explains itself (a zod regex could only say "invalid").
 */
export function checkedString(error: string, problemOf: (value: string) => string | undefined) {
  return z.string({ error }).superRefine(reportProblem(problemOf));
}

/** PostgreSQL's data directory on a managed host: a tree of its own, whose parent hapg gives to postgres. */
export const PostgresDataDirectory = checkedString('must be an absolute path', (path) => dataDirectoryProblem(path, 'postgres-owned'));

/** Another data directory on a managed host (WAL, etcd data): a tree of its own. */
export const DataDirectory = checkedString('must be an absolute path', (path) => dataDirectoryProblem(path, 'own-tree'));

/** A device on a managed host (the watchdog). */
export const DevicePath = checkedString('must be a device path such as /dev/watchdog', devicePathProblem);

/** A path on the control machine; relative paths are relative to the inventory's directory. */
export const LocalPath = checkedString('must be a file path', (path) => {
  if (path === '') return 'must be a file path';
  const control = firstControlChar(path);
  return control === undefined ? undefined : `${quote(path)} contains ${describeChar(control)}: write the file's path on one line`;
});

/**
 * http(s) URL of the apt proxy or mirror. Its output is the normalised URL, so what apt is
 * given is exactly what was checked.
 */
export const AptUrl = checkedString('must be an http:// or https:// URL', aptUrlProblem).transform(normalisedAptUrl);

/** Seconds as a positive integer. */
export function seconds(max: number) {
  const message = `must be a whole number of seconds from 1 to ${max}`;
  return z.int({ error: message }).min(1, message).max(max, message);
}

/** PostgreSQL role or database name (lowercase identifier, no quoting needed anywhere). */
export const PgIdentifier = z
  .string({ error: 'must be a name' })
  .regex(PG_IDENTIFIER_RE, 'must be a lowercase PostgreSQL identifier: a-z, 0-9 and "_", not starting with a digit (at most 63 characters)')
  .refine((v) => !v.startsWith('pg_'), { error: 'names starting with "pg_" are reserved by PostgreSQL' });

/** Replication slot name (PostgreSQL allows lowercase letters, digits and "_"). */
export const SlotName = z
  .string({ error: 'must be a replication slot name' })
  .regex(SLOT_NAME_RE, 'must contain only a-z, 0-9 and "_" (at most 63 characters): PostgreSQL slot names allow nothing else');

const SECRET_REF_MESSAGE = 'must be a secret reference: { env: NAME }, { file: PATH } or { generate: true }';

/**
 * Where a password comes from. Omitted means `{ generate: true }`: hapg creates it on the
 * first deploy and keeps it in the secrets file.
 */
export const SecretRef = z.union(
  [
    z.strictObject({ env: z.string().regex(ENV_NAME_RE, 'must be an environment variable name such as HAPG_APP_PASSWORD') }),
    z.strictObject({ file: LocalPath }),
    z.strictObject({ generate: z.literal(true) }),
  ],
  { error: SECRET_REF_MESSAGE },
);
export type SecretRef = z.infer<typeof SecretRef>;

/** The default secret reference: generated on first deploy. */
export function generated(): { generate: true } {
  return { generate: true };
}
