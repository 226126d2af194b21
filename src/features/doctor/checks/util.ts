import type { ContainerView, Issue, Snapshot } from '../types.ts';

/** An issue about a container, named the way operators know it. */
export function about(c: ContainerView, issue: Omit<Issue, 'name' | 'service'>): Issue {
  return { name: c.name, service: c.service, ...issue };
}

/** `in service web (compose)` or `in container x`: where the fix goes. */
export function where(c: ContainerView): string {
  return c.service ? `service ${c.service}` : `container ${c.name}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function containersChecked(snap: Snapshot, what: string): string {
  return `${plural(snap.containers.length, 'container')} checked: ${what}`;
}

/** Checks that compare against the compose files say so when there are none to read. */
export function cannotTell(snap: Snapshot, what: string): Issue {
  return {
    severity: 'medium',
    target: 'stack',
    name: '',
    detail: `cannot tell ${what}: ${snap.composeProblem ?? 'the compose files were not read'}`,
    fix: 'set stack.composeFiles in the cdb config to the files given to docker compose -f, in order',
  };
}

export function isRootUser(user: string): boolean {
  const u = user.split(':')[0] ?? '';
  return u === '' || u === '0' || u === 'root';
}

export function stopped(c: ContainerView): boolean {
  return !c.state.running && !c.state.restarting;
}

/** `postgres` → `docker.io/library/postgres:latest`, so equal images compare equal. */
export function normalizeImage(ref: string): string {
  let name = ref.split('@')[0] ?? ref;
  const lastSlash = name.lastIndexOf('/');
  if (!name.slice(lastSlash + 1).includes(':')) name = `${name}:latest`;
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return name;
  return name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
}
