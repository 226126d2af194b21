import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { DoctorResult } from '../../shared/contracts/doctor.ts';
import type { JobContext } from '../../worker/define-job.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { diffKeys, digestOf, findingKeys } from './digest.ts';
import { detailMessages, noticeBlocks, summaryBlocks, summaryText } from '../../shared/render/doctor.ts';
import type { DoctorRun } from './run-doctor.ts';

/** What the scheduled doctor remembers between runs: which problems there were, and restart counts. */
const lastRunSchema = z.object({
  digest: z.string(),
  keys: z.array(z.string()),
  at: z.string(),
  restarts: z.record(z.string(), z.number()),
});
export type LastRun = z.infer<typeof lastRunSchema>;

export function lastRunKey(config: JobContext['config']): string {
  return `${keyPrefix(config)}:doctor:last`;
}

export async function readLastRun(redis: Redis, key: string): Promise<LastRun | undefined> {
  const raw = await redis.get(key);
  if (!raw) return undefined;
  try {
    const parsed = lastRunSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // unreadable state: treated as a first run, which alerts if anything is wrong
  }
}

function describeChanges(added: string[], resolved: string[]): string {
  const fmt = (k: string) => {
    const [check, status, , name] = k.split('|');
    return `${check}${name ? ` ${name}` : ''} (${status})`;
  };
  const clip = (list: string[]) => (list.length > 8 ? `${list.slice(0, 8).map(fmt).join(', ')} and ${list.length - 8} more` : list.map(fmt).join(', '));
  return [added.length ? `*New:* ${clip(added)}` : '', resolved.length ? `*Resolved:* ${clip(resolved)}` : ''].filter(Boolean).join('\n');
}

/**
 * After a scheduled run: posts to the alerts channel only when the set of problems differs from the
 * last run's (a first run counts as "was fine"), then remembers this run. Notify before saving: a
 * failed post is retried by the next run instead of being lost.
 */
export async function reportIfChanged(ctx: Pick<JobContext, 'notify' | 'config'>, redis: Redis, run: DoctorRun, previous: LastRun | undefined): Promise<{ changed: boolean }> {
  const result: DoctorResult = run.result;
  const keys = findingKeys(result.findings);
  const digest = digestOf(keys);
  const { added, resolved } = diffKeys(previous?.keys ?? [], keys);
  const changed = previous ? previous.digest !== digest : keys.length > 0;
  if (changed) {
    const allClear = keys.length === 0;
    const title = allClear ? `Doctor · ${result.project}: all clear` : `Doctor · ${result.project}: findings changed`;
    await ctx.notify({ key: 'doctor', action: 'root', text: `${title}: ${summaryText(result)}`, blocks: noticeBlocks(summaryBlocks(result, { title, note: describeChanges(added, resolved) || undefined })) });
    if (!allClear) {
      for (const m of detailMessages(result)) await ctx.notify({ key: 'doctor', action: 'thread', text: m.text, blocks: noticeBlocks(m.blocks) });
    }
  }
  const restarts = Object.fromEntries((run.snapshot?.containers ?? []).map((c) => [c.id, c.restartCount]));
  const state: LastRun = { digest, keys, at: result.checkedAt, restarts };
  await redis.set(lastRunKey(ctx.config), JSON.stringify(state));
  return { changed };
}
