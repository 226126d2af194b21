import { loadConfig } from '../shared/config/load.ts';
import { createLogger } from '../shared/log.ts';
import { startBot } from './start-bot.ts';
import { startBotHealth } from './bot-health.ts';
import { startBotDashboard } from './bot-dashboard.ts';
import { fatal, onShutdown } from './shutdown.ts';

try {
  const config = loadConfig();
  const log = createLogger({ name: 'cdb-bot' });
  const bot = await startBot(config, log);
  const health = await startBotHealth(config, bot, log);
  const dashboard = await startBotDashboard(config, bot.core.redis, log);
  onShutdown(log, async () => {
    await dashboard?.close();
    await health?.close();
    await bot.close();
  });
} catch (err) {
  fatal(err);
}
