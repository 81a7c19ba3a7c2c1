import { describe, expect, it } from 'vitest';
import { parseCgroupMounts } from '../../src/lab/cgroup.js';
import { guestFiles, renderEtcHosts } from '../../src/lab/guest-files.js';
import { nspawnArgs } from '../../src/lab/hosts.js';
import { publicKeyBlob, renderKnownHosts } from '../../src/lab/keys.js';
import { planLayout } from '../../src/lab/layout.js';
import { parseMountinfo } from '../../src/lab/mounts.js';
import { parseInstalledPackages } from '../../src/lab/prereqs.js';
import { labNames } from '../../src/lab/paths.js';
import { renderProxyConfig, sameProxySettings } from '../../src/lab/proxy.js';
import { baseRootfsName, SSH_DROP_IN } from '../../src/lab/rootfs.js';

const layout = planLayout({ hosts: 3, datacenters: 1, subnet: '10.213.77.0/24' });
const HOST_PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGciElBgnlnaZfY+y54q4w7O1h5FZDuwAKwnetlyAVkG root@pg1';

// /proc/self/mountinfo of the lab machine (Debian 12, hybrid cgroups), with a lab host mounted.
const MOUNTINFO = [
  '23 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '612 23 0:61 / /var/lib/hapg/lab/hosts/pg1/root rw,relatime - overlay overlay rw,lowerdir=/var/cache/hapg/lab/rootfs/bookworm-12634c8d40,upperdir=/var/lib/hapg/lab/hosts/pg1/upper,workdir=/var/lib/hapg/lab/hosts/pg1/work',
  '640 23 0:4 net:[4026532301] /run/netns/hapg-lab-pg1 rw - nsfs nsfs rw',
  '700 23 0:70 / /tmp/with\\040space rw - tmpfs tmpfs rw',
].join('\n');

describe('guest files', () => {
  const files = guestFiles({
    host: layout.hosts[1]!,
    hosts: layout.hosts,
    authorizedKey: 'ssh-ed25519 AAAAlabkey hapg-lab',
    hostPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\n…\n-----END OPENSSH PRIVATE KEY-----\n',
    hostPublicKey: HOST_PUB,
    proxyUrl: 'http://10.213.77.1:3142',
    machineId: '0123456789abcdef0123456789abcdef',
  });
  const byPath = new Map(files.map((f) => [f.path, f]));

  it('name the host, authorise the lab key and point apt at the proxy', () => {
    expect(byPath.get('/etc/hostname')?.content).toBe('pg2\n');
    expect(byPath.get('/root/.ssh/authorized_keys')).toEqual({ path: '/root/.ssh/authorized_keys', content: 'ssh-ed25519 AAAAlabkey hapg-lab\n', mode: 0o600 });
    expect(byPath.get('/etc/apt/apt.conf.d/01hapg-lab-proxy')?.content).toContain('Acquire::http::Proxy "http://10.213.77.1:3142";');
    expect(byPath.get('/etc/machine-id')?.content).toBe('0123456789abcdef0123456789abcdef\n');
  });

  it('keep the private host key private', () => {
    expect(byPath.get('/etc/ssh/ssh_host_ed25519_key')?.mode).toBe(0o600);
    expect(byPath.get('/etc/ssh/ssh_host_ed25519_key.pub')?.mode).toBe(0o644);
  });

  it('list every lab host by its lab address in /etc/hosts, never on 127.0.1.1', () => {
    const hosts = renderEtcHosts(layout.hosts);
    expect(hosts).toContain('10.213.77.11\tpg1\n');
    expect(hosts).toContain('10.213.77.13\tpg3\n');
    expect(hosts).toContain('127.0.0.1\tlocalhost\n');
    expect(hosts).not.toContain('127.0.1.1');
  });
});

describe('known_hosts', () => {
  it('pairs each address with its host key type and blob (comment dropped)', () => {
    expect(renderKnownHosts([{ address: '10.213.77.11', publicKey: HOST_PUB }])).toBe(
      '10.213.77.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGciElBgnlnaZfY+y54q4w7O1h5FZDuwAKwnetlyAVkG\n',
    );
  });

  it('decodes the key blob a server presents', () => {
    const blob = publicKeyBlob(HOST_PUB);
    expect(blob.length).toBe(51); // 4+11 "ssh-ed25519" + 4+32 key
    expect(blob.subarray(4, 15).toString()).toBe('ssh-ed25519');
  });
});

describe('nspawnArgs', () => {
  it('boots systemd without registering, in the host namespace, with the capabilities keepalived needs', () => {
    const args = nspawnArgs({ names: labNames('default'), host: 'pg1', rootDir: '/var/lib/hapg/lab/hosts/pg1/root' });
    expect(args).toEqual(
      expect.arrayContaining([
        '--boot',
        '--machine=pg1',
        '--hostname=pg1',
        '--directory=/var/lib/hapg/lab/hosts/pg1/root',
        '--register=no',
        '--keep-unit',
        '--network-namespace-path=/run/netns/hapg-lab-pg1',
        '--capability=CAP_NET_ADMIN,CAP_NET_RAW',
      ]),
    );
  });

  it("gives a named lab's hosts their lab's namespace and a machine name unique on the machine", () => {
    const names = labNames('wtlab');
    const args = nspawnArgs({ names, host: 'pg2', rootDir: '/var/lib/hapg/lab-wtlab/hosts/pg2/root' });
    expect(args).toContain(`--network-namespace-path=/run/netns/${names.netnsPrefix}pg2`);
    expect(args).toContain('--machine=wtlab-pg2');
    expect(args).toContain('--hostname=pg2');
  });
});

describe('the base rootfs', () => {
  it('regenerates host keys before sshd -t on every host', () => {
    const lines = SSH_DROP_IN.split('\n');
    expect(lines.indexOf('ExecStartPre=')).toBeGreaterThan(-1);
    expect(lines.indexOf('ExecStartPre=/usr/bin/ssh-keygen -A')).toBeLessThan(lines.indexOf('ExecStartPre=/usr/sbin/sshd -t'));
    expect(lines.indexOf('ExecStartPre=')).toBeLessThan(lines.indexOf('ExecStartPre=/usr/bin/ssh-keygen -A'));
  });

  it('is cached per release under a stable, recipe-derived name', () => {
    // The bookworm name is the one hapg has always used: existing caches stay valid.
    expect(baseRootfsName('bookworm')).toBe('bookworm-12634c8d40');
    expect(baseRootfsName('trixie')).toMatch(/^trixie-[0-9a-f]{10}$/);
    expect(baseRootfsName('trixie')).toBe(baseRootfsName('trixie'));
  });
});

describe('renderProxyConfig', () => {
  it('binds only the given addresses, keeps everything under the lab cache and remaps the Debian archive', () => {
    const text = renderProxyConfig({
      cacheDir: '/c/apt-proxy/cache',
      logDir: '/c/apt-proxy/log',
      pidFile: '/c/apt-proxy/pid',
      socket: '/c/apt-proxy/socket',
      bindAddresses: ['127.0.0.1', '10.213.77.1'],
    });
    expect(text).toContain('BindAddress: 127.0.0.1 10.213.77.1\n');
    expect(text).toContain('CacheDir: /c/apt-proxy/cache\n');
    expect(text).toContain('Port: 3142\n');
    expect(text).toContain('Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian\n');
    expect(text).not.toContain('Proxy:');
    expect(renderProxyConfig({ cacheDir: 'c', logDir: 'l', pidFile: 'p', socket: 's', bindAddresses: ['127.0.0.1'], upstreamProxy: 'http://proxy.example.test:3128' })).toContain(
      'Proxy: http://proxy.example.test:3128\n',
    );
  });

  it('listens on loopback and the bridge of every lab that is up', () => {
    const text = renderProxyConfig({ cacheDir: 'c', logDir: 'l', pidFile: 'p', socket: 's', bindAddresses: ['127.0.0.1', '10.213.77.1', '10.213.90.1', '10.213.91.1'] });
    expect(text.split('\n').filter((l) => l.startsWith('BindAddress:'))).toEqual(['BindAddress: 127.0.0.1 10.213.77.1 10.213.90.1 10.213.91.1']);
  });

  it('needs no restart when only the bind addresses differ (a lab went down)', () => {
    const base = { cacheDir: 'c', logDir: 'l', pidFile: 'p', socket: 's' };
    const two = renderProxyConfig({ ...base, bindAddresses: ['127.0.0.1', '10.213.77.1', '10.213.90.1'] });
    expect(sameProxySettings(two, renderProxyConfig({ ...base, bindAddresses: ['127.0.0.1', '10.213.77.1'] }))).toBe(true);
    expect(sameProxySettings(two, renderProxyConfig({ ...base, bindAddresses: ['127.0.0.1'], upstreamProxy: 'http://proxy.example.test:3128' }))).toBe(false);
    expect(sameProxySettings(two, renderProxyConfig({ ...base, cacheDir: 'elsewhere', bindAddresses: ['127.0.0.1'] }))).toBe(false);
  });
});

describe('mountinfo', () => {
  it('finds the systemd v1 and the cgroup2 hierarchies', () => {
    expect(parseCgroupMounts(MOUNTINFO)).toEqual({ systemdV1: '/sys/fs/cgroup/systemd', unified: '/sys/fs/cgroup/unified' });
    expect(parseCgroupMounts('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw')).toEqual({ unified: '/sys/fs/cgroup' });
  });

  it('reads mount points, types and options, decoding escapes', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    const overlay = mounts.find((m) => m.fstype === 'overlay');
    expect(overlay?.mountPoint).toBe('/var/lib/hapg/lab/hosts/pg1/root');
    expect(overlay?.superOptions).toContain('lowerdir=/var/cache/hapg/lab/rootfs/bookworm-12634c8d40');
    expect(mounts.map((m) => m.mountPoint)).toContain('/tmp/with space');
  });
});

describe('parseInstalledPackages', () => {
  it('counts only packages dpkg reports as installed', () => {
    const output = 'debootstrap\tinstalled\nsystemd-container\tconfig-files\napt-cacher-ng\tinstalled\niproute2:amd64\tinstalled\nopenssh-client\tnot-installed\n';
    expect([...parseInstalledPackages(output)].sort()).toEqual(['apt-cacher-ng', 'debootstrap', 'iproute2']);
  });
});
