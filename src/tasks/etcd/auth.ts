// etcd authentication on a TLS etcd cluster: a root user (hapg's own requests log in as root)
// and, per Patroni cluster, a user whose role reaches only that cluster's keys. Patroni's etcd3
// client talks to etcd's gRPC gateway, which ignores client certificates' names, so every
// client logs in with a password over TLS. Authentication is switched on last, once every
// user exists: clients that log in never see a moment where their user is missing.
import type { HttpFact } from '../../facts/fact.js';
import { clusterSecretKey, etcdRootSecretKey, requireSecret, type InventorySecrets } from '../../inventory/secrets.js';
import { etcdClient, type EtcdClient } from '../../model/endpoints.js';
import type { DesiredState } from '../../model/model.js';
import { noop, type HttpStep, type PlanItem } from '../../run/steps.js';
import { notesOnly, type Stage } from '../../stages/stage.js';
import { PATRONI_NAMESPACE } from '../patroni/model.js';
import { clustersOnEtcd, etcdMode } from '../tls/model.js';
import { prefixRangeEnd } from './facts.js';

/** The etcd user Patroni of cluster `cluster` logs in as. */
export const etcdUserOf = (cluster: string) => `patroni-${cluster}`;
/** Its role: read and write under the cluster's own key prefix, nothing else. */
export const etcdRoleOf = (cluster: string) => `patroni-${cluster}`;

/** What an etcd cluster's authentication looks like, read through one member. */
export interface EtcdAuthState {
  /** undefined: the member did not answer. */
  enabled: boolean | undefined;
  users: string[];
  roles: string[];
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Whether authentication is on: a read without a token is refused only then. */
export function authEnabledFact(etcd: EtcdClient): HttpFact<boolean | undefined> {
  const { login: _login, ...anonymous } = etcd.step('', '', '/v3/kv/range', { key: b64('/hapg/'), count_only: true });
  return {
    id: `etcd-auth-enabled:${etcd.port}`,
    http: { method: 'POST', port: etcd.port, path: anonymous.path, body: JSON.stringify(anonymous.body), timeoutMs: 5000, ...(anonymous.tls ? { tls: anonymous.tls, schemeFallback: true } : {}) },
    parse: (res) => {
      if (!res) return undefined;
      if (res.status === 200) return false;
      return /user name is empty|invalid auth token|permission denied/.test(res.body) ? true : undefined;
    },
  };
}

/** The names etcd lists at `path` (`/v3/auth/user/list` → users, `/v3/auth/role/list` → roles), as root. */
function namesFact(etcd: EtcdClient, what: 'users' | 'roles'): HttpFact<string[]> {
  const step = etcd.step('', '', what === 'users' ? '/v3/auth/user/list' : '/v3/auth/role/list', {});
  return {
    id: `etcd-auth-${what}:${etcd.port}`,
    http: { method: 'POST', port: etcd.port, path: step.path, body: '{}', timeoutMs: 5000, ...(step.tls ? { tls: step.tls, schemeFallback: true } : {}), ...(step.login ? { login: step.login } : {}) },
    parse: (res) => (res && res.status === 200 ? (((JSON.parse(res.body) as Record<string, unknown>)[what] as string[] | undefined) ?? []) : []),
  };
}

/** The steps that bring etcd's users, roles and authentication to what the inventory wants. */
export function planEtcdAuth(model: DesiredState, name: string, host: string, state: EtcdAuthState, secrets: InventorySecrets): PlanItem[] {
  const etcd = etcdClient(model, name);
  const items: HttpStep[] = [];
  const exists = { status: 400, body: /already exists/, changed: false };
  const addUser = (user: string, password: ReturnType<typeof requireSecret>) => {
    if (!state.users.includes(user)) items.push(etcd.step(host, `etcd ${name}: add user ${user}`, '/v3/auth/user/add', { name: user, password }, [{ status: 200, changed: true }, exists]));
  };
  addUser('root', requireSecret(secrets, etcdRootSecretKey(name)));
  if (!state.enabled) items.push(etcd.step(host, `etcd ${name}: grant role root to user root`, '/v3/auth/user/grant', { user: 'root', role: 'root' }));
  // Every cluster on this etcd logs in, those that opted out of TLS for their own hops too:
  // their Patroni reaches this etcd over TLS with a user like any other.
  for (const cluster of clustersOnEtcd(model.inventory, name)) {
    const prefix = `${PATRONI_NAMESPACE}${model.cluster(cluster).scope}/`;
    const role = etcdRoleOf(cluster);
    if (!state.roles.includes(role)) {
      items.push(etcd.step(host, `etcd ${name}: add role ${role}`, '/v3/auth/role/add', { name: role }, [{ status: 200, changed: true }, exists]));
      items.push(
        etcd.step(host, `etcd ${name}: role ${role} reads and writes ${prefix}* only`, '/v3/auth/role/grant', {
          name: role,
          perm: { permType: 'READWRITE', key: b64(prefix), range_end: prefixRangeEnd(prefix).toString('base64') },
        }),
      );
    }
    const user = etcdUserOf(cluster);
    if (!state.users.includes(user)) {
      addUser(user, requireSecret(secrets, clusterSecretKey(cluster, 'etcd')));
      items.push(etcd.step(host, `etcd ${name}: grant role ${role} to user ${user}`, '/v3/auth/user/grant', { user, role }));
    }
  }
  if (!state.enabled) items.push(etcd.step(host, `etcd ${name}: enable authentication`, '/v3/auth/enable', {}));
  return items.length ? items : [noop(host, `etcd ${name}: authentication on, users and roles as wanted`)];
}

/** Authentication of a TLS etcd cluster, after it is in quorum and before any Patroni starts. */
export function etcdAuthStage(model: DesiredState, name: string): Stage {
  return {
    id: `etcd-auth:${name}`,
    title: `etcd cluster ${name}: authentication`,
    async plan({ session, secrets }) {
      // During a conversion to TLS authentication comes on in the pass that gives Patroni its login, before Patroni
      // restarts with it: Patroni (4.0.7 with etcd 3.5) does not start with a login on an etcd without authentication
      // (it misreads etcd's "authentication is not enabled"). Its clusters are paused then, so Patroni without a
      // login for a moment changes nothing.
      const mode = etcdMode(model.inventory, name);
      if (mode !== 'tls' && mode !== 'dual-clients-tls') return notesOnly();
      const etcd = etcdClient(model, name);
      const host = etcd.hosts.find((h) => session.remotes.has(h));
      if (!host) return notesOnly();
      const enabled = await session.facts.get(host, authEnabledFact(etcd));
      const [users, roles] = enabled === undefined ? [[], []] : await Promise.all([session.facts.get(host, namesFact(etcd, 'users')), session.facts.get(host, namesFact(etcd, 'roles'))]);
      return { blocks: [{ items: planEtcdAuth(model, name, host, { enabled, users, roles }, secrets) }], notes: [] };
    },
  };
}
