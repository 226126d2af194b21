import { existsSync } from 'node:fs';
import { loadConfig } from '../shared/config/load.ts';
import { createLogger } from '../shared/log.ts';
import { startBot, startBotCore, consumeReplies } from './start-bot.ts';
import { ConsoleSink, runLocalConsole } from './local-console.ts';
import { startWorkerProcess } from './start-worker.ts';
import { startWorkerHealth } from './worker-health.ts';
import { fatal, onShutdown } from './shutdown.ts';

/**
 * Bot and worker in one process for local use. Without Slack credentials it opens the local
 * demo console instead, so the whole path (queue, worker, Docker) can be seen without a workspace.
 */
try {
  const env = { ...process.env };
  if (!env.CDB_CONFIG && !existsSync('cdb.yaml')) env.CDB_CONFIG = 'cdb.example.yaml';
  const config = loadConfig(env);
  const demo = !config.secrets.slackBotToken;
  // The demo keeps logs quiet so the prompt stays readable; LOG_LEVEL=info brings them back.
  const level = process.env.LOG_LEVEL ?? (demo ? 'warn' : 'info');
  const worker = await startWorkerProcess(config, createLogger({ name: 'cdb-worker', level }));
  // One process: the worker's endpoint (Redis and Docker) covers both halves, and the counters are shared.
  // A second dev process on this machine finds the port taken: that must not stop local use.
  const healthLog = createLogger({ name: 'cdb-health', level });
  const health = await startWorkerHealth(config, worker, healthLog).catch((err: unknown) => {
    healthLog.warn({ err: { message: (err as Error).message } }, 'health endpoint not started (set HEALTH_PORT)');
    return undefined;
  });
  if (!demo) {
    const log = createLogger({ name: 'cdb-bot' });
    const bot = await startBot(config, log);
    onShutdown(log, async () => {
      await health?.close();
      await bot.close();
      await worker.close();
    });
  } else {
    if (process.env.NODE_ENV === 'production') {
      throw new Error('No SLACK_BOT_TOKEN, and the local demo console refuses to run with NODE_ENV=production. Set the Slack credentials (see README).');
    }
    const log = createLogger({ name: 'cdb-dev', level });
    const core = await startBotCore(config, log);
    const replies = consumeReplies(config, core, new ConsoleSink(core, process.stdout), log);
    await runLocalConsole({ config, core, log, input: process.stdin, output: process.stdout });
    await replies.close();
    await core.close();
    await health?.close();
    await worker.close();
    process.exit(0);
  }
} catch (err) {
  fatal(err);
}
