import type { ComposeModel } from '../../host/compose/model.ts';
import type { ContainerView } from './types.ts';

export const SECRETS_DIR = '/run/secrets/';

export interface SecretRef {
  /** The name under /run/secrets (or the compose secret key). */
  readonly name: string;
  /** The file on the Docker host. */
  readonly path: string;
  readonly services: readonly string[];
}

/**
 * Every secret file the stack uses: bind mounts into /run/secrets of its containers (how compose
 * mounts `secrets:` outside swarm) and the `file:` of each declared secret, deduplicated by path.
 */
export function secretRefs(containers: readonly ContainerView[], compose?: ComposeModel): SecretRef[] {
  const byPath = new Map<string, { name: string; services: Set<string> }>();
  const add = (path: string, name: string, service?: string) => {
    const entry = byPath.get(path) ?? { name, services: new Set<string>() };
    if (service) entry.services.add(service);
    byPath.set(path, entry);
  };
  for (const c of containers) {
    for (const m of c.mounts) {
      if (m.type === 'bind' && m.destination.startsWith(SECRETS_DIR) && m.source) {
        add(m.source, m.destination.slice(SECRETS_DIR.length).split('/')[0] || m.destination, c.service ?? c.name);
      }
    }
  }
  if (compose) {
    for (const [name, secret] of Object.entries(compose.secrets)) {
      if (!secret.file) continue;
      const users = Object.entries(compose.services).filter(([, s]) => s.secrets.includes(name)).map(([svc]) => svc);
      add(secret.file, name);
      for (const u of users) add(secret.file, name, u);
    }
  }
  return [...byPath.entries()]
    .map(([path, e]) => ({ name: e.name, path, services: [...e.services].sort() }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.path.localeCompare(b.path));
}
