/** psql reading SQL from stdin (or running `query`): unaligned, tab-separated, tuples only, stopping at the first error. */
export function psqlArgv(port: number, database: string, query?: string): string[] {
  return ['psql', '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-p', String(port), '-d', database, ...(query ? ['-c', query] : [])];
}
