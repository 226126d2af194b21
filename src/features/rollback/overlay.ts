import { OpsError } from '../../shared/errors.ts';
import type { RollbackEnv } from './env.ts';
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
 */
export async function pinServices(env: OverlayEnv, pins: Readonly<Record<string, string>>): Promise<string> {
  const path = env.overlayPath;
  if (!path) throw new OpsError('CONFIG_INVALID', 'No overlay path: set `stack.composeFiles` (or `rollback.overlayPath`).');
  const [current, facts] = await Promise.all([readOverlay(env), readComposeFacts(env.files, env.config.stack.composeFiles.slice(0, 1))]);
  const merged = { ...(current?.pins ?? {}), ...pins };
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
