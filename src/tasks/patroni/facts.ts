import type { CommandFact } from '../../facts/fact.js';

/** Whether a PostgreSQL data directory is initialised (PG_VERSION exists), and its system identifier. */
export function pgData(dataDir: string): CommandFact<{ exists: boolean; systemId: string | undefined }> {
  const script = [
    'd="$1"',
    '[ -f "$d/PG_VERSION" ] || { echo absent; exit 0; }',
    'echo present',
    'for b in /usr/lib/postgresql/*/bin/pg_controldata; do',
    '  [ -x "$b" ] && { "$b" "$d" 2>/dev/null | sed -n "s/^Database system identifier: *//p"; break; }',
    'done',
  ].join('\n');
  return {
    id: `pgdata:${dataDir}`,
    argv: ['sh', '-c', script, 'sh', dataDir],
    sudo: true,
    parse: (r) => {
      const [state, systemId] = r.stdout.trim().split('\n');
      return { exists: state === 'present', systemId: systemId?.trim() || undefined };
    },
  };
}
