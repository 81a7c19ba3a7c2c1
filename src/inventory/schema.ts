import { z } from 'zod';
import { finishInventory } from './finish.js';
import { callbackProblem, parameterValueProblem, restoreCommandProblem } from './host-commands.js';
import {
  Address,
  AptUrl,
  checkedString,
  DataDirectory,
  DevicePath,
  generated,
  IpAddress,
  LocalPath,
  Name,
  PgIdentifier,
  Port,
  PostgresDataDirectory,
  SecretRef,
  seconds,
  SlotName,
} from './primitives.js';

// The one definition of the inventory. Field defaults live here; defaults that depend on
// other fields (leader, data_dir, haproxy hosts, etcd cluster, standby slot) and the checks
// across fields run in `finishInventory`, so `Inventory` is complete and consistent.

const BOOL = { error: 'must be true or false' };
const bool = (value: boolean) => z.boolean(BOOL).default(value);

const UnixUser = z
  .string({ error: 'must be a user name' })
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Unix user name (lowercase letters, digits, "-", "_")');

const Bastion = z
  .strictObject({
    address: Address.describe('Jump host address'),
    port: Port.default(22),
    user: UnixUser.optional().describe('Login user on the jump host (default: ssh.user)'),
    identity_files: z.array(LocalPath).optional().describe('Keys for the jump host (default: ssh.identity_files)'),
  })
  .describe('Jump host every connection goes through');

const sshFields = {
  user: UnixUser.describe('Login user; a non-root user needs passwordless sudo'),
  port: Port.describe('SSH port'),
  identity_files: z.array(LocalPath, { error: 'must be a list of key files' }).describe('Private keys to try, in order (~ and paths relative to the inventory work)'),
  agent: z.boolean(BOOL).describe('Also try keys from the agent at $SSH_AUTH_SOCK'),
  known_hosts: LocalPath.describe('known_hosts file that verifies host keys'),
  connect_timeout: seconds(300).describe('Connect timeout in seconds'),
  sudo: z.boolean(BOOL).describe('Run privileged commands through sudo -n (default: true unless user is root)'),
  bastion: Bastion,
};

const SshSettings = z
  .strictObject({
    user: sshFields.user.default('root'),
    port: sshFields.port.default(22),
    identity_files: sshFields.identity_files.default(['~/.ssh/id_ed25519']),
    agent: sshFields.agent.default(false),
    known_hosts: sshFields.known_hosts.default('~/.ssh/known_hosts'),
    connect_timeout: sshFields.connect_timeout.default(10),
    sudo: sshFields.sudo.optional(),
    bastion: sshFields.bastion.optional(),
  })
  .describe('How hapg reaches the hosts; each key can be overridden per host');

const SshOverrides = z
  .strictObject({
    user: sshFields.user.optional(),
    port: sshFields.port.optional(),
    identity_files: sshFields.identity_files.optional(),
    agent: sshFields.agent.optional(),
    known_hosts: sshFields.known_hosts.optional(),
    connect_timeout: sshFields.connect_timeout.optional(),
    sudo: sshFields.sudo.optional(),
    bastion: sshFields.bastion.optional(),
  })
  .describe('Per-host overrides of the top-level ssh settings');

const PatroniTags = z
  .strictObject({
    nofailover: bool(false).describe('Never promote this member'),
    noloadbalance: bool(false).describe('Keep this member out of read-only load balancing'),
    clonefrom: bool(false).describe('Prefer this member as the source of new replicas'),
    nosync: z
      .boolean(BOOL)
      .optional()
      .describe('Never pick this member as the synchronous standby. Default: the value of nofailover (a member that may never lead is no use as the synchronous standby: with synchronous_mode Patroni only fails over to it)'),
    replicatefrom: Name.optional().describe('Cascade: stream from this member instead of the leader'),
  })
  .describe('Patroni tags of the member on this host');

/** A certificate and its private key, ready-made (kept on the operator's machine). */
const ReadyCertificate = z
  .strictObject({
    cert_file: LocalPath.describe('PEM certificate, signed by tls.ca'),
    key_file: LocalPath.describe('Its PEM private key (mode 0600 on this machine; never printed)'),
  })
  .describe('A ready certificate instead of one hapg issues');

const HostSchema = z.strictObject({
  address: Address.describe('IP address or DNS name hapg connects to and the services advertise'),
  datacenter: Name.default('dc1').describe('Datacenter of the host; picks the etcd cluster of a cluster'),
  ssh: SshOverrides.optional(),
  tags: PatroniTags.prefault({}),
});

const days = (max: number) =>
  z.int({ error: 'must be a whole number of days' }).min(1, 'must be at least 1 day').max(max, `must be at most ${max} days`);

const TlsSchema = z
  .strictObject({
    ca: z
      .strictObject({
        file: LocalPath.describe('PEM certificate of the CA every host trusts'),
        key_file: LocalPath.optional().describe('Its private key: hapg signs the hosts\' certificates with it (required while TLS is on: ready host certificates are not supported yet)'),
      })
      .optional()
      .describe("An existing CA; omitted: hapg creates one next to the secrets file (.hapg/<inventory>.ca.crt, key .ca.key, mode 0600)"),
    client: ReadyCertificate.optional().describe("hapg's own etcd client certificate (no Common Name, signed by tls.ca) instead of one hapg issues"),
    validity_days: days(3650).default(365).describe('Validity of the certificates hapg issues'),
    renew_days: days(3650).default(30).describe('deploy renews a certificate that expires within this many days'),
    warning_days: days(3650).default(30).describe('status reports DEGRADED when a certificate expires within this many days'),
  })
  .describe('TLS: the CA, and how long certificates live; used by every cluster that does not set clusters.<name>.tls: false');

const PackagesSchema = z
  .strictObject({
    apt_proxy: AptUrl.optional().describe('apt proxy (apt-cacher-ng, squid)'),
    mirror: AptUrl.optional().describe('Debian mirror replacing the default sources'),
  })
  .describe('Where hosts get their packages; leave out for the distribution defaults');

const EtcdSchema = z.strictObject({
  hosts: z.array(Name, { error: 'must be a list of host names' }).min(1, 'must list at least one host').describe('Members (host names)'),
  client_port: Port.default(2379),
  peer_port: Port.default(2380),
  data_dir: DataDirectory.optional().describe('Data directory (default /var/lib/etcd/<name>)'),
  secrets: z
    .strictObject({
      root: SecretRef.default(generated).describe("Password of etcd's root user (authentication on): hapg's own requests log in as root"),
    })
    .prefault({})
    .describe("Passwords of this etcd cluster's users; omitted ones are generated"),
});

const HBA_TYPES = ['local', 'host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc'] as const;
const HBA_METHODS = ['trust', 'reject', 'scram-sha-256', 'md5', 'password', 'gss', 'sspi', 'ident', 'peer', 'ldap', 'radius', 'cert', 'pam', 'bsd'] as const;
/** One field of a pg_hba line: no whitespace or control character (they would split or end the line), no quote or #. */
const HBA_FIELD = /^[^\s#"\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/u;
const HBA_FIELD_MESSAGE = 'must not contain spaces, control characters, quotes or # (each pg_hba entry is one line)';

const HbaEntry = z.strictObject({
  type: z.enum(HBA_TYPES, { error: `must be one of ${HBA_TYPES.join(', ')}` }),
  database: z.string({ error: 'must be a database name, a list like db1,db2, or all' }).regex(HBA_FIELD, HBA_FIELD_MESSAGE),
  user: z.string({ error: 'must be a role name, a list like a,b, +group or all' }).regex(HBA_FIELD, HBA_FIELD_MESSAGE),
  address: z.string({ error: 'must be an address like 192.0.2.0/24' }).optional().describe('CIDR, host name, samehost, samenet or all; not for type local'),
  method: z.enum(HBA_METHODS, { error: `must be one of ${HBA_METHODS.join(', ')}` }),
  allow_trust: z
    .boolean(BOOL)
    .optional()
    .describe('Accept method trust from the network: anyone who reaches the address logs in without a password'),
});

const ROLE_OPTIONS = [
  'LOGIN', 'NOLOGIN', 'CREATEDB', 'NOCREATEDB', 'CREATEROLE', 'NOCREATEROLE', 'INHERIT', 'NOINHERIT',
  'REPLICATION', 'NOREPLICATION', 'BYPASSRLS', 'NOBYPASSRLS', 'SUPERUSER', 'NOSUPERUSER',
] as const;

const UserSchema = z.strictObject({
  password: SecretRef.default(generated).describe('Secret reference; omitted: generated'),
  options: z.array(z.enum(ROLE_OPTIONS, { error: `must be one of ${ROLE_OPTIONS.join(', ')}` })).default(['LOGIN']),
});

const DatabaseSchema = z.strictObject({
  owner: PgIdentifier.describe('Owner role (one of postgres.users, or postgres)'),
  extensions: z
    .array(z.string({ error: 'must be an extension name' }).regex(/^[a-z0-9_-]+$/, 'must be an extension name: a-z, 0-9, "_" and "-"'), {
      error: 'must be a list of extension names',
    })
    .default([])
    .describe('CREATE EXTENSION IF NOT EXISTS in this database'),
});

const PARAMETER_NAME = /^[a-z_][a-z0-9_.]*$/;
/** Directives, not parameters: Patroni would write `include = '…'` and PostgreSQL would read that file. */
const CONF_DIRECTIVES = ['include', 'include_dir', 'include_if_exists'];

/** A postgresql.conf value: Patroni quotes and escapes it, but a line break would still end its line. */
const ParameterValue = z.union([checkedString('must be a string', parameterValueProblem), z.number(), z.boolean()], {
  error: 'must be a string, a number or true/false',
});

const PostgresSchema = z.strictObject({
  version: z
    .int({ error: 'must be a PostgreSQL major version such as 17' })
    .min(12, 'must be 12 or later')
    .max(18, 'must be 18 or earlier')
    .default(17)
    .describe("PostgreSQL major: what the hosts' Debian release ships (Debian 13: 17, Debian 12: 15)"),
  port: Port.default(5432),
  data_dir: PostgresDataDirectory.optional().describe('Default /var/lib/postgresql/<version>/<cluster>'),
  wal_dir: DataDirectory.optional().describe('pg_wal on another disk (initdb --waldir)'),
  parameters: z
    .record(
      z
        .string()
        .regex(PARAMETER_NAME, 'is not a PostgreSQL parameter name')
        .refine((name) => !CONF_DIRECTIVES.includes(name), { error: 'include, include_dir and include_if_exists are postgresql.conf directives, not parameters' }),
      ParameterValue,
    )
    .default({})
    .describe('postgresql.conf parameters (Patroni bootstrap.dcs.postgresql.parameters)'),
  hba: z.array(HbaEntry).default([]).describe('pg_hba entries added after the ones hapg needs'),
  users: z.record(PgIdentifier, UserSchema).default({}).describe('Application roles'),
  databases: z.record(PgIdentifier, DatabaseSchema).default({}).describe('Application databases'),
});

const PermanentSlot = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('physical') }),
    z.strictObject({
      type: z.literal('logical'),
      database: PgIdentifier,
      plugin: z.string({ error: 'must be an output plugin such as pgoutput' }).regex(/^[a-z0-9_]+$/, 'must be an output plugin name such as pgoutput'),
    }),
  ],
  { error: 'must be "physical" or "logical"' },
);

const CALLBACK = checkedString('must be a command starting with an absolute path', callbackProblem);

const PatroniSchema = z.strictObject({
  rest_api_port: Port.default(8008),
  ttl: seconds(3600).default(30).describe('Leader key TTL; ttl >= loop_wait + 2 * retry_timeout'),
  loop_wait: seconds(3600).default(10),
  retry_timeout: seconds(3600).default(10),
  maximum_lag_on_failover: z.int({ error: 'must be a number of bytes' }).min(0, 'must be 0 or more bytes').default(1048576),
  synchronous_mode: bool(false),
  synchronous_mode_strict: bool(false).describe('Refuse writes when no synchronous standby is available'),
  failsafe_mode: bool(false).describe('Keep the leader running while etcd is unreachable, as long as it reaches every other member over the REST API (Patroni >= 3.0)'),
  use_pg_rewind: bool(true),
  use_slots: bool(true),
  permanent_slots: z.record(SlotName, PermanentSlot).default({}).describe('Slots Patroni keeps on every member, across failovers'),
  watchdog: z
    .strictObject({
      mode: z.enum(['off', 'automatic', 'required'], { error: 'must be "off", "automatic" or "required"' }).default('off'),
      device: DevicePath.default('/dev/watchdog'),
    })
    .prefault({}),
  callbacks: z
    .strictObject({
      on_start: CALLBACK.optional(),
      on_stop: CALLBACK.optional(),
      on_restart: CALLBACK.optional(),
      on_reload: CALLBACK.optional(),
      on_role_change: CALLBACK.optional(),
    })
    .prefault({}),
});

const HaproxySchema = z
  .strictObject({
    hosts: z.array(Name, { error: 'must be a list of host names' }).min(1, 'must list at least one host').optional().describe('Default: the cluster hosts'),
    read_write_port: Port.default(5000).describe('Routes to the leader'),
    read_only_port: Port.default(5001).describe('Routes to the replicas'),
    stats_port: Port.default(7000),
    stats_listen: z
      .enum(['loopback', 'host'], { error: 'must be "loopback" or "host"' })
      .default('loopback')
      .describe("Where the stats page listens: loopback (read through SSH, the default) or the host's address (unauthenticated)"),
  })
  .describe('HAProxy routing clients to the leader and replicas');

const VipSchema = z
  .strictObject({
    address: IpAddress.describe('Floating address keepalived moves between the HAProxy hosts'),
    interface: z.string({ error: 'must be a network interface name' }).regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'must be a network interface name such as eth0'),
    router_id: z.int({ error: 'must be a VRRP router id from 1 to 255' }).min(1, 'must be a VRRP router id from 1 to 255').max(255, 'must be a VRRP router id from 1 to 255'),
    prefix: z.int({ error: 'must be a prefix length' }).min(1, 'must be a prefix length from 1 to 128').max(128, 'must be a prefix length from 1 to 128').optional().describe('Default 32 (IPv4) or 128 (IPv6)'),
  })
  .describe('Virtual IP in front of HAProxy (keepalived)');

const ClusterSecrets = z
  .strictObject({
    superuser: SecretRef.default(generated),
    replication: SecretRef.default(generated),
    rewind: SecretRef.default(generated),
    rest_api: SecretRef.default(generated),
    check: SecretRef.default(generated).describe("Password of hapg_check, the unprivileged role hapg's write/read checks log in as"),
    vrrp: SecretRef.default(generated).describe('VRRP password of the VIP (keepalived uses its first 8 characters)'),
    etcd: SecretRef.default(generated).describe("Password of the cluster's etcd user: its role reaches only the cluster's own keys"),
  })
  .describe('Passwords of the roles Patroni needs, its REST API, hapg checks and the VIP; omitted ones are generated');

/** A delay PostgreSQL reads: digits, at most one space, a unit (`\s` would let a newline through). */
const DELAY = /^\d+ ?(ms|s|min|h|d)?$/;

const StandbySchema = z
  .strictObject({
    cluster: Name.describe('The cluster this one replicates from'),
    source: z.enum(['vip', 'haproxy', 'members'], { error: 'must be "vip", "haproxy" or "members"' }).default('haproxy').describe('How the standby leader reaches the source'),
    slot: SlotName.optional().describe('Permanent physical slot on the source (default standby_<cluster>)'),
    recovery_min_apply_delay: z
      .union([z.int().min(0), z.string().regex(DELAY, 'must be a delay such as 5min or 300000 (ms)')], {
        error: 'must be a delay such as 5min or 300000 (ms)',
      })
      .optional(),
    restore_command: checkedString('must be a shell command', (command) => (command === '' ? 'must be a shell command' : restoreCommandProblem(command)))
      .optional()
      .describe('Fetches archived WAL (%f, %p, %r); PostgreSQL runs it with /bin/sh as postgres. "repository": from the source cluster\'s pgBackRest repository (the source needs backup)'),
    etcd_scope: Name.optional().describe('Patroni scope in etcd (default: the cluster name)'),
  })
  .describe('Makes this a Patroni standby cluster of another cluster');

/** A systemd calendar expression (OnCalendar=): the characters systemd's syntax uses, nothing a unit file reads specially. */
const Calendar = z
  .string({ error: 'must be a systemd calendar expression such as "Sun *-*-* 01:00:00"' })
  .regex(/^[A-Za-z0-9*:,./~+ -]{1,120}$/, 'must be a systemd calendar expression such as "Sun *-*-* 01:00:00" or "daily" (letters, digits, space and * : , . / ~ + -)');

/** pgBackRest options passed through for object stores (repo1-s3-bucket, …): one INI line each. */
const RepositoryOptions = z.record(
  z.string().regex(/^repo1-[a-z0-9-]+$/, 'must be a pgBackRest repository option such as repo1-s3-bucket'),
  checkedString('must be a string', parameterValueProblem),
  { error: 'must be a mapping of pgBackRest repository options (repo1-…) to values' },
);

const BackupRepository = z.union(
  [
    z.strictObject({
      host: Name.describe('Repository host (an inventory host outside the cluster): it runs the backups over SSH and keeps them'),
      path: DataDirectory.default('/var/lib/pgbackrest/repo').describe('Repository path on that host'),
    }),
    z.strictObject({ posix: DataDirectory.describe('A mount the operator provides on every member (NFS): backups run on the leader') }),
    z.strictObject({ options: RepositoryOptions.describe('Object store (S3, GCS, Azure): pgBackRest repo1-* options passed through as written; not tested by hapg') }),
  ],
  { error: 'must be { host: HOST } (a repository host), { posix: PATH } (a mount on every member) or { options: {...} } (an object store)' },
);

const BackupSchema = z
  .strictObject({
    repository: BackupRepository,
    retention: z
      .strictObject({
        full: z.int({ error: 'must be a whole number' }).min(1, 'must be at least 1').max(9999, 'must be at most 9999').default(2).describe('Full backups kept (or days, with full_type: time)'),
        full_type: z.enum(['count', 'time'], { error: 'must be "count" or "time"' }).default('count'),
        diff: z.int({ error: 'must be a whole number' }).min(1, 'must be at least 1').max(9999, 'must be at most 9999').optional().describe('Differential backups kept'),
      })
      .prefault({}),
    schedule: z
      .strictObject({
        full: Calendar.default('Sun *-*-* 01:00:00'),
        diff: Calendar.optional().describe('Default: Mon..Sat *-*-* 01:00:00 (none when incr is set)'),
        incr: Calendar.optional(),
      })
      .prefault({})
      .describe('systemd timers (OnCalendar=) on the repository host, or on the leader for posix'),
    compression: z
      .strictObject({
        type: z.enum(['zst', 'lz4', 'gz', 'bz2', 'none'], { error: 'must be zst, lz4, gz, bz2 or none' }).default('zst'),
        level: z.int({ error: 'must be a whole number' }).min(0, 'must be 0 or more').max(19, 'must be at most 19').optional(),
      })
      .prefault({}),
    encryption: z
      .union([z.literal(false), z.strictObject({ key: SecretRef.default(generated).describe('repo1-cipher-pass; omitted: generated and kept with the secrets') })], {
        error: 'must be false or { key: SECRET_REFERENCE }',
      })
      .default({ key: { generate: true } })
      .describe('Repository encryption (aes-256-cbc); false turns it off'),
    archive_timeout: seconds(3600).default(60).describe('Seconds before PostgreSQL switches a partly filled WAL segment to the archive'),
    process_max: z.int({ error: 'must be a whole number' }).min(1, 'must be 1 to 32').max(32, 'must be 1 to 32').default(2).describe('pgBackRest processes for backup and restore'),
  })
  .describe('Backups and WAL archiving with pgBackRest');

const ClusterSchema = z.strictObject({
  etcd: Name.optional().describe('etcd cluster holding the state (default: the only one, or the one in this datacenter)'),
  hosts: z.array(Name, { error: 'must be a list of host names' }).min(1, 'must list at least one host'),
  leader: Name.optional().describe('Member that initialises the cluster (default: the first host)'),
  postgres: PostgresSchema.prefault({}),
  patroni: PatroniSchema.prefault({}),
  haproxy: HaproxySchema.optional(),
  vip: VipSchema.optional(),
  secrets: ClusterSecrets.prefault({}),
  standby: StandbySchema.optional(),
  backup: BackupSchema.optional(),
  tls: z
    .boolean(BOOL)
    .default(true)
    .describe('TLS for PostgreSQL, the REST API and their checks, and TLS + authentication on its etcd cluster (default: on; false opts out, with a warning on every run)'),
});

const recordOf = <T extends z.ZodType>(what: string, value: T) =>
  z
    .record(Name, value, { error: `must be a mapping of ${what}s by name` })
    .refine((record) => Object.keys(record).length > 0, { error: `must define at least one ${what}` });

/** The inventory as written, with per-field defaults applied (before cross-field completion). */
export const RawInventorySchema = z
  .strictObject(
    {
      ssh: SshSettings.prefault({}),
      hosts: recordOf('host', HostSchema).describe('Hosts by name; the name is the Patroni and etcd member name'),
      packages: PackagesSchema.prefault({}),
      etcd: recordOf('etcd cluster', EtcdSchema).describe('etcd clusters (the DCS) by name'),
      clusters: recordOf('cluster', ClusterSchema).describe('Patroni clusters by name (the Patroni scope)'),
      secrets_file: LocalPath.optional().describe('Where generated secrets are kept (default .hapg/<inventory>.secrets.yml)'),
      tls: TlsSchema.prefault({}),
    },
    { error: 'the inventory must be a mapping with hosts, etcd and clusters' },
  )
  .describe('hapg inventory');

/** The inventory: parsed, every default filled in, and checked across fields. */
export const InventorySchema = RawInventorySchema.transform(finishInventory);

export type RawInventory = z.output<typeof RawInventorySchema>;
/**
 * One pass of a live cluster's conversion from plaintext to TLS, set by hapg on the inventory it
 * deploys (never read from the YAML): the etcd clusters and Patroni clusters that move, and how
 * far this pass takes them (see src/tasks/tls/conversion.ts).
 */
export interface TlsConversion {
  /** `final`: the inventory as it is (every override empty), in the run that converts. */
  pass: 'prepare' | 'peers' | 'clients' | 'final';
  /** etcd clusters moving to TLS, with how each serves in this pass (one that got further earlier is not taken back). */
  etcd: Readonly<Record<string, 'dual' | 'dual-peers-tls' | 'dual-clients-tls'>>;
  /** Patroni clusters whose own hops (PostgreSQL, REST API, checks) move to TLS. */
  clusters: readonly string[];
}

export type Inventory = z.infer<typeof InventorySchema> & { readonly tlsConversion?: TlsConversion };
export type Cluster = Inventory['clusters'][string];
export type Host = Inventory['hosts'][string];
export type EtcdCluster = Inventory['etcd'][string];
export type SshSettings = Inventory['ssh'];
export type SshOverrides = NonNullable<Host['ssh']>;
export type Backup = NonNullable<Cluster['backup']>;
export type TlsSettings = Inventory['tls'];
