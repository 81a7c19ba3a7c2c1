import type { CommandFact } from '../../facts/fact.js';

/** Whether a PostgreSQL data directory is initialised (PG_VERSION exists). */
export function pgData(dataDir: string): CommandFact<{ exists: boolean }> {
  return {
    id: `pgdata:${dataDir}`,
    argv: ['test', '-f', `${dataDir}/PG_VERSION`],
    sudo: true,
    parse: (r) => ({ exists: r.exitCode === 0 }),
  };
}
