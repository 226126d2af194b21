import { loadConfig, slackCredentialsIn } from '../shared/config/load.ts';
import { createLogger } from '../shared/log.ts';
import { startWorkerProcess } from './start-worker.ts';
import { fatal, onShutdown } from './shutdown.ts';

try {
  const held = slackCredentialsIn(process.env);
  if (held.length) {
    throw new Error(`The worker must not hold Slack credentials: remove ${held.join(', ')} from its environment.`);
  }
  const config = loadConfig();
  const log = createLogger({ name: 'cdb-worker' });
  const worker = await startWorkerProcess(config, log);
  onShutdown(log, () => worker.close());
} catch (err) {
  fatal(err);
}
