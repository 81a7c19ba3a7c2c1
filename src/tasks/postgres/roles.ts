import { HapgError } from '../../errors.js';
import type { CommandFact } from '../../facts/fact.js';
import type { Cluster } from '../../inventory/schema.js';
import { LocalPostgres } from '../../model/endpoints.js';
import type { Secret } from '../../secret.js';
import { noop, type PlanItem, type SqlStep } from '../../run/steps.js';
import { scramMatches, scramVerifier } from './scram.js';

export interface ExistingRole {
  name: string;
  verifier: string;
  attributes: Set<string>;
}

export interface ExistingDatabase {
  name: string;
  owner: string;
}

export interface CatalogFacts {
  roles: Map<string, ExistingRole>;
  databases: Map<string, ExistingDatabase>;
  /** Installed extensions per existing database that the inventory lists extensions for. */
  extensions: Map<string, Set<string>>;
}

const ATTRIBUTE_COLUMNS: [string, string][] = [
  ['rolcanlogin', 'LOGIN'],
  ['rolcreatedb', 'CREATEDB'],
  ['rolcreaterole', 'CREATEROLE'],
  ['rolinherit', 'INHERIT'],
  ['rolreplication', 'REPLICATION'],
  ['rolbypassrls', 'BYPASSRLS'],
  ['rolsuper', 'SUPERUSER'],
];

/** Roles and databases of the cluster, read on the leader. */
export function catalogFact(port: number): CommandFact<Omit<CatalogFacts, 'extensions'> | undefined> {
  const query = [
    `select 'role', rolname, coalesce(rolpassword, ''), ${ATTRIBUTE_COLUMNS.map(([c]) => `case when ${c} then 't' else 'f' end`).join(', ')} from pg_authid`,
    `select 'db', datname, pg_get_userbyid(datdba), '', '', '', '', '', '', '' from pg_database`,
  ].join(' union all ');
  return new LocalPostgres(port).query('catalog', query, parseCatalog);
}

export function parseCatalog(rows: string[][]): Omit<CatalogFacts, 'extensions'> {
  const roles = new Map<string, ExistingRole>();
  const databases = new Map<string, ExistingDatabase>();
  for (const cols of rows) {
    if (cols[0] === 'role' && cols[1]) {
      const attributes = new Set<string>();
      ATTRIBUTE_COLUMNS.forEach(([, attr], i) => cols[3 + i] === 't' && attributes.add(attr));
      roles.set(cols[1], { name: cols[1], verifier: cols[2] ?? '', attributes });
    } else if (cols[0] === 'db' && cols[1]) {
      databases.set(cols[1], { name: cols[1], owner: cols[2] ?? '' });
    }
  }
  return { roles, databases };
}

/** Extensions installed in one database. */
export function extensionsFact(port: number, database: string): CommandFact<Set<string> | undefined> {
  return new LocalPostgres(port).query('extensions', 'select extname from pg_extension', (rows) => new Set(rows.map((r) => r[0] ?? '').filter(Boolean)), database);
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * The attributes the inventory manages: those it names (LOGIN or NOLOGIN, …) with the value
 * it wants; the others keep PostgreSQL's defaults and are not compared.
 */
function managedAttributes(options: readonly string[]): Map<string, boolean> {
  const managed = new Map<string, boolean>();
  for (const [, attr] of ATTRIBUTE_COLUMNS) {
    if (options.includes(attr)) managed.set(attr, true);
    else if (options.includes(`NO${attr}`)) managed.set(attr, false);
  }
  return managed;
}

function attributeClause(managed: ReadonlyMap<string, boolean>): string {
  return [...managed].map(([attr, on]) => (on ? attr : `NO${attr}`)).join(' ');
}

/**
 * Steps that make the application roles and databases match the inventory, run on the
 * leader. Passwords travel as SCRAM verifiers on stdin; a role whose stored verifier already
 * matches its password is left alone, so a re-run changes nothing.
 */
export function planRolesAndDatabases(
  host: string,
  clusterName: string,
  cluster: Cluster,
  passwords: ReadonlyMap<string, Secret>,
  facts: CatalogFacts,
): PlanItem[] {
  const pg = new LocalPostgres(cluster.postgres.port);
  const steps: SqlStep[] = [];
  const sqlStep = (title: string, database: string, sql: string, secrets: Secret[] = []) => pg.sql(host, title, sql, { database, secrets });

  for (const [name, spec] of Object.entries(cluster.postgres.users)) {
    const password = passwords.get(name);
    if (!password) throw new HapgError('INTERNAL', `password of user ${name} in cluster ${clusterName} was not resolved`);
    const existing = facts.roles.get(name);
    const managed = managedAttributes(spec.options);
    const attrs = attributeClause(managed);
    if (!existing) {
      steps.push(sqlStep(`create role ${name}`, 'postgres', `CREATE ROLE ${quoteIdent(name)} ${attrs}${attrs ? ' ' : ''}PASSWORD ${quoteLiteral(scramVerifier(password.reveal()))};\n`, [password]));
      continue;
    }
    const attrsDiffer = [...managed].some(([attr, on]) => existing.attributes.has(attr) !== on);
    const passwordDiffers = !scramMatches(existing.verifier, password.reveal());
    if (attrsDiffer || passwordDiffers) {
      const what = [attrsDiffer && 'attributes', passwordDiffers && 'password'].filter(Boolean).join(' and ');
      const pw = passwordDiffers ? ` PASSWORD ${quoteLiteral(scramVerifier(password.reveal()))}` : '';
      steps.push(sqlStep(`update role ${name} (${what})`, 'postgres', `ALTER ROLE ${quoteIdent(name)}${attrs ? ` ${attrs}` : ''}${pw};\n`, [password]));
    }
  }

  for (const [name, spec] of Object.entries(cluster.postgres.databases)) {
    const existing = facts.databases.get(name);
    if (!existing) {
      steps.push(sqlStep(`create database ${name}`, 'postgres', `CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(spec.owner)};\n`));
    } else if (existing.owner !== spec.owner) {
      steps.push(sqlStep(`change owner of database ${name} to ${spec.owner}`, 'postgres', `ALTER DATABASE ${quoteIdent(name)} OWNER TO ${quoteIdent(spec.owner)};\n`));
    }
    const installed = facts.extensions.get(name) ?? new Set<string>();
    const missing = spec.extensions.filter((e) => !installed.has(e));
    if (missing.length > 0) {
      const sql = missing.map((e) => `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e)};`).join('\n');
      steps.push(sqlStep(`create extension ${missing.join(', ')} in ${name}`, name, `${sql}\n`));
    }
  }
  const users = Object.keys(cluster.postgres.users).length;
  const dbs = Object.keys(cluster.postgres.databases).length;
  return steps.length > 0 ? steps : [noop(host, `${users} users and ${dbs} databases as declared`)];
}

/**
 * Password changes of the roles Patroni itself uses (superuser, replication, rewind), made on
 * the leader before any patroni.yml carries the new password: members reconnect with the new
 * one only after the server already accepts it. Runs through the local socket as the postgres
 * OS user (peer authentication), so it works whatever password the server had.
 */
export function planPatroniRolePasswords(
  host: string,
  cluster: Cluster,
  passwords: ReadonlyMap<string, Secret>,
  roles: ReadonlyMap<string, ExistingRole>,
): PlanItem[] {
  const pg = new LocalPostgres(cluster.postgres.port);
  const steps: SqlStep[] = [];
  for (const [role, password] of passwords) {
    const existing = roles.get(role);
    if (!existing || scramMatches(existing.verifier, password.reveal())) continue;
    steps.push(pg.sql(host, `set the password of role ${role}`, `ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(scramVerifier(password.reveal()))};\n`, { secrets: [password] }));
  }
  return steps.length > 0 ? steps : [noop(host, `passwords of ${[...passwords.keys()].join(', ')} match`)];
}

/** Who owns hapg's schema and its check table (undefined where they do not exist yet). */
export interface CheckObjects {
  schemaOwner: string | undefined;
  tableOwner: string | undefined;
}

/** The owners of schema hapg and table hapg.deploy_check, read on the leader. */
export function checkObjectsFact(port: number): CommandFact<CheckObjects | undefined> {
  const sql = [
    "select 'schema', pg_get_userbyid(nspowner) from pg_namespace where nspname = 'hapg'",
    "select 'table', pg_get_userbyid(relowner) from pg_class where oid = to_regclass('hapg.deploy_check')",
  ].join(' union all ');
  return new LocalPostgres(port).query('check-objects', sql, (rows) => ({
    schemaOwner: rows.find((r) => r[0] === 'schema')?.[1],
    tableOwner: rows.find((r) => r[0] === 'table')?.[1],
  }));
}

/**
 * hapg's check role: it logs in over the network like a client (the superuser never does)
 * and owns schema hapg, where the write/read check keeps its rows. Created unprivileged, its
 * password as a SCRAM verifier; an existing schema of an older hapg is handed over to it.
 */
export function planCheckRole(host: string, cluster: Cluster, role: string, password: Secret, existing: ExistingRole | undefined, objects: CheckObjects): PlanItem[] {
  const pg = new LocalPostgres(cluster.postgres.port);
  const steps: SqlStep[] = [];
  const verifier = () => quoteLiteral(scramVerifier(password.reveal()));
  if (!existing) {
    steps.push(pg.sql(host, `create role ${role}`, `CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${verifier()};\n`, { secrets: [password] }));
  } else if (!scramMatches(existing.verifier, password.reveal())) {
    steps.push(pg.sql(host, `update role ${role} (password)`, `ALTER ROLE ${quoteIdent(role)} PASSWORD ${verifier()};\n`, { secrets: [password] }));
  }
  if (objects.schemaOwner === undefined) {
    steps.push(pg.sql(host, `create schema hapg owned by ${role}`, `CREATE SCHEMA IF NOT EXISTS hapg AUTHORIZATION ${quoteIdent(role)};\n`));
  } else if (objects.schemaOwner !== role) {
    steps.push(pg.sql(host, `hand schema hapg to ${role}`, `ALTER SCHEMA hapg OWNER TO ${quoteIdent(role)};\n`));
  }
  if (objects.tableOwner !== undefined && objects.tableOwner !== role) {
    steps.push(pg.sql(host, `hand hapg.deploy_check to ${role}`, `ALTER TABLE hapg.deploy_check OWNER TO ${quoteIdent(role)};\n`));
  }
  return steps.length > 0 ? steps : [noop(host, `${role} and its schema as declared`)];
}
