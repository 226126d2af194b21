import { bindingsCollide, formatBinding } from '../../../host/compose/ports.ts';
import type { Check, Issue, PublishedPort } from '../types.ts';
import { about, plural, stopped } from './util.ts';

const PORT_ERROR = /port is already allocated|address already in use|bind for .* failed/i;

interface Holder {
  readonly name: string;
  readonly ports: readonly PublishedPort[];
}

/** Seeds' stack doctor check 3: a host port two things want; the second cannot start. */
export const portConflicts: Check = {
  id: 'port-conflicts',
  needs: ['otherContainers', 'compose'],
  run(snap) {
    const issues: Issue[] = [];
    // Whatever holds ports right now: running containers of any project.
    const holders: Holder[] = [...snap.otherContainers, ...snap.containers.filter((c) => c.state.running)];
    const holderOf = (p: PublishedPort, self: string) => holders.find((h) => h.name !== self && h.ports.some((q) => bindingsCollide(p, q)));
    for (const c of snap.containers) {
      if (c.state.error && PORT_ERROR.test(c.state.error)) {
        issues.push(about(c, { severity: 'high', detail: `could not start: ${c.state.error.slice(0, 200)}`, evidence: 'State.Error', fix: `docker ps --format '{{.Names}}\\t{{.Ports}}' | grep ':${c.ports[0]?.hostPort ?? ''}->'   # who holds the port` }));
        continue;
      }
      if (!stopped(c)) continue;
      for (const p of c.ports) {
        const h = holderOf(p, c.name);
        if (h) issues.push(about(c, { severity: 'high', detail: `wants ${formatBinding(p)}, which ${h.name} already publishes: it cannot start`, fix: `change the host port of ${c.service ?? c.name}, or stop ${h.name}` }));
      }
    }
    const running = new Set(snap.containers.map((c) => c.service).filter(Boolean));
    const declared = Object.entries(snap.compose?.services ?? {});
    for (const [service, s] of declared) {
      for (const p of s.ports) {
        if (!p.hostPort) continue;
        if (!running.has(service)) {
          const h = holderOf(p, '');
          if (h) issues.push({ severity: 'high', name: service, service, detail: `is declared with ${formatBinding(p)}, which ${h.name} already publishes: it cannot start`, fix: `change the host port of ${service}, or stop ${h.name}` });
        }
        for (const [other, o] of declared) {
          if (other <= service) continue;
          if (o.ports.some((q) => bindingsCollide(p, q))) issues.push({ severity: 'high', name: service, service, detail: `and ${other} both declare host port ${p.hostPort}/${p.proto}: only one of them can start`, fix: `give ${other} another host port in the compose file` });
        }
      }
    }
    return issues;
  },
  passDetail: (snap) => `no host port is claimed twice (${plural(snap.containers.length, 'container')}, ${plural(snap.otherContainers.length, 'other container')} on the host)`,
};
