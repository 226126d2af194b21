import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../../shared/config/schema.ts';
import type { Reply } from '../../../shared/contracts/envelope.ts';
import { startSweepLoop } from '../../../shared/sweep-loop.ts';
import { recoverWireguardRotations } from './run.ts';

export interface RecoveryDeps {
  readonly config: Config;
  readonly connection: Redis;
  readonly log: Logger;
  send(reply: Reply): Promise<void>;
  /** The target whose worker this is: only its rotations are resumed, and its replies name it. */
  readonly target?: string;
  readonly intervalMs?: number;
}

/**
 * Looks for WireGuard rotations of this target whose worker died (at start, then every 2 s;
 * a dead owner's journal heartbeat expires within 5 s) and
 * finishes or rolls them back; the original request's thread gets the outcome, and the alerts channel a loud notice
 * when the tunnel could not be verified.
 */
export function startWgRecovery(deps: RecoveryDeps): { close(): Promise<void> } {
  const { config, connection, log } = deps;
  if (!config.wireguard.tunnels.length) return { close: async () => undefined };
  const workerId = `${hostname()}:${process.pid}`;
  const loop = startSweepLoop({
    everyMs: deps.intervalMs ?? 2000,
    onError: (err) => log.error({ err }, 'WireGuard rotation recovery failed; retrying'),
    sweep: async () => {
      const done = await recoverWireguardRotations({
        config, redis: connection, log, workerId, ...(deps.target ? { target: deps.target } : {}),
        alert: (text) => deps.send({ type: 'notice', key: 'wireguard-rotation', action: 'root', text }),
      });
      for (const { journal, result } of done) {
        const origin = { kind: journal.origin.kind as 'slack', ...(journal.origin.channel ? { channel: journal.origin.channel } : {}), ...(journal.origin.threadTs ? { threadTs: journal.origin.threadTs } : {}) };
        await deps.send({ type: 'result', requestId: journal.requestId, command: journal.command, args: journal.args, origin, result, durationMs: result.totalMs });
      }
    },
  });
  return { close: () => loop.stop() };
}
