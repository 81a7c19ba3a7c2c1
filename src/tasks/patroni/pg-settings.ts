// Read-only questions to a running PostgreSQL about its settings: how a parameter takes effect
// (pg_settings.context) and when the server last loaded its configuration files.
import type { CommandFact } from '../../facts/fact.js';
import { psqlArgv } from '../postgres/roles.js';
import type { ParameterSetting } from './restart-plan.js';

const sqlList = (names: readonly string[]) => names.map((n) => `'${n.replace(/'/g, "''")}'`).join(', ');

/** Parses `name\tcontext\tsetting\tunit` lines of pg_settings. */
export function parseParameterSettings(stdout: string): Map<string, ParameterSetting> {
  const out = new Map<string, ParameterSetting>();
  for (const line of stdout.split('\n')) {
    const [name, context, setting, unit] = line.split('\t');
    if (!name || context === undefined || setting === undefined) continue;
    out.set(name, { context, setting, unit: unit ? unit : undefined });
  }
  return out;
}

/** pg_settings rows of these parameters on the server at `port` (unknown names are absent; empty when it is down). */
export function parameterSettings(port: number, names: readonly string[]): CommandFact<Map<string, ParameterSetting>> {
  const list = [...new Set(names)].sort();
  const query = `select name, context, setting, coalesce(unit, '') from pg_settings where name in (${sqlList(list)})`;
  return {
    id: `pg-settings:${port}:${list.join(',')}`,
    argv: ['runuser', '-u', 'postgres', '--', ...psqlArgv(port, 'postgres', query)],
    sudo: true,
    parse: (r) => (r.exitCode === 0 ? parseParameterSettings(r.stdout) : new Map()),
  };
}

/** When the server last (re)loaded postgresql.conf, as text; undefined when it does not answer. */
export function configLoadTime(port: number): CommandFact<string | undefined> {
  return {
    id: `pg-conf-load-time:${port}`,
    argv: ['runuser', '-u', 'postgres', '--', ...psqlArgv(port, 'postgres', 'select pg_conf_load_time()')],
    sudo: true,
    parse: (r) => (r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined),
  };
}
