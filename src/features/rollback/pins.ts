import type { PlanItem } from '../../shared/contracts/rollback.ts';

export interface PinChoice {
  /** service → rollback ref. */
  readonly pins: Readonly<Record<string, string>>;
  /** Why a service the rollback moves is not pinned, for the thread. */
  readonly note?: string;
}

/**
 * What the overlay may pin after a rollback: services the rollback moves to another image AND that
 * a compose file declares. An unchanged service pinned to its tag would be recreated by the next
 * `up -d` (its image reference, so its config hash, changes); a service no file declares would be
 * created by compose as a new, unconfigured one. `declared` undefined: the files are unreadable,
 * so nothing is pinned. Services recreated only to follow another's network namespace keep their image.
 */
export function choosePins(items: readonly PlanItem[], declared: ReadonlySet<string> | undefined): PinChoice {
  const moved = items.filter((i) => i.action === 'recreate' && !i.reason && i.currentImage !== i.targetImage);
  if (!declared) {
    return { pins: {}, note: moved.length ? 'the compose files could not be read, so no service was pinned' : undefined };
  }
  const pins = Object.fromEntries(moved.filter((i) => declared.has(i.service)).map((i) => [i.service, i.targetRef]));
  const undeclared = moved.filter((i) => !declared.has(i.service)).map((i) => i.service);
  return {
    pins,
    ...(undeclared.length ? { note: `${undeclared.join(', ')} ${undeclared.length === 1 ? 'is' : 'are'} not declared by any compose file (orphan${undeclared.length === 1 ? '' : 's'}): rolled back but not pinned` } : {}),
  };
}
