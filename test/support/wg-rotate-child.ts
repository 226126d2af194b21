// A worker process that starts a WireGuard rotation and SIGKILLs itself right before one step,
// for tests that check the next worker finishes or rolls back what it left.
//   tsx test/support/wg-rotate-child.ts <config.json> <tunnel> <step-to-die-before> <redis-url>
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { rotateWireguard } from '../../src/features/rotation/wireguard/run.ts';

const [configPath = '', tunnel = '', dieAt = '', redisUrl = ''] = process.argv.slice(2);
const config = buildConfig(JSON.parse(await readFile(configPath, 'utf8')), {}, configPath);
const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
const log = createLogger({ level: 'warn', name: 'wg-child' });
await rotateWireguard(
  {
    config, redis, log, workerId: `child-${process.pid}`, leaseMs: 1500,
    beforeStep: (name) => {
      if (name === dieAt) {
        process.stdout.write(`dying before ${name}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    },
  },
  tunnel,
  { requestId: 'wgchild0001', command: 'rotate', args: { secret: 'wireguard', tunnel }, origin: { kind: 'cli' }, actor: { userId: 'local:test', teamId: 'local' } },
  () => undefined,
  new AbortController().signal,
);
process.stdout.write('finished without dying\n');
await redis.quit();
