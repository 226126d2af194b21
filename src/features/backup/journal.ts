import type { Redis } from 'ioredis';
import type { Actor, Origin } from '../../shared/contracts/envelope.ts';

/**
 * A restore in Redis, written before each step that changes the stack: which containers were
 * stopped (before stopping them), the safety backup's name, each component's state. A worker
 * killed at any point leaves enough here for the next one to put the stack back together.
 */
export interface RestoreJournal {
  readonly version: 1;
  readonly requestId: string;
  readonly origin?: Origin;
  readonly approvalId?: string;
  readonly actor: Actor;
  readonly project: string;
  readonly backup: string;
  safety?: string;
  phase: 'safety' | 'stopping' | 'restoring' | 'starting' | 'verified' | 'reverting';
  stopped: Array<{ id: string; service: string }>;
  components: Record<string, 'pending' | 'restoring' | 'restored'>;
  readonly startedAt: string;
}

export function journalKey(prefix: string, project: string): string {
  return `${prefix}:restore:journal:${project}`;
}

export class JournalStore {
  constructor(private readonly redis: Redis, private readonly key: string) {}

  async read(): Promise<RestoreJournal | undefined> {
    const raw = await this.redis.get(this.key);
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as RestoreJournal;
    } catch {
      return undefined;
    }
  }

  async write(j: RestoreJournal): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(j));
  }

  async clear(): Promise<void> {
    await this.redis.del(this.key);
  }
}

/**
 * Test-only: `CDB_FAILPOINT=<name>` makes the process stop at that step and wait, so a test can
 * SIGKILL it at an exact moment of a restore. Never set in production.
 */
export async function failpoint(name: string): Promise<void> {
  if (process.env.CDB_FAILPOINT !== name) return;
  process.stderr.write(`failpoint ${name} reached\n`);
  await new Promise(() => undefined);
}
