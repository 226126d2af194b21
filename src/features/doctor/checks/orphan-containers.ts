import type { Check, Issue } from '../types.ts';
import { about, cannotTell, plural, stopped } from './util.ts';

/** Seeds' stack doctor check 1: containers of the project whose service no compose file declares. */
export const orphanContainers: Check = {
  id: 'orphan-containers',
  needs: ['compose'],
  run(snap) {
    if (!snap.compose) return [cannotTell(snap, 'which containers are orphans')];
    const declared = new Set(Object.keys(snap.compose.services));
    const issues: Issue[] = [];
    for (const c of snap.containers) {
      const service = c.service ?? '(no service label)';
      if (declared.has(service)) continue;
      const isStopped = stopped(c);
      issues.push(about(c, {
        severity: isStopped ? 'low' : 'medium',
        detail: `belongs to service ${service}, which no compose file declares (${isStopped ? `stopped, ${c.state.status}` : 'still running'})`,
        evidence: `label com.docker.compose.service=${service}; declared: ${[...declared].sort().join(', ') || 'none'}`,
        fix: isStopped ? `docker rm ${c.name}` : `docker stop ${c.name} && docker rm ${c.name}   # or: docker compose up -d --remove-orphans`,
        autofix: { kind: isStopped ? 'remove-container' : 'remove-running-container', id: c.id },
      }));
    }
    return issues;
  },
  passDetail: (snap) => `every container belongs to a declared service (${plural(Object.keys(snap.compose?.services ?? {}).length, 'service')} declared)`,
};
