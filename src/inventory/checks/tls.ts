import type { CheckContext } from './context.js';

/** TLS is the default: a cluster that opts out is named on every run (plan, deploy, status). */
export function checkTlsOptOut(ctx: CheckContext): void {
  const { clusters } = ctx.inventory;
  for (const [name, cluster] of Object.entries(clusters)) {
    if (cluster.tls) continue;
    // An etcd cluster serves TLS with authentication as soon as one cluster on it asks for TLS.
    const etcdSecured = Object.entries(clusters).some(([other, c]) => other !== name && c.etcd === cluster.etcd && c.tls);
    const etcd = etcdSecured ? '' : ` and etcd ${cluster.etcd} without TLS or authentication`;
    ctx.warn(['clusters', name, 'tls'], `is false: cluster ${name} runs PostgreSQL and Patroni's REST API without TLS${etcd}: remove tls: false to use TLS (the default)`);
  }
}
