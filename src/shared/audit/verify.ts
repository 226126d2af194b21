import type { Redis } from 'ioredis';
import { GENESIS, UNKEYED, checkpointValid, linkHash, parseCheckpoint, parseHead, type Checkpoint } from './chain.ts';
import { auditKeys, fieldsOf } from './audit.ts';

export type Problem = 'changed' | 'removed' | 'inserted' | 'bad-anchor' | 'bad-checkpoint';

export interface VerifyFinding {
  readonly problem: Problem;
  /** The stream id of the entry named (for `removed`: the entry right after the gap, if any). */
  readonly streamId?: string;
  readonly seq?: number;
  readonly detail: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly keyed: boolean;
  readonly entries: number;
  /** Entries written before the chain existed, at the start of the stream. */
  readonly legacy: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  /** The signed anchor left by trimming, when the stream was capped. */
  readonly anchorSeq?: number;
  readonly checkpointsMatched: number;
  readonly finding?: VerifyFinding;
}

interface Row {
  readonly id: string;
  readonly seq?: number;
  readonly prev?: string;
  readonly hash?: string;
  readonly entry?: string;
}

function describe(row: Row): string {
  try {
    const e = JSON.parse(row.entry ?? '{}') as { command?: string; outcome?: string; actor?: { userId?: string }; at?: string };
    return `${e.command ?? '?'} ${e.outcome ?? '?'} by ${e.actor?.userId ?? '?'} at ${e.at ?? '?'}`;
  } catch {
    return 'unreadable entry';
  }
}

async function readAll(redis: Redis, stream: string): Promise<Row[]> {
  const out: Row[] = [];
  let start = '-';
  for (;;) {
    const page = await redis.xrange(stream, start, '+', 'COUNT', 1000);
    for (const [id, list] of page) {
      const f = fieldsOf(list);
      const seq = f.seq !== undefined && /^\d+$/.test(f.seq) ? Number(f.seq) : undefined;
      out.push({ id, seq, prev: f.prev, hash: f.hash, entry: f.entry });
    }
    if (page.length < 1000) return out;
    start = `(${page[page.length - 1]?.[0] ?? '0-0'}`;
  }
}

/**
 * Walks the stream oldest first and names the first entry that was changed, removed or inserted.
 * An entry whose HMAC does not verify was changed if the chain still runs through it (the next entry
 * links to it) and inserted if the chain runs around it. A verified entry further on than expected
 * means entries were removed; the head key and external checkpoints catch removals at the end.
 */
export async function verifyAuditChain(redis: Redis, streamKey: string, key: string | undefined, checkpoints: readonly unknown[] = []): Promise<VerifyReport> {
  const k = key ?? UNKEYED;
  const keys = auditKeys(streamKey);
  const [rows, headRaw, anchorRaw] = await Promise.all([readAll(redis, keys.stream), redis.get(keys.head), redis.get(keys.anchor)]);
  let legacy = 0;
  let matched = 0;
  const base = { keyed: key !== undefined, entries: rows.length };
  const fail = (finding: VerifyFinding): VerifyReport => ({ ok: false, ...base, legacy, checkpointsMatched: matched, finding });

  let anchor: Checkpoint | undefined;
  if (anchorRaw) {
    let doc: unknown;
    try { doc = JSON.parse(anchorRaw); } catch { doc = undefined; }
    anchor = parseCheckpoint(doc);
    if (!anchor || anchor.kind !== 'anchor' || !checkpointValid(k, anchor)) return fail({ problem: 'bad-anchor', detail: 'the trim anchor is not signed with the audit key: the start of the stream cannot be trusted' });
  }
  let expectedSeq = anchor ? anchor.seq + 1 : 1;
  let expectedPrev = anchor ? anchor.hash : GENESIS;
  let prevRow: Row | undefined;
  const bySeq = new Map<number, Row>();

  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Row;
    const chained = row.seq !== undefined && row.hash !== undefined && row.prev !== undefined && row.entry !== undefined;
    if (!chained) {
      if (!anchor && expectedSeq === 1 && !prevRow) { legacy++; continue; }
      return fail({ problem: 'inserted', streamId: row.id, detail: `entry ${row.id} (${describe(row)}) is not part of the chain: it was inserted` });
    }
    const seq = row.seq as number;
    const valid = linkHash(k, row.prev as string, seq, row.entry as string) === row.hash;
    if (!valid) {
      const next = rows[i + 1];
      // The newest entry has no successor to tell: the head says whether the chain ever reached it.
      const bypassed = next ? next.prev === expectedPrev : seq !== expectedSeq || parseHead(headRaw).seq < seq;
      return bypassed
        ? fail({ problem: 'inserted', streamId: row.id, seq, detail: `entry ${row.id} (${describe(row)}) was inserted: the chain runs around it` })
        : fail({ problem: 'changed', streamId: row.id, seq, detail: `entry ${row.id} (seq ${seq}, now reads: ${describe(row)}) was changed: its hash no longer matches its content` });
    }
    if (seq < expectedSeq) return fail({ problem: 'inserted', streamId: row.id, seq, detail: `entry ${row.id} (seq ${seq}, ${describe(row)}) is a copy of an earlier entry: it was inserted` });
    if (seq > expectedSeq) {
      const where = prevRow ? `after ${prevRow.id}` : anchor ? `after the trim anchor (seq ${anchor.seq})` : 'at the start of the stream';
      const range = seq - 1 === expectedSeq ? `entry seq ${expectedSeq}` : `entries seq ${expectedSeq}–${seq - 1}`;
      return fail({ problem: 'removed', streamId: row.id, seq: expectedSeq, detail: `${range} ${where}, before ${row.id}, ${seq - expectedSeq === 1 ? 'was' : 'were'} removed` });
    }
    if (row.prev !== expectedPrev) {
      return fail({ problem: 'changed', streamId: prevRow?.id, seq: seq - 1, detail: `entry ${prevRow?.id ?? '(anchor)'} (seq ${seq - 1}) was replaced: ${row.id} links to another hash` });
    }
    bySeq.set(seq, row);
    expectedSeq = seq + 1;
    expectedPrev = row.hash as string;
    prevRow = row;
  }

  const lastSeq = expectedSeq - 1;
  const head = parseHead(headRaw);
  if (head.seq > lastSeq) {
    return fail({ problem: 'removed', seq: lastSeq + 1, detail: `the newest entries (seq ${lastSeq + 1}–${head.seq}) were removed: the chain's head says seq ${head.seq}, the stream ends at ${lastSeq}` });
  }
  for (const raw of checkpoints) {
    const cp = parseCheckpoint(raw);
    if (!cp || cp.kind !== 'checkpoint' || !checkpointValid(k, cp)) return fail({ problem: 'bad-checkpoint', detail: 'a checkpoint line is not signed with the audit key' });
    if (cp.seq > lastSeq) return fail({ problem: 'removed', seq: lastSeq + 1, detail: `entries seq ${lastSeq + 1}–${cp.seq} were removed: checkpoint of ${cp.at} saw seq ${cp.seq}, the stream ends at ${lastSeq}` });
    const row = bySeq.get(cp.seq);
    if (row) {
      if (row.hash !== cp.hash) return fail({ problem: 'changed', streamId: row.id, seq: cp.seq, detail: `entry ${row.id} (seq ${cp.seq}) differs from the checkpoint of ${cp.at}: the chain was rewritten from there` });
      matched++;
    } else if (!anchor || cp.seq > anchor.seq) {
      return fail({ problem: 'removed', seq: cp.seq, detail: `entry seq ${cp.seq} (checkpoint of ${cp.at}) is missing and was not trimmed` });
    } else {
      matched++; // trimmed away legitimately: the anchor is later
    }
  }
  const first = rows.find((r) => r.seq !== undefined)?.seq;
  return { ok: true, ...base, legacy, firstSeq: first, lastSeq: lastSeq || undefined, anchorSeq: anchor?.seq, checkpointsMatched: matched };
}
