import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TAG_NAME, type RollbackManifest } from '../../shared/contracts/rollback.ts';
import { assertTagName } from './naming.ts';

const manifestSchema = z.object({
  version: z.literal(1),
  tag: z.string().regex(TAG_NAME),
  kind: z.enum(['rollback', 'pre-rollback']),
  label: z.string().optional(),
  project: z.string(),
  createdAt: z.string(),
  createdBy: z.object({ userId: z.string(), name: z.string().optional() }),
  requestId: z.string(),
  services: z.record(
    z.string(),
    z.object({
      imageId: z.string().regex(/^sha256:[a-f0-9]{64}$/),
      ref: z.string(),
      originalRef: z.string(),
      configHash: z.string().optional(),
      containers: z.number().int(),
    }),
  ),
});

export function parseManifest(raw: string): RollbackManifest | undefined {
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Manifests live twice: in Redis (what the bot's commands read, fast) and as JSON files on the
 * worker host (what survives a Redis flush, and what an operator can read without the bot).
 */
export class ManifestStore {
  private readonly base: string;
  private readonly dir: string;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
    manifestDir: string,
    readonly project: string,
  ) {
    this.base = `${keyPrefix}:rollback:${project}`;
    this.dir = join(manifestDir, project);
  }

  get lockKey(): string {
    return `${this.base}:lock`;
  }

  fileOf(tag: string): string {
    assertTagName(tag);
    return join(this.dir, `${tag}.json`);
  }

  async save(m: RollbackManifest): Promise<string> {
    const file = this.fileOf(m.tag);
    const json = JSON.stringify(m, null, 2);
    await mkdir(this.dir, { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, `${json}\n`, { mode: 0o640 });
    await rename(tmp, file);
    await this.redis.multi().set(`${this.base}:manifest:${m.tag}`, json).zadd(`${this.base}:index`, Date.parse(m.createdAt), m.tag).exec();
    return file;
  }

  async exists(tag: string): Promise<boolean> {
    return (await this.get(tag)) !== undefined;
  }

  async get(tag: string): Promise<RollbackManifest | undefined> {
    const file = this.fileOf(tag);
    const cached = await this.redis.get(`${this.base}:manifest:${tag}`);
    const fromRedis = cached ? parseManifest(cached) : undefined;
    if (fromRedis) return fromRedis;
    try {
      return parseManifest(await readFile(file, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /**
   * Every manifest, newest first: Redis's index plus any file Redis has lost. With `strict`
   * (before pruning), a directory that exists but cannot be read, or a listed manifest that cannot
   * be read, throws instead of being skipped: a store that only looks smaller must not cause deletions.
   */
  async list(opts: { strict?: boolean } = {}): Promise<RollbackManifest[]> {
    const tags = new Set(await this.redis.zrange(`${this.base}:index`, 0, -1));
    try {
      for (const f of await readdir(this.dir)) {
        const tag = f.replace(/\.json$/, '');
        if (f.endsWith('.json') && TAG_NAME.test(tag)) tags.add(tag);
      }
    } catch (err) {
      // ENOENT: no directory yet, nothing was tagged on this host. Anything else: unreadable.
      if (opts.strict && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`manifest directory ${this.dir} is unreadable: ${(err as Error).message}`);
    }
    const all = await Promise.all([...tags].map(async (t) => [t, await this.get(t)] as const));
    const unreadable = all.filter(([, m]) => m === undefined).map(([t]) => t);
    if (opts.strict && unreadable.length) throw new Error(`manifests ${unreadable.slice(0, 5).join(', ')} are listed but unreadable`);
    return all
      .map(([, m]) => m)
      .filter((m): m is RollbackManifest => m !== undefined)
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.tag.localeCompare(a.tag));
  }

  async delete(tag: string): Promise<void> {
    const file = this.fileOf(tag);
    await this.redis.multi().del(`${this.base}:manifest:${tag}`).zrem(`${this.base}:index`, tag).exec();
    await rm(file, { force: true });
  }
}
