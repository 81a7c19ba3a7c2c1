/** Context needed to turn a low-level SSH/socket error into plain words. */
export interface ConnectErrorContext {
  user: string;
  connectTimeoutMs: number;
  /** What authentication tried, e.g. `key ~/.ssh/id_ed25519`, `ssh-agent`. */
  authTried: readonly string[];
  /** The TCP connection was made (so a timeout means the SSH handshake never finished). */
  tcpConnected?: boolean;
}

const SOCKET_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable (no route to host)',
  EHOSTDOWN: 'host is down',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'cannot resolve the address',
  EAI_AGAIN: 'cannot resolve the address (DNS not answering)',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  EADDRNOTAVAIL: 'address not available',
};

/** OpenSSH's channel-open failure reason codes (RFC 4254 §5.1). */
const CHANNEL_REASONS: Record<number, string> = {
  1: 'administratively prohibited (AllowTcpForwarding?)',
  2: 'connect failed',
  3: 'unknown channel type',
  4: 'resource shortage',
};

/**
 * Maps what ssh2 and the socket layer throw (ECONNREFUSED, handshake timeouts, auth failures,
 * channel-open failures) to the few plain words a person needs, without the host prefix.
 */
export function describeConnectError(err: unknown, ctx: ConnectErrorContext): string {
  const e = (err ?? {}) as { code?: unknown; level?: unknown; message?: unknown; reason?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && SOCKET_CODES[code]) return SOCKET_CODES[code];
  switch (e.level) {
    case 'client-timeout':
      return ctx.tcpConnected
        ? `connected, but no SSH handshake within ${seconds(ctx.connectTimeoutMs)}`
        : `connection timed out after ${seconds(ctx.connectTimeoutMs)}`;
    case 'client-authentication':
      return `authentication failed for user ${ctx.user}${ctx.authTried.length ? ` (tried ${ctx.authTried.join(', ')})` : ''}`;
    case 'client-dns':
      return 'cannot resolve the address';
    case 'agent':
      return `ssh-agent failed: ${message}`;
    case 'protocol':
      return /identification|header|ident/i.test(message) ? `not an SSH server (${message})` : `SSH protocol error: ${message}`;
    case 'handshake':
      return `SSH handshake failed: ${message}`;
  }
  const channel = /Channel open failure:?\s*(.*)$/i.exec(message);
  if (channel) {
    const text = (channel[1] ?? '').trim();
    const byText = Object.entries(SOCKET_CODES).find(([, words]) => words.toLowerCase() === text.toLowerCase());
    if (byText) return byText[1];
    if (/refused/i.test(text)) return 'connection refused';
    if (/no route/i.test(text)) return 'host unreachable (no route to host)';
    if (/timed out/i.test(text)) return 'connection timed out';
    const reason = typeof e.reason === 'number' ? CHANNEL_REASONS[e.reason] : undefined;
    return text && text.toLowerCase() !== 'open failed' ? text.toLowerCase() : (reason ?? 'channel open failed');
  }
  if (/No response from server|Not connected|Connection lost before handshake/i.test(message)) return 'connection closed by the server';
  return message;
}

/** `1.5s`, `30s`, `250ms`: durations as people read them in one-line errors. */
export function seconds(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
}
