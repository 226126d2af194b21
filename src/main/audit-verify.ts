import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../shared/config/schema.ts';
import type { ErrorCode } from '../shared/errors.ts';
import { connectRedis, keyPrefix } from '../shared/queue/names.ts';
import { verifyAuditChain, type VerifyReport } from '../shared/audit/verify.ts';

export interface AuditVerifyOptions {
  readonly argv: string[];
  readonly loadConfig: () => Config;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

function readCheckpoints(file: string): unknown[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
    try {
      return JSON.parse(l) as unknown;
    } catch {
      return { unreadable: l.slice(0, 40) };
    }
  });
}

export function formatReport(r: VerifyReport): string {
  const key = r.keyed ? 'keyed (HMAC)' : 'UNKEYED (set CDB_AUDIT_KEY_FILE: without it a rewrite of the whole chain goes unseen)';
  const code: ErrorCode = 'AUDIT_TAMPERED';
  if (!r.ok) return `audit chain BROKEN: ${r.finding?.detail ?? 'unknown problem'}\n(${code}; ${r.entries} entries read, chain ${key})`;
  const range = r.lastSeq ? `entries ${r.firstSeq ?? '?'}–${r.lastSeq}` : 'no chained entries';
  const anchor = r.anchorSeq !== undefined ? `, trimmed up to ${r.anchorSeq} (signed anchor verified)` : '';
  const legacy = r.legacy ? `, ${r.legacy} older unchained entries at the start` : '';
  return `audit chain OK: ${range}${anchor}${legacy}; ${r.checkpointsMatched} checkpoint(s) matched; chain ${key}`;
}

/** `cdb audit verify [--checkpoints FILE] [--json]`: exit 0 when intact, 1 when not, 2 on errors. */
export async function runAuditVerify(opts: AuditVerifyOptions): Promise<number> {
  const json = opts.argv.includes('--json');
  const at = opts.argv.findIndex((a) => a === '--checkpoints' || a.startsWith('--checkpoints='));
  const flag = at >= 0 ? opts.argv[at] ?? '' : '';
  const config = opts.loadConfig();
  const file = flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : at >= 0 ? opts.argv[at + 1] : config.audit.checkpointFile;
  const unknown = opts.argv.filter((a, i) => a.startsWith('--') && a !== '--json' && i !== at);
  if (unknown.length) {
    opts.stderr.write(`cdb: unknown option ${unknown[0]}. Usage: cdb audit verify [--checkpoints FILE] [--json]\n`);
    return 2;
  }
  if (at >= 0 && (!file || !existsSync(file))) {
    opts.stderr.write(`cdb: checkpoint file ${file ?? '(missing)'} cannot be read.\n`);
    return 2;
  }
  const checkpoints = file && existsSync(file) ? readCheckpoints(file) : [];
  const redis = connectRedis(config);
  try {
    const report = await verifyAuditChain(redis, `${keyPrefix(config)}:audit`, config.secrets.auditKey, checkpoints);
    opts.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
