import type { Inventory } from '../../inventory/schema.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, noop, type FileStep, type PlanItem } from '../../run/steps.js';
import type { CommandFact } from '../../facts/fact.js';
import { fileMatches, type RemoteFileState } from '../../facts/files.js';

export const APT_PROXY_PATH = '/etc/apt/apt.conf.d/01hapg-proxy';
export const APT_MIRROR_PATH = '/etc/apt/sources.list.d/hapg-mirror.list';
export const CREATECLUSTER_PATH = '/etc/postgresql-common/createcluster.conf';

/** The line that marks a policy-rc.d as hapg's own: a later run may remove it, never a foreign one. */
export const POLICY_RC_MARKER = '# hapg: keeps services stopped while packages install';
export const POLICY_RC_PATH = '/usr/sbin/policy-rc.d';

/**
 * Installs packages without their side effects: policy-rc.d keeps every service stopped
 * during the install (no single-node etcd with a default data dir, no HAProxy on default
 * ports), and createcluster.conf, written first, stops postgresql-common from creating and
 * starting a `main` cluster beside Patroni. hapg's policy-rc.d carries a marker: one left by a
 * killed run is replaced and removed; a policy-rc.d of the operator's is left as it is.
 */
const INSTALL_SCRIPT = [
  'set -e',
  `marker='${POLICY_RC_MARKER}'`,
  `if [ ! -e ${POLICY_RC_PATH} ] || grep -qxF "$marker" ${POLICY_RC_PATH}; then`,
  `  printf '#!/bin/sh\\n%s\\nexit 101\\n' "$marker" > ${POLICY_RC_PATH} && chmod 755 ${POLICY_RC_PATH}`,
  `  trap 'rm -f ${POLICY_RC_PATH}' EXIT`,
  'fi',
  'export DEBIAN_FRONTEND=noninteractive',
  // A run killed mid-install leaves dpkg interrupted (or its apt-get still running): wait for
  // the package lock, finish what dpkg left half-configured, then install as usual.
  'for i in $(seq 1 300); do out=$(dpkg --configure -a --force-confold 2>&1) && break; case "$out" in *lock*) sleep 1 ;; *) printf "%s\\n" "$out" >&2; break ;; esac; done',
  // A stalled transfer (a proxy that stops answering mid-file) fails after 30 s and is retried,
  // instead of hanging the deploy. An index download that stalls while the connection stays
  // open (seen with apt-cacher-ng when several hosts fetch the same InRelease at once) escapes
  // that timeout, so each update attempt is also bounded as a whole (it only touches lists).
  'net="-o Acquire::http::Timeout=30 -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300"',
  'for attempt in 1 2 3 4; do timeout -k 10 120 apt-get update -q $net && break; [ "$attempt" = 4 ] && exit 1; sleep $((attempt * 3)); done',
  'apt-get install -y -q --no-install-recommends $net -o Dpkg::Options::=--force-confold "$@"',
].join('\n');

/** Whether a policy-rc.d that hapg wrote is still in place (its run was killed mid-install). */
export const leftoverPolicyRc: CommandFact<boolean> = {
  id: 'leftover-policy-rc',
  argv: ['grep', '-qxF', POLICY_RC_MARKER, POLICY_RC_PATH],
  sudo: true,
  parse: (r) => r.exitCode === 0,
};

export interface PackageFacts {
  /** The host's Debian codename (bookworm, trixie): the suite of the inventory's mirror. */
  codename: string;
  installed: ReadonlySet<string>;
  files: ReadonlyMap<string, RemoteFileState | null>;
  /** hapg's policy-rc.d is still there: services would never be started or restarted by packages. */
  leftoverPolicyRc?: boolean;
}

/** Files that steer the package manager, wanted on a host before it installs anything. */
export function packageSourceFiles(inventory: Inventory, host: string, wanted: readonly string[], codename: string): FileStep[] {
  const files: FileStep[] = [];
  const proxy = inventory.packages.apt_proxy;
  if (proxy) files.push(file(host, APT_PROXY_PATH, renderTemplate('apt/proxy.conf', { proxy }), { title: 'configure the apt proxy' }));
  const mirror = inventory.packages.mirror;
  if (mirror) {
    files.push(file(host, APT_MIRROR_PATH, `# Managed by hapg: the inventory's package mirror.\ndeb ${mirror} ${codename} main\n`, { title: 'configure the package mirror' }));
  }
  if (wanted.some((p) => p.startsWith('postgresql-'))) {
    files.push(file(host, CREATECLUSTER_PATH, renderTemplate('postgres/createcluster.conf', {}), { title: 'keep postgresql-common from creating a main cluster' }));
  }
  return files;
}

/** The package steps for one host; a noop when everything is installed and configured. */
export function planPackages(inventory: Inventory, host: string, wanted: readonly string[], facts: PackageFacts): PlanItem[] {
  const files = packageSourceFiles(inventory, host, wanted, facts.codename).filter((f) => !fileMatches(facts.files.get(f.path), f));
  const missing = wanted.filter((p) => !facts.installed.has(p));
  const steps: PlanItem[] = [...files];
  if (facts.leftoverPolicyRc && missing.length === 0) {
    steps.push(exec(host, `remove the ${POLICY_RC_PATH} an interrupted run left`, ['rm', '-f', '--', POLICY_RC_PATH]));
  }
  if (missing.length > 0) {
    steps.push(exec(host, `install ${missing.join(' ')}`, ['sh', '-c', INSTALL_SCRIPT, 'sh', ...missing], { timeoutMs: 15 * 60_000 }));
  }
  return steps.length > 0 ? steps : [noop(host, `${wanted.length} packages installed`)];
}
