/** psql reading SQL from stdin (or running `query`): unaligned, tab-separated, tuples only, stopping at the first error. */
export function psqlArgv(port: number, database: string, query?: string): string[] {
  return ['psql', '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-p', String(port), '-d', database, ...(query ? ['-c', query] : [])];
}

/**
 * libpq's connection string of a client connection, from positional shell parameters: host
 * $1, port $2, user $3, database $4, and with a CA bundle in $5, TLS that verifies the
 * server's certificate and name (sslmode=verify-full).
 */
export const CLIENT_CONNINFO = '"host=$1 port=$2 user=$3 dbname=$4 connect_timeout=5${5:+ sslmode=verify-full sslrootcert=$5}"';
