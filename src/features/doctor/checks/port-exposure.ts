import { formatBinding, onAllInterfaces } from '../../../host/compose/ports.ts';
import type { Check, Issue } from '../types.ts';
import { about, plural } from './util.ts';

/** Criterion B: every published port binds 127.0.0.1, never 0.0.0.0 or ::. */
export const portExposure: Check = {
  id: 'port-exposure',
  needs: ['compose'],
  run(snap) {
    const issues: Issue[] = [];
    const withContainer = new Set<string>();
    for (const c of snap.containers) {
      if (c.service) withContainer.add(c.service);
      const open = c.ports.filter((p) => onAllInterfaces(p.hostIp));
      if (!open.length) continue;
      issues.push(about(c, {
        severity: 'high',
        detail: `publishes ${open.map(formatBinding).join(', ')} on every interface: reachable from the network, not just this host`,
        evidence: 'HostIp is empty, 0.0.0.0 or ::',
        fix: `ports:\n${open.map((p) => `  - "127.0.0.1:${p.hostPort || ''}:${p.containerPort}${p.proto === 'tcp' ? '' : `/${p.proto}`}"`).join('\n')}`,
      }));
    }
    for (const [service, s] of Object.entries(snap.compose?.services ?? {})) {
      if (withContainer.has(service)) continue;
      const open = s.ports.filter((p) => onAllInterfaces(p.hostIp));
      if (!open.length) continue;
      issues.push({
        severity: 'high',
        name: service,
        service,
        detail: `is declared to publish ${open.map(formatBinding).join(', ')} on every interface (not running now; it will be exposed when it starts)`,
        fix: `ports:\n${open.map((p) => `  - "127.0.0.1:${p.hostPort || ''}:${p.containerPort}"`).join('\n')}`,
      });
    }
    return issues;
  },
  passDetail: (snap) => {
    const n = snap.containers.reduce((sum, c) => sum + c.ports.length, 0);
    return `${plural(n, 'published port')} on ${plural(snap.containers.length, 'container')}, none on every interface`;
  },
};
