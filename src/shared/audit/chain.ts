import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The audit stream's hash chain. Each entry stores `seq`, `prev` (the previous entry's hash) and
 * `hash` = HMAC-SHA256(key, prev | seq | entry JSON). With the key from CDB_AUDIT_KEY_FILE, someone
 * with only Redis access can neither edit, insert nor re-link entries without it showing; without a
 * key the chain still catches edits by hand, but not a rewrite of the chain (docs/security.md).
 */
export const GENESIS = '0'.repeat(64);
/** Stands in for a key when none is configured, so there is one code path. */
export const UNKEYED = 'cdb-audit-chain-unkeyed';

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export function linkHash(key: string, prev: string, seq: number, entry: string): string {
  return createHmac('sha256', key).update(`${prev}\n${seq}\n${entry}`).digest('hex');
}

/** A signed statement "the chain had entry `seq` with hash `hash` at `at`": anchors trims and checkpoints. */
export interface Checkpoint {
  readonly kind: 'checkpoint' | 'anchor';
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  readonly sig: string;
}

function checkpointMac(key: string, c: Omit<Checkpoint, 'sig'>): string {
  return createHmac('sha256', key).update(`cdb-audit-${c.kind}\n${c.seq}\n${c.hash}\n${c.at}`).digest('hex');
}

export function signCheckpoint(key: string, c: Omit<Checkpoint, 'sig'>): Checkpoint {
  return { ...c, sig: checkpointMac(key, c) };
}

export function checkpointValid(key: string, c: Checkpoint): boolean {
  const want = Buffer.from(checkpointMac(key, c));
  const got = Buffer.from(String(c.sig));
  return want.length === got.length && timingSafeEqual(want, got);
}

export function parseCheckpoint(raw: unknown): Checkpoint | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const c = raw as Record<string, unknown>;
  if ((c.kind !== 'checkpoint' && c.kind !== 'anchor') || !Number.isInteger(c.seq) || typeof c.hash !== 'string' || typeof c.at !== 'string' || typeof c.sig !== 'string') return undefined;
  return { kind: c.kind, seq: c.seq as number, hash: c.hash, at: c.at, sig: c.sig };
}

/** `seq:hash`, as kept in the head key. */
export function parseHead(raw: string | null | undefined): ChainHead {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(raw ?? '');
  return m ? { seq: Number(m[1]), hash: m[2] ?? GENESIS } : { seq: 0, hash: GENESIS };
}
