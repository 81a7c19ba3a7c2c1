// The SSH executor against the lab's real OpenSSH servers: exec, putFile, HTTP tunnels, host
// key checking, unreachable hosts and a bastion hop.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CommandError, HapgError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { connect } from '../../src/ssh/connect.js';
import { openRemotes, withRemotes } from '../../src/ssh/pool.js';
import type { Remote, SshTarget } from '../../src/ssh/types.js';

const lab = inject('lab');
/** This file's hosts of the shared lab (the other files' hosts may be mid-deploy or stopped). */
const HOSTS = ['pg17', 'pg18'].map((name) => {
  const host = lab.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`the lab has no host ${name}`);
  return host;
});

function target(index: number, overrides: Partial<SshTarget> = {}): SshTarget {
  const host = HOSTS[index];
  if (!host) throw new Error(`the lab has no host #${index + 1}`);
  return {
    host: host.name,
    address: host.address,
    port: 22,
    user: lab.user,
    identityFiles: [lab.identityFile],
    knownHosts: lab.knownHosts,
    connectTimeoutMs: 5000,
    sudo: true,
    ...overrides,
  };
}

/** The same host as a jump host (a bastion has no sudo and no bastion of its own). */
function jumpHost(index: number): NonNullable<SshTarget['bastion']> {
  const { bastion: _bastion, sudo: _sudo, ...jump } = target(index);
  return jump;
}

/** An ed25519 key blob nobody has: what a reinstalled (or impersonated) host would offer. */
function strangerKey(): string {
  const type = Buffer.from('ssh-ed25519');
  const u32 = (n: number) => Buffer.from([0, 0, 0, n]);
  return Buffer.concat([u32(type.length), type, u32(32), randomBytes(32)]).toString('base64');
}

/** An address in the lab subnet that no host uses. */
function vacantAddress(): string {
  const used = new Set(lab.hosts.map((h) => h.address));
  const prefix = HOSTS[0]!.address.split('.').slice(0, 3).join('.');
  for (let last = 250; last > 200; last--) {
    const candidate = `${prefix}.${last}`;
    if (!used.has(candidate) && candidate !== lab.bridgeAddress) return candidate;
  }
  throw new Error('no vacant address in the lab subnet');
}

let scratch: string;
let remotes: Map<string, Remote>;
const pg1 = () => remotes.get(HOSTS[0]!.name)!;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hapg-e2e-ssh-'));
  remotes = await openRemotes(HOSTS.map((_, i) => target(i)));
});

afterAll(async () => {
  for (const r of remotes?.values() ?? []) r.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('exec', () => {
  it('connects to several hosts at once and runs one command on each', async () => {
    const results = await withRemotes(
      HOSTS.map((_, i) => target(i)),
      {},
      async (fresh) => Promise.all([...fresh.values()].map((r) => r.exec(['hostname']))),
    );
    expect(results.map((r) => r.exitCode)).toEqual(HOSTS.map(() => 0));
    expect(results.map((r) => r.stdout.trim())).toEqual(HOSTS.map((h) => h.name));
  });

  it('returns stdout, stderr and the exit code', async () => {
    const r = await pg1().exec(['sh', '-c', 'echo out; echo err >&2; exit 5'], { allowFailure: true });
    expect(r).toMatchObject({ host: HOSTS[0]!.name, exitCode: 5, stdout: 'out\n', stderr: 'err\n' });
  });

  it('passes nasty arguments through the remote shell unchanged', async () => {
    const args = ['', ' ', "it's", '"q"', '$(id)', '`id`', '$HOME', 'a\nb', '*', '~', 'ünïcødé ✓', 'FOO=bar', '-n'];
    const r = await pg1().exec(['printf', '%s\\0', ...args]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
  });

  it('feeds stdin', async () => {
    expect((await pg1().exec(['cat'], { stdin: 'line 1\nline 2\n' })).stdout).toBe('line 1\nline 2\n');
    expect((await pg1().exec(['sha256sum'], { stdin: Buffer.alloc(4 << 20, 1) })).stdout).toMatch(/^[0-9a-f]{64} /);
  });

  it('runs as another user and with env', async () => {
    expect((await pg1().exec(['id', '-un'], { user: 'nobody' })).stdout.trim()).toBe('nobody');
    expect((await pg1().exec(['sh', '-c', 'printf %s "$X"'], { env: { X: "a 'b' $c" } })).stdout).toBe("a 'b' $c");
  });

  it('raises CommandError naming the host, with the stderr tail', async () => {
    const err = (await pg1()
      .exec(['sh', '-c', 'echo first >&2; echo "no such thing: /etc/nowhere" >&2; exit 2'])
      .catch((e: unknown) => e)) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.code).toBe('COMMAND_FAILED');
    expect(err.host).toBe(HOSTS[0]!.name);
    expect(err.result.exitCode).toBe(2);
    expect(err.message).toMatch(new RegExp(`^${HOSTS[0]!.name}: \`sh -c .*\` failed \\(exit 2\\): no such thing: /etc/nowhere$`));
  });

  it('times out a command, naming host, command and limit, and keeps the connection usable', async () => {
    const started = Date.now();
    await expect(pg1().exec(['sleep', '30'], { timeoutMs: 500 })).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: `${HOSTS[0]!.name}: \`sleep 30\` timed out after 500ms`,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await pg1().exec(['echo', 'still here'])).stdout).toBe('still here\n');
  });

  it('a timeout ends the whole process group on the host, also for a command run through sudo', async () => {
    // An operator account with passwordless sudo, logging in with the lab key: its commands run through `sudo -n`.
    await pg1().exec(['sh', '-c', [
      'id hapgop >/dev/null 2>&1 || useradd -m -s /bin/sh hapgop',
      'install -d -o hapgop -m 700 /home/hapgop/.ssh && install -o hapgop -m 600 /root/.ssh/authorized_keys /home/hapgop/.ssh/authorized_keys',
      'echo "hapgop ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/hapgop && chmod 440 /etc/sudoers.d/hapgop',
    ].join(' && ')]);
    const op = await connect(target(0, { user: 'hapgop' }));
    try {
      expect((await op.exec(['id', '-u'], { sudo: true })).stdout.trim()).toBe('0');
      // A child in the background and one in the foreground: both must die with the limit.
      const err = (await op.exec(['sh', '-c', 'sleep 3131 & sleep 3132'], { sudo: true, timeoutMs: 1000 }).catch((e: unknown) => e)) as HapgError;
      expect(err.code).toBe('COMMAND_FAILED');
      expect(err.message).toBe(`${HOSTS[0]!.name}: \`sudo -n -- sh -c 'sleep 3131 & sleep 3132'\` timed out after 1s`);
      let left = '';
      for (let i = 0; i < 20; i++) {
        left = (await pg1().exec(['sh', '-c', 'pgrep -af "sleep 313[12]" || true'])).stdout.trim();
        if (left === '') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(left).toBe('');
    } finally {
      op.close();
    }
  });

  it('runs many commands at once on one connection (beyond sshd MaxSessions=10)', async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => pg1().exec(['sh', '-c', `sleep 0.3; echo ${i}`])));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    expect(Date.now() - started).toBeLessThan(40 * 300); // faster than one after another
  });
});

describe('putFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = `/tmp/hapg-e2e-put-${randomBytes(4).toString('hex')}`;
  });
  afterAll(async () => {
    await pg1().exec(['rm', '-rf', '--', dir], { sudo: true, allowFailure: true });
  });

  const inspect = async (path: string) => (await pg1().exec(['stat', '-c', '%a %U %G', '--', path], { sudo: true })).stdout.trim();

  it('writes once, then reports unchanged; content, mode and owner as asked', async () => {
    const path = `${dir}/etc/patroni.yml`;
    const content = 'scope: main\npassword: "s3cr\'t $(x)"\n';
    expect(await pg1().putFile(path, content, { mode: 0o640, owner: 'root', group: 'nogroup' })).toEqual({ changed: true });
    expect(await pg1().putFile(path, content, { mode: 0o640, owner: 'root', group: 'nogroup' })).toEqual({ changed: false });
    expect((await pg1().exec(['cat', path], { sudo: true })).stdout).toBe(content);
    expect(await inspect(path)).toBe('640 root nogroup');
    const leftovers = await pg1().exec(['sh', '-c', 'ls -A "$1"', 'sh', `${dir}/etc`], { sudo: true });
    expect(leftovers.stdout.trim()).toBe('patroni.yml');
  });

  it('fixes mode and owner drift, and rewrites changed content', async () => {
    const path = `${dir}/drift.conf`;
    await pg1().putFile(path, 'a\n', { mode: 0o600, owner: 'nobody', group: 'nogroup' });
    await pg1().exec(['chmod', '0644', path], { sudo: true });
    expect(await pg1().putFile(path, 'a\n', { mode: 0o600, owner: 'nobody', group: 'nogroup' })).toEqual({ changed: true });
    expect(await inspect(path)).toBe('600 nobody nogroup');
    await pg1().exec(['chown', 'root:root', path], { sudo: true });
    expect(await pg1().putFile(path, 'a\n', { mode: 0o600, owner: 'nobody', group: 'nogroup' })).toEqual({ changed: true });
    expect(await inspect(path)).toBe('600 nobody nogroup');
    expect(await pg1().putFile(path, 'b\n', { mode: 0o600, owner: 'nobody', group: 'nogroup' })).toEqual({ changed: true });
    expect((await pg1().exec(['cat', path], { sudo: true })).stdout).toBe('b\n');
  });

  it('never shows a 0600 secret with a wider mode, not even while writing', async () => {
    const sub = `${dir}/secrets`;
    const path = `${sub}/secret`;
    await pg1().putFile(path, 'v0\n', { mode: 0o600, owner: 'nobody', group: 'nogroup' });
    // Watch the directory (temp files included) while rewriting the secret over and over.
    const watcher = pg1().exec(
      ['sh', '-c', 'end=$(($(date +%s) + 3)); while [ "$(date +%s)" -lt "$end" ]; do stat -c "%a %n" "$1"/.hapg-put.* "$1"/secret 2>/dev/null; done; true', 'sh', sub],
      { sudo: true, allowFailure: true },
    );
    for (let i = 1; i <= 15; i++) {
      expect(await pg1().putFile(path, `v${i}\n`, { mode: 0o600, owner: 'nobody', group: 'nogroup' })).toEqual({ changed: true });
    }
    const seen = (await watcher).stdout.trim().split('\n').filter(Boolean);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.filter((line) => !line.startsWith('600 '))).toEqual([]);
    expect(await inspect(path)).toBe('600 nobody nogroup');
  });
});

// A throwaway HTTP server on the host's loopback: echoes requests, can answer chunked or slowly.
const ECHO_SERVER = `
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *args): pass
    def handle_any(self):
        n = int(self.headers.get('content-length') or 0)
        body = self.rfile.read(n).decode() if n else ''
        if self.path == '/chunked':
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for part in (b'alpha\\n', b'beta\\n', b'gamma\\n'):
                self.wfile.write(b'%x\\r\\n%s\\r\\n' % (len(part), part))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b'0\\r\\n\\r\\n')
            return
        if self.path == '/slow':
            time.sleep(5)
        out = json.dumps({'method': self.command, 'path': self.path, 'auth': self.headers.get('authorization'), 'body': body}).encode()
        self.send_response(201 if self.command == 'POST' else 200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_DELETE = handle_any
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
`;

describe('http through the SSH connection', () => {
  const port = randomInt(20000, 30000);
  let pid = '';

  beforeAll(async () => {
    const started = await pg1().exec(['sh', '-c', 'python3 -c "$1" "$2" </dev/null >/dev/null 2>&1 & echo $!', 'sh', ECHO_SERVER, String(port)]);
    pid = started.stdout.trim();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await pg1().http({ method: 'GET', port, path: '/ready', timeoutMs: 1000 });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });

  afterAll(async () => {
    if (pid) await pg1().exec(['kill', pid], { allowFailure: true });
  });

  it('GETs a Content-Length response from the host loopback', async () => {
    const res = await pg1().http({ method: 'GET', port, path: '/cluster' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toMatchObject({ method: 'GET', path: '/cluster', auth: null });
  });

  it('POSTs a body with basic auth from a Secret', async () => {
    const res = await pg1().http({
      method: 'POST',
      port,
      path: '/switchover',
      body: '{"leader":"pg1"}',
      headers: { 'content-type': 'application/json' },
      basicAuth: { user: 'patroni', password: new Secret('pw:with:colons') },
    });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toEqual({
      method: 'POST',
      path: '/switchover',
      auth: `Basic ${Buffer.from('patroni:pw:with:colons').toString('base64')}`,
      body: '{"leader":"pg1"}',
    });
  });

  it('reads a chunked response', async () => {
    const res = await pg1().http({ method: 'GET', port, path: '/chunked' });
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body).toBe('alpha\nbeta\ngamma\n');
  });

  it('times out', async () => {
    await expect(pg1().http({ method: 'GET', port, path: '/slow', timeoutMs: 300 })).rejects.toMatchObject({
      code: 'HTTP_FAILED',
      message: `${HOSTS[0]!.name}: GET 127.0.0.1:${port}/slow: timed out after 300ms`,
    });
  });

  it('reports a closed port as connection refused', async () => {
    await expect(pg1().http({ method: 'GET', port: 1, path: '/cluster' })).rejects.toMatchObject({
      code: 'HTTP_FAILED',
      message: `${HOSTS[0]!.name}: GET 127.0.0.1:1/cluster: connection refused`,
    });
  });
});

describe('host keys', () => {
  it('refuses a host whose key differs from known_hosts, naming host, file and line', async () => {
    const file = join(scratch, 'known_hosts_changed');
    const pg2 = HOSTS[1]!;
    await writeFile(file, `# copied lab file, pg2 reinstalled\n${pg2.address} ssh-ed25519 ${strangerKey()}\n`);
    const err = (await connect(target(1, { knownHosts: file }), { acceptNewHostKeys: true }).catch((e: unknown) => e)) as HapgError;
    expect(err).toBeInstanceOf(HapgError);
    expect(err.code).toBe('SSH_HOST_KEY');
    expect(err.host).toBe(pg2.name);
    expect(err.message).toContain(`${pg2.name} (${pg2.address}:22): HOST KEY CHANGED`);
    expect(err.message).toContain(`remove line 2 from ${file}`);
    expect(err.message).toContain('possible man-in-the-middle');
  });

  it('refuses an unknown host, records it when accepting, then knows it', async () => {
    const file = join(scratch, 'new-dir', 'known_hosts');
    await expect(connect(target(1, { knownHosts: file }))).rejects.toMatchObject({
      code: 'SSH_HOST_KEY',
      message: expect.stringContaining(`${HOSTS[1]!.name} (${HOSTS[1]!.address}:22): host key not known`),
      hint: expect.stringContaining('--accept-new-host-keys'),
    });
    const accepted = await openRemotes(
      HOSTS.map((_, i) => target(i, { knownHosts: file })),
      { acceptNewHostKeys: true },
    );
    for (const r of accepted.values()) r.close();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    const addresses = [...new Set(HOSTS.map((h) => h.address))].sort();
    expect(lines.map((l) => l.split(' ')[0]).sort()).toEqual(addresses); // each address once
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(scratch, 'new-dir'))).mode & 0o777).toBe(0o700);
    const again = await connect(target(1, { knownHosts: file }));
    again.close();
  });
});

describe('unreachable hosts', () => {
  it('an address with no host → SSH_CONNECT naming it, within the connect timeout', async () => {
    const address = vacantAddress();
    const started = Date.now();
    const err = (await connect(target(0, { host: 'ghost', address, connectTimeoutMs: 1500 })).catch((e: unknown) => e)) as HapgError;
    expect(err).toBeInstanceOf(HapgError);
    expect(err.code).toBe('SSH_CONNECT');
    expect(err.message).toMatch(new RegExp(`^ghost \\(${address.replaceAll('.', '\\.')}:22\\): (connection timed out|host unreachable)`));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a closed port → connection refused', async () => {
    const address = HOSTS[0]!.address;
    await expect(connect(target(0, { port: 1 }))).rejects.toMatchObject({
      code: 'SSH_CONNECT',
      message: `${HOSTS[0]!.name} (${address}:1): connection refused`,
    });
  });

  it('openRemotes names every failing host and keeps none open', async () => {
    const targets = [target(0), target(1, { port: 1 }), target(0, { host: 'ghost', address: vacantAddress(), connectTimeoutMs: 1000 })];
    const err = (await openRemotes(targets).catch((e: unknown) => e)) as HapgError;
    expect(err.code).toBe('SSH_CONNECT');
    expect(err.message).toMatch(new RegExp(`^cannot reach 2 hosts: ${HOSTS[1]!.name} \\(.*:1\\): connection refused; ghost \\(`));
  });
});

describe('bastion', () => {
  it('reaches pg2 through pg1 as a jump host', async () => {
    const direct = (await remotes.get(HOSTS[1]!.name)!.exec(['hostname'])).stdout;
    const viaJump = await connect(target(1, { bastion: jumpHost(0) }));
    try {
      expect((await viaJump.exec(['hostname'])).stdout).toBe(direct);
      expect((await viaJump.exec(['sh', '-c', 'echo "$SSH_CLIENT" | cut -d" " -f1'])).stdout.trim()).toBe(HOSTS[0]!.address);
    } finally {
      viaJump.close();
    }
  });

  it('names both hosts when the jump host cannot reach the target', async () => {
    await expect(connect(target(1, { port: 1, bastion: jumpHost(0) }))).rejects.toMatchObject({
      code: 'SSH_CONNECT',
      message: `${HOSTS[1]!.name} (${HOSTS[1]!.address}:1) via bastion ${HOSTS[0]!.name}: connection refused`,
    });
  });
});
