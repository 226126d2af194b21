import { loadConfig } from '../shared/config/load.ts';
import { createLogger } from '../shared/log.ts';
import { startBot } from './start-bot.ts';
import { fatal, onShutdown } from './shutdown.ts';

try {
  const config = loadConfig();
  const log = createLogger({ name: 'cdb-bot' });
  const bot = await startBot(config, log);
  onShutdown(log, () => bot.close());
} catch (err) {
  fatal(err);
}
