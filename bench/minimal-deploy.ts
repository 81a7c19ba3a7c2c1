// The reference for bench/deploy: what a careful operator would type by hand to get the same
// three-host cluster, with no checks, no plan and no verification beyond "it answers". One
// apt-get install per host (the same packages hapg installs, HAProxy and keepalived included,
// skipping apt-get update when the lists exist), every etcd member started at once, Patroni
// on the leader, then both replicas at once, then HAProxy and keepalived with a minimal
// configuration. Fixed passwords, plain HTTP: a stopwatch reference, never a way to deploy.
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { execa } from 'execa';
import YAML from 'yaml';

interface LabInventory {
  ssh: { identity_files: string[]; known_hosts: string };
  hosts: Record<string, { address: string }>;
  clusters: { main: { postgres: { version: number }; vip: { address: string } } };
}

type Host = { name: string; address: string };

/** Runs a shell script on a lab host as root. */
async function onHost(inv: LabInventory, host: Host, script: string): Promise<string> {
  const r = await execa('ssh', ['-i', inv.ssh.identity_files[0]!, '-o', `UserKnownHostsFile=${inv.ssh.known_hosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${host.address}`, script], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${host.name}: ${r.stderr.slice(-400)}`);
  return r.stdout;
}

/** Polls a script on a host until it succeeds (a hand-written `until …; do sleep …; done`). */
async function until(inv: LabInventory, host: Host, check: string): Promise<void> {
  await onHost(inv, host, `for i in $(seq 1 600); do if ${check}; then exit 0; fi; sleep 0.2; done; exit 1`);
}

function etcdEnv(hosts: Host[], me: Host): string {
  const cluster = hosts.map((h) => `${h.name}=http://${h.address}:2380`).join(',');
  return [
    `ETCD_NAME="${me.name}"`,
    'ETCD_DATA_DIR="/var/lib/etcd/bench"',
    `ETCD_LISTEN_PEER_URLS="http://${me.address}:2380"`,
    `ETCD_LISTEN_CLIENT_URLS="http://${me.address}:2379,http://127.0.0.1:2379"`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS="http://${me.address}:2380"`,
    `ETCD_ADVERTISE_CLIENT_URLS="http://${me.address}:2379"`,
    `ETCD_INITIAL_CLUSTER="${cluster}"`,
    'ETCD_INITIAL_CLUSTER_TOKEN="bench"',
    'ETCD_INITIAL_CLUSTER_STATE="new"',
  ].join('\n');
}

function patroniYml(hosts: Host[], me: Host, version: number): string {
  return YAML.stringify({
    scope: 'main',
    name: me.name,
    restapi: { listen: `${me.address}:8008`, connect_address: `${me.address}:8008` },
    etcd3: { hosts: hosts.map((h) => `${h.address}:2379`) },
    bootstrap: {
      dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, postgresql: { use_pg_rewind: true, use_slots: true } },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
    },
    postgresql: {
      listen: `${me.address},127.0.0.1:5432`,
      connect_address: `${me.address}:5432`,
      data_dir: `/var/lib/postgresql/${version}/main`,
      bin_dir: `/usr/lib/postgresql/${version}/bin`,
      pg_hba: ['local all all peer', 'host all all 0.0.0.0/0 scram-sha-256', 'host replication replicator 0.0.0.0/0 scram-sha-256'],
      authentication: {
        superuser: { username: 'postgres', password: 'bench-superuser' },
        replication: { username: 'replicator', password: 'bench-replication' },
        rewind: { username: 'rewind_user', password: 'bench-rewind' },
      },
    },
  });
}

function haproxyCfg(hosts: Host[]): string {
  return [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode tcp',
    '  timeout connect 4s',
    '  timeout client 30m',
    '  timeout server 30m',
    'listen primary',
    '  bind *:5000',
    '  option httpchk GET /primary',
    '  http-check expect status 200',
    '  default-server inter 2s fall 3 rise 2 on-marked-down shutdown-sessions',
    ...hosts.map((h) => `  server ${h.name} ${h.address}:5432 check port 8008`),
    '',
  ].join('\n');
}

function keepalivedConf(hosts: Host[], me: Host, vip: string, priority: number): string {
  return [
    'vrrp_script check_haproxy {',
    '  script "/usr/bin/systemctl is-active --quiet haproxy"',
    '  interval 2',
    '}',
    'vrrp_instance bench {',
    '  state BACKUP',
    '  interface eth0',
    '  virtual_router_id 99',
    `  priority ${priority}`,
    '  advert_int 1',
    `  unicast_src_ip ${me.address}`,
    `  unicast_peer {\n${hosts.filter((h) => h !== me).map((h) => `    ${h.address}`).join('\n')}\n  }`,
    `  virtual_ipaddress {\n    ${vip}/24 dev eth0\n  }`,
    '  track_script {\n    check_haproxy\n  }',
    '}',
    '',
  ].join('\n');
}

/** Polls until a TCP connection to address:port succeeds (the VIP is up and HAProxy behind it). */
async function untilConnects(address: string, port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: address, port, timeout: 500 }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
      socket.on('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${address}:${port} never answered`);
}

/** A shell snippet that writes a file with its mode and owner. */
function writeFileScript(path: string, content: string, mode = '0644', owner = 'root'): string {
  return `mkdir -p "$(dirname ${path})" && printf '%s' '${content.replace(/'/g, "'\\''")}' > ${path} && chmod ${mode} ${path} && chown ${owner} ${path}`;
}

/** The reference's package installation alone, on every host of `hosts` at once. */
async function installPackages(inv: LabInventory, hosts: Host[], version: number): Promise<void> {
  const packages = `etcd-server etcd-client postgresql-${version} patroni python3-etcd haproxy keepalived`;
  await Promise.all(hosts.map((h) => onHost(inv, h, [
    "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d",
    'mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf',
    'export DEBIAN_FRONTEND=noninteractive',
    'ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -q >/dev/null',
    `apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold ${packages} >/dev/null`,
    'rm -f /usr/sbin/policy-rc.d',
  ].join(' && '))));
}

/** Seconds the reference's package installation takes on the first `count` hosts of a lab inventory, all at once. */
export async function minimalInstall(inventoryPath: string, count: number): Promise<number> {
  const inv = YAML.parse(await readFile(inventoryPath, 'utf8')) as LabInventory;
  const hosts = Object.entries(inv.hosts).map(([name, h]) => ({ name, address: h.address })).slice(0, count);
  const t0 = performance.now();
  await installPackages(inv, hosts, inv.clusters.main.postgres.version);
  return (performance.now() - t0) / 1000;
}

/** Deploys the reference cluster on the lab's three hosts; returns the seconds each part took. */
export async function minimalDeploy(inventoryPath: string): Promise<{ install: number; bootstrap: number; edge: number; total: number }> {
  const inv = YAML.parse(await readFile(inventoryPath, 'utf8')) as LabInventory;
  const hosts = Object.entries(inv.hosts).map(([name, h]) => ({ name, address: h.address })).slice(0, 3);
  const version = inv.clusters.main.postgres.version;
  const vip = inv.clusters.main.vip.address;
  const t0 = performance.now();
  await installPackages(inv, hosts, version);
  const t1 = performance.now();
  // etcd: every member at once (each waits for its peers).
  await Promise.all(hosts.map((h) => onHost(inv, h, `${writeFileScript('/etc/default/etcd', etcdEnv(hosts, h))} && systemctl restart etcd`)));
  await until(inv, hosts[0]!, 'etcdctl --endpoints=http://127.0.0.1:2379 endpoint health >/dev/null 2>&1');
  // Patroni: the leader first, then both replicas at once.
  const startPatroni = (h: Host) => onHost(inv, h, `${writeFileScript('/etc/patroni/config.yml', patroniYml(hosts, h, version), '0600', 'postgres')} && systemctl restart patroni`);
  await startPatroni(hosts[0]!);
  await until(inv, hosts[0]!, `curl -sf -o /dev/null http://${hosts[0]!.address}:8008/primary`);
  await Promise.all(hosts.slice(1).map(startPatroni));
  await Promise.all(hosts.slice(1).map((h) => until(inv, h, `curl -sf -o /dev/null http://${h.address}:8008/replica`)));
  const t2 = performance.now();
  await Promise.all(hosts.map((h, i) => onHost(inv, h, [
    `${writeFileScript('/etc/haproxy/haproxy.cfg', haproxyCfg(hosts))} && systemctl restart haproxy`,
    `${writeFileScript('/etc/keepalived/keepalived.conf', keepalivedConf(hosts, h, vip, 150 - i), '0600')} && systemctl restart keepalived`,
  ].join(' && '))));
  await untilConnects(vip, 5000);
  const t3 = performance.now();
  return { install: (t1 - t0) / 1000, bootstrap: (t2 - t1) / 1000, edge: (t3 - t2) / 1000, total: (t3 - t0) / 1000 };
}
