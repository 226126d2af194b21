// A worker process of its own for one restore, so a test can SIGKILL it mid-restore
// (test/integration/backup-drill.test.ts). Config and ids come from the environment.
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import restoreJob from '../../jobs/restore.ts';

const file = JSON.parse(process.env.CDB_TEST_CONFIG ?? '{}') as Record<string, unknown>;
const config = buildConfig(file, { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, '(restore child)');
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
await restoreJob.run({
  requestId: process.env.CDB_TEST_REQUEST ?? 'req-child-0001', actor: { userId: 'U0ALICE', teamId: 'T0001', name: 'alice' },
  origin: { kind: 'slack', channel: 'C2147483705', threadTs: '1700000000.000100' }, config, docker: new Docker(), redis,
  log: createLogger({ level: 'silent' }), signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined,
  approval: { id: 'approved-in-child-0001', approvers: ['U0BOB'] },
}, { backup: process.env.CDB_TEST_BACKUP ?? 'latest' });
process.stdout.write('restore finished\n');
await redis.quit();
