import { loadConfig, slackCredentialsIn } from '../shared/config/load.ts';
import { createLogger } from '../shared/log.ts';
import { startWorkerProcess } from './start-worker.ts';
import { startWorkerHealth } from './worker-health.ts';
import { fatal, onShutdown } from './shutdown.ts';

try {
  const held = slackCredentialsIn(process.env);
  if (held.length) {
    throw new Error(`The worker must not hold Slack credentials: remove ${held.join(', ')} from its environment.`);
  }
  const config = loadConfig();
  const log = createLogger({ name: 'cdb-worker' });
  const worker = await startWorkerProcess(config, log);
  const health = await startWorkerHealth(config, worker, log);
  onShutdown(log, async () => {
    await health?.close();
    await worker.close();
  });
} catch (err) {
  fatal(err);
}
