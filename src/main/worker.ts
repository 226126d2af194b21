import { loadConfig } from '../config/load.ts';
import { createLogger } from '../log.ts';
import { startWorkerProcess } from '../worker/start-worker.ts';
import { fatal, onShutdown } from './shutdown.ts';

try {
  const config = loadConfig();
  if (config.secrets.slackBotToken || config.secrets.slackAppToken || config.secrets.slackSigningSecret) {
    throw new Error('The worker must not hold Slack credentials: remove SLACK_BOT_TOKEN/SLACK_APP_TOKEN/SLACK_SIGNING_SECRET (and their _FILE forms) from its environment.');
  }
  const log = createLogger({ name: 'cdb-worker' });
  const worker = await startWorkerProcess(config, log);
  onShutdown(log, () => worker.close());
} catch (err) {
  fatal(err);
}
