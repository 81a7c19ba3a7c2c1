/** PostgreSQL roles and the REST API user Patroni works with; fixed so every cluster reads alike. */
export const PATRONI_ROLES = {
  superuser: 'postgres',
  replication: 'replicator',
  rewind: 'rewind_user',
  restApi: 'patroni',
} as const;

/** Where hapg puts Patroni's configuration on every PostgreSQL host. */
export const PATRONI_CONFIG_PATH = '/etc/patroni/patroni.yml';
export const PATRONI_UNIT_PATH = '/etc/systemd/system/patroni.service';
/** The distribution's etcd.service reads this file. */
export const ETCD_ENV_PATH = '/etc/default/etcd';
export const HAPROXY_CONFIG_PATH = '/etc/haproxy/haproxy.cfg';
export const KEEPALIVED_CONFIG_PATH = '/etc/keepalived/keepalived.conf';
/** Patroni's etcd namespace (its default). */
export const PATRONI_NAMESPACE = '/service/';
