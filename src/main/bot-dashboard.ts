import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config } from '../shared/config/schema.ts';
import { REPLIES_QUEUE, openJobsQueue } from '../shared/queue/names.ts';
import { listTargets } from '../shared/targets.ts';

export interface Dashboard {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The optional read-only queue dashboard (bull-board), in the bot process: it needs Redis only, and the
 * bot is the process without a Docker socket or SSH key. Off unless `dashboard.enabled`; bound to
 * `dashboard.host` (127.0.0.1). Read-only twice over: every queue is added with `readOnlyMode` (the
 * API answers 405 to retry, clean, promote, delete...), and anything but GET/HEAD is refused with 405
 * before bull-board sees it, so a future bull-board action cannot slip through.
 */
export async function startBotDashboard(config: Config, connection: Redis, log: Logger): Promise<Dashboard | undefined> {
  if (!config.dashboard.enabled) return undefined;
  const queues = [...listTargets(config).map((t) => t.queue), REPLIES_QUEUE].map((name) => openJobsQueue(config, connection, log, name));
  const adapter = new ExpressAdapter();
  adapter.setBasePath('/');
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true, allowRetries: false })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: `cdb ${config.stack.project} (read-only)` } },
  });
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    res.status(405).set('allow', 'GET, HEAD').json({ error: 'read-only dashboard' });
  });
  app.use('/', adapter.getRouter() as express.Router);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.dashboard.port, config.dashboard.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: config.dashboard.host, port }, 'read-only queue dashboard listening');
  return {
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}
