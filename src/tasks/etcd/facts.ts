// Parsers of etcd's answers; the requests themselves are built by the EtcdClient endpoint.

export interface EtcdMember {
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

export interface EtcdHealth {
  healthy: boolean;
  detail: string;
}

/** `GET /health`: healthy only with status 200 and `health: "true"`. */
export function parseEtcdHealth(status: number, body: string): EtcdHealth {
  try {
    const parsed = JSON.parse(body) as { health?: string; reason?: string };
    return { healthy: status === 200 && parsed.health === 'true', detail: parsed.reason ?? `health=${parsed.health}` };
  } catch {
    return { healthy: false, detail: `HTTP ${status}` };
  }
}

/** The v3 JSON gateway's member list. */
export function parseMemberList(body: string): EtcdMember[] {
  const parsed = JSON.parse(body) as { members?: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }[] };
  return (parsed.members ?? []).map((m) => ({
    id: m.ID ?? '',
    name: m.name ?? '',
    peerUrls: m.peerURLs ?? [],
    clientUrls: m.clientURLs ?? [],
    isLearner: m.isLearner === true,
  }));
}

/** What a member says of itself (`/v3/maintenance/status`): who leads, how far its log is. */
export interface EtcdStatus {
  memberId: string;
  /** The member ID of the raft leader as this member knows it ('0': none). */
  leader: string;
  /** Raft log entries committed and applied on this member. */
  raftIndex: number;
  raftAppliedIndex: number;
  isLearner: boolean;
  errors: string[];
}

/** The v3 JSON gateway's status answer. */
export function parseEtcdStatus(body: string): EtcdStatus {
  const s = JSON.parse(body) as { header?: { member_id?: string }; leader?: string; raftIndex?: string; raftAppliedIndex?: string; isLearner?: boolean; errors?: string[] };
  const index = Number(s.raftIndex ?? 0);
  return {
    memberId: s.header?.member_id ?? '',
    leader: s.leader ?? '0',
    raftIndex: index,
    // etcd 3.4 reports the applied index too; without it the committed one stands in.
    raftAppliedIndex: s.raftAppliedIndex === undefined ? index : Number(s.raftAppliedIndex),
    isLearner: s.isLearner === true,
    errors: s.errors ?? [],
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
