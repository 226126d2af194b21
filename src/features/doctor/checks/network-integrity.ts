import type { Check, Issue } from '../types.ts';
import { plural } from './util.ts';

/**
 * Seeds' stack doctor check 6: the networks the stack expects exist, containers are not attached to
 * removed ones, and in production every project network is `internal: true` (network-prod.yml).
 */
export const networkIntegrity: Check = {
  id: 'network-integrity',
  needs: ['networks', 'compose'],
  run(snap) {
    const issues: Issue[] = [];
    const byName = new Map(snap.networks.map((n) => [n.name, n]));
    const byId = new Set(snap.networks.map((n) => n.id));
    const declared = Object.entries(snap.compose?.networks ?? {});
    const expected = new Map<string, string>();
    for (const name of snap.doctor.expectedNetworks) expected.set(name, 'listed in doctor.expectedNetworks');
    for (const [key, n] of declared) expected.set(n.name, n.external ? `external network ${key} of the compose files` : `network ${key} of the compose files`);
    for (const [name, why] of expected) {
      if (byName.has(name)) continue;
      const external = why.startsWith('external') || why.startsWith('listed');
      issues.push({ severity: 'high', target: 'network', name, detail: `does not exist (${why})`, fix: external ? `docker network create --internal ${name}   # drop --internal if it needs outside access` : 'docker compose up -d   # creates the declared networks' });
    }
    if (snap.doctor.production) {
      const egress = new Set(snap.doctor.egressNetworks);
      const project = new Map<string, string>();
      for (const n of snap.networks) if (n.labels['com.docker.compose.project'] === snap.project) project.set(n.name, n.labels['com.docker.compose.network'] ?? n.name);
      for (const [key, n] of declared) if (!n.external) project.set(n.name, key);
      for (const [name, key] of project) {
        const n = byName.get(name);
        if (!n || n.internal || egress.has(name) || egress.has(key)) continue;
        issues.push({ severity: 'high', target: 'network', name, detail: 'is not internal: containers on it reach the outside world (doctor.production is set)', evidence: 'Internal=false', fix: `networks:\n  ${key}:\n    internal: true   # or list it in doctor.egressNetworks if it must reach out` });
      }
    }
    for (const c of snap.containers) {
      for (const n of c.networks) {
        if (n.id && !byId.has(n.id)) issues.push({ severity: 'high', target: 'network', name: n.name, service: c.service, detail: `${c.name} is attached to network ${n.name}, which was removed: it cannot start again ("network not found")`, fix: `docker compose up -d --force-recreate ${c.service ?? ''}`.trim() });
      }
    }
    return issues;
  },
  passDetail: (snap) => `${plural(snap.networks.filter((n) => n.labels['com.docker.compose.project'] === snap.project).length, 'project network')} present${snap.doctor.production ? ', internal as production requires' : ''}`,
};
