// Read-only questions to a running PostgreSQL about its settings: how a parameter takes effect
// (pg_settings.context) and when the server last loaded its configuration files.
import type { CommandFact } from '../../facts/fact.js';
import { LocalPostgres } from '../../model/endpoints.js';
import type { ParameterSetting } from './restart-plan.js';

const sqlList = (names: readonly string[]) => names.map((n) => `'${n.replace(/'/g, "''")}'`).join(', ');

/** Parses `name\tcontext\tsetting\tunit` rows of pg_settings. */
export function parseParameterSettings(rows: string[][]): Map<string, ParameterSetting> {
  const out = new Map<string, ParameterSetting>();
  for (const [name, context, setting, unit] of rows) {
    if (!name || context === undefined || setting === undefined) continue;
    out.set(name, { context, setting, unit: unit ? unit : undefined });
  }
  return out;
}

/** pg_settings rows of these parameters on the server at `port` (unknown names are absent; empty when it is down). */
export function parameterSettings(port: number, names: readonly string[]): CommandFact<Map<string, ParameterSetting>> {
  const list = [...new Set(names)].sort();
  const query = `select name, context, setting, coalesce(unit, '') from pg_settings where name in (${sqlList(list)})`;
  const fact = new LocalPostgres(port).query(`pg-settings:${list.join(',')}`, query, parseParameterSettings);
  return { ...fact, parse: (r) => fact.parse(r) ?? new Map() };
}

/** When the server last (re)loaded postgresql.conf, as text; undefined when it does not answer. */
export function configLoadTime(port: number): CommandFact<string | undefined> {
  return new LocalPostgres(port).query('pg-conf-load-time', 'select pg_conf_load_time()', (rows) => rows[0]?.[0] || undefined);
}
