import type { Check, Issue } from '../types.ts';
import { cannotTell, plural } from './util.ts';

/** Seeds' stack doctor check 2: volumes labelled with the project that no compose file declares. */
export const orphanVolumes: Check = {
  id: 'orphan-volumes',
  needs: ['compose', 'volumes'],
  run(snap) {
    if (!snap.compose) return [cannotTell(snap, 'which volumes are orphans')];
    const declaredKeys = new Set(Object.keys(snap.compose.volumes));
    const declaredNames = new Set(Object.values(snap.compose.volumes).map((v) => v.name));
    const issues: Issue[] = [];
    for (const v of snap.volumes) {
      const key = v.labels['com.docker.compose.volume'] ?? '';
      if (declaredKeys.has(key) || declaredNames.has(v.name)) continue;
      const users = snap.containers.filter((c) => c.mounts.some((m) => m.type === 'volume' && m.name === v.name)).map((c) => c.name);
      issues.push({
        severity: 'low',
        target: 'volume',
        name: v.name,
        detail: `volume ${key || v.name} is not declared in any compose file${users.length ? `; still mounted by ${users.join(', ')}` : ' and no container of the project mounts it'}`,
        evidence: `label com.docker.compose.volume=${key || '(none)'}`,
        fix: `docker run --rm -v ${v.name}:/v -v "$PWD":/backup busybox tar czf /backup/${v.name}.tgz -C /v .   # back it up, then:\ndocker volume rm ${v.name}`,
        autofix: { kind: 'remove-volume', id: v.name },
      });
    }
    return issues;
  },
  passDetail: (snap) => `${plural(snap.volumes.length, 'project volume')} checked, all declared`,
};
