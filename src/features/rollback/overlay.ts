import { OpsError } from '../../shared/errors.ts';
import type { RollbackResult } from '../../shared/contracts/rollback.ts';
import type { RollbackEnv } from './env.ts';
import { JournalLostError, type RollbackJournal } from './journal.ts';
import { parseOverlay, readComposeFacts, renderOverlay, type Overlay } from './compose-files.ts';

type OverlayEnv = Pick<RollbackEnv, 'files' | 'overlayPath' | 'config' | 'actor' | 'requestId'>;

export async function readOverlay(env: OverlayEnv): Promise<Overlay | undefined> {
  if (!env.overlayPath) return undefined;
  const text = await env.files.read(env.overlayPath);
  return text === undefined ? undefined : parseOverlay(text);
}

export async function readPins(env: OverlayEnv): Promise<Readonly<Record<string, string>>> {
  return (await readOverlay(env))?.pins ?? {};
}

/**
 * Adds pins to the overlay (a partial rollback leaves the other services' pins alone) and writes it
 * with the compose file version of the stack, which docker-compose 1.x requires to match.
 * Earlier pins of services no compose file declares any more are dropped (see pins.ts).
 */
export async function pinServices(env: OverlayEnv, pins: Readonly<Record<string, string>>, declared: ReadonlySet<string>): Promise<string> {
  const path = env.overlayPath;
  if (!path) throw new OpsError('CONFIG_INVALID', 'No overlay path: set `stack.composeFiles` (or `rollback.overlayPath`).');
  const [current, facts] = await Promise.all([readOverlay(env), readComposeFacts(env.files, env.config.stack.composeFiles.slice(0, 1))]);
  const kept = Object.entries(current?.pins ?? {}).filter(([service]) => declared.has(service));
  const merged = { ...Object.fromEntries(kept), ...pins };
  const by = env.actor.name ? `${env.actor.name} (${env.actor.userId})` : env.actor.userId;
  await env.files.write(path, renderOverlay({ version: facts.version, pins: merged, meta: { updatedAt: new Date().toISOString(), by, requestId: env.requestId } }));
  return path;
}

/** Removes the overlay: from now on the compose files alone say which images the services use. */
export async function clearPins(env: OverlayEnv): Promise<{ removed: boolean; pins: Readonly<Record<string, string>>; path: string }> {
  const path = env.overlayPath;
  if (!path) throw new OpsError('CONFIG_INVALID', 'No overlay path: set `stack.composeFiles` (or `rollback.overlayPath`).');
  const pins = await readPins(env);
  const removed = await env.files.remove(path);
  return { removed, pins, path };
}

/** Writes the pins (moved, declared services only); a failure to write is reported, not fatal. */
export async function pin(env: OverlayEnv & Pick<RollbackEnv, 'log'>, journal: RollbackJournal | undefined, pins: Readonly<Record<string, string>>, declared: ReadonlySet<string> | undefined, note?: string): Promise<RollbackResult['overlay']> {
  if (!Object.keys(pins).length || !declared) {
    return { path: env.overlayPath, written: false, note: note ?? 'no service moved to another image, so nothing new was pinned' };
  }
  try {
    const write = () => pinServices(env, pins, declared);
    const path = journal ? await journal.step('pin', {}, write) : await write();
    return { path, written: true, ...(note ? { note } : {}) };
  } catch (err) {
    if (err instanceof JournalLostError) throw err;
    env.log.error({ err }, 'overlay not written');
    return { path: env.overlayPath, written: false, note: `the overlay could not be written (${(err as Error).message.slice(0, 160)}); a \`docker compose up -d\` with the stack’s own files still leaves the rollback in place, see the runbook` };
  }
}
