import type { HttpFact } from '../../facts/fact.js';

export interface EtcdMember {
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
}

/** etcd's own health verdict on this member (`GET /health`); undefined when not answering. */
export function etcdHealth(clientPort: number): HttpFact<{ healthy: boolean; detail: string } | undefined> {
  return {
    id: `etcd-health:${clientPort}`,
    http: { method: 'GET', port: clientPort, path: '/health', timeoutMs: 5000 },
    parse: (res) => {
      if (!res) return undefined;
      try {
        const body = JSON.parse(res.body) as { health?: string; reason?: string };
        return { healthy: res.status === 200 && body.health === 'true', detail: body.reason ?? `health=${body.health}` };
      } catch {
        return { healthy: false, detail: `HTTP ${res.status}` };
      }
    },
  };
}

/** The member list as this member sees it (v3 JSON gateway); undefined when not answering. */
export function etcdMembers(clientPort: number): HttpFact<EtcdMember[] | undefined> {
  return {
    id: `etcd-members:${clientPort}`,
    http: { method: 'POST', port: clientPort, path: '/v3/cluster/member/list', body: '{}', timeoutMs: 5000 },
    parse: (res) => (res && res.status === 200 ? parseMemberList(res.body) : undefined),
  };
}

export function parseMemberList(body: string): EtcdMember[] {
  const parsed = JSON.parse(body) as { members?: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[] }[] };
  return (parsed.members ?? []).map((m) => ({
    id: m.ID ?? '',
    name: m.name ?? '',
    peerUrls: m.peerURLs ?? [],
    clientUrls: m.clientURLs ?? [],
  }));
}

/** Whether a key exists in etcd (v3 range through the JSON gateway). */
export function etcdKeyExists(clientPort: number, key: string): HttpFact<boolean | undefined> {
  return {
    id: `etcd-key:${clientPort}:${key}`,
    http: {
      method: 'POST',
      port: clientPort,
      path: '/v3/kv/range',
      body: JSON.stringify({ key: Buffer.from(key).toString('base64'), count_only: true }),
      timeoutMs: 5000,
    },
    parse: (res) => {
      if (!res || res.status !== 200) return undefined;
      const parsed = JSON.parse(res.body) as { count?: string };
      return Number(parsed.count ?? 0) > 0;
    },
  };
}

/** A key's value in etcd (null: no such key; undefined: etcd did not answer). */
export function etcdKeyValue(clientPort: number, key: string): HttpFact<string | null | undefined> {
  return {
    id: `etcd-value:${clientPort}:${key}`,
    http: { method: 'POST', port: clientPort, path: '/v3/kv/range', body: JSON.stringify({ key: Buffer.from(key).toString('base64') }), timeoutMs: 5000 },
    parse: (res) => {
      if (!res || res.status !== 200) return undefined;
      const parsed = JSON.parse(res.body) as { kvs?: { value?: string }[] };
      const value = parsed.kvs?.[0]?.value;
      return value === undefined ? null : Buffer.from(value, 'base64').toString('utf8');
    },
  };
}

/** The v3 range end that selects every key starting with `prefix`. */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
