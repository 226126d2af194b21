import { appendFile } from 'node:fs/promises';
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import type { Checkpoint } from '../shared/audit/chain.ts';

export interface CheckpointDeps {
  readonly config: Config;
  readonly audit: AuditLog;
  readonly redis: Redis;
  readonly client: WebClient;
  readonly log: Logger;
}

/**
 * Publishes the chain's head, signed, outside Redis: a line in the checkpoint file, an audit log
 * line, and a message in the configured channel. Whoever rewrites the stream later cannot change
 * those, so `cdb audit verify --checkpoints <file>` catches a rewrite or a cut end.
 */
export async function writeCheckpoint(deps: CheckpointDeps): Promise<Checkpoint | undefined> {
  const { config, audit, log } = deps;
  const cp = await audit.checkpoint();
  if (!cp) return undefined;
  log.info({ audit: true, checkpoint: cp }, `audit checkpoint seq ${cp.seq}`);
  if (config.audit.checkpointFile) {
    try {
      await appendFile(config.audit.checkpointFile, `${JSON.stringify(cp)}\n`, { mode: 0o640 });
    } catch (err) {
      log.error({ err, file: config.audit.checkpointFile }, 'audit checkpoint not written to file');
    }
  }
  if (config.audit.checkpointChannel) {
    try {
      await deps.client.chat.postMessage({
        channel: config.audit.checkpointChannel,
        text: `Audit checkpoint: entry ${cp.seq}, hash ${cp.hash.slice(0, 16)}… (signed). Keep this message: \`cdb audit verify\` checks the stream against it.\n\`\`\`${JSON.stringify(cp)}\`\`\``,
        unfurl_links: false,
      });
    } catch (err) {
      log.warn({ err }, 'audit checkpoint not posted');
    }
  }
  return cp;
}

/** Every `audit.checkpointMinutes`, one bot replica (a Redis lock per period) writes a checkpoint. */
export function startCheckpoints(deps: CheckpointDeps): { stop(): void } {
  const minutes = deps.config.audit.checkpointMinutes;
  if (!minutes || (!deps.config.audit.checkpointFile && !deps.config.audit.checkpointChannel)) return { stop: () => undefined };
  const periodMs = Math.round(minutes * 60_000);
  const lockKey = `${deps.config.redis.prefix}:audit:checkpoint-lock`;
  const tick = async (): Promise<void> => {
    const mine = await deps.redis.set(lockKey, '1', 'PX', Math.max(1000, periodMs - 1000), 'NX');
    if (mine === 'OK') await writeCheckpoint(deps);
  };
  const timer = setInterval(() => void tick().catch((err: unknown) => deps.log.warn({ err }, 'audit checkpoint failed')), periodMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
