import type { ComposeService } from '../../../host/compose/model.ts';
import { formatBinding, onAllInterfaces } from '../../../host/compose/ports.ts';
import type { Check, ContainerView, Issue } from '../types.ts';
import { about, cannotTell, normalizeImage, plural, stopped } from './util.ts';

/** Differences between what runs and what the merged compose files say; names only, no values. */
function differences(c: ContainerView, s: ComposeService): string[] {
  const out: string[] = [];
  if (s.image && normalizeImage(s.image) !== normalizeImage(c.image)) out.push(`image ${c.image} (compose: ${s.image})`);
  if (s.user !== undefined && s.user !== c.user) out.push(`user "${c.user}" (compose: "${s.user}")`);
  if (s.readOnly !== undefined && s.readOnly !== c.host.readonlyRootfs) out.push(`read_only ${c.host.readonlyRootfs} (compose: ${s.readOnly})`);
  if (s.privileged !== undefined && s.privileged !== c.host.privileged) out.push(`privileged ${c.host.privileged} (compose: ${s.privileged})`);
  const env = new Set(c.env.map((e) => e.name));
  const missingEnv = Object.keys(s.environment).filter((k) => !env.has(k));
  if (missingEnv.length) out.push(`environment lacks ${missingEnv.join(', ')}`);
  const fixed = s.ports.filter((p) => p.hostPort);
  const ip = (a: string) => (onAllInterfaces(a) ? '*' : a);
  const unbound = fixed.filter((p) => !c.ports.some((q) => q.containerPort === p.containerPort && q.proto === p.proto && q.hostPort === p.hostPort && ip(q.hostIp) === ip(p.hostIp)));
  if (unbound.length) out.push(`ports ${unbound.map(formatBinding).join(', ')} not bound as declared`);
  return out;
}

/** Seeds' stack doctor check 7: what runs matches the compose files; what they declare runs. */
export const composeDrift: Check = {
  id: 'compose-drift',
  needs: ['compose', 'images'],
  run(snap) {
    if (!snap.compose) return [cannotTell(snap, 'whether the containers match the compose files')];
    const issues: Issue[] = [];
    const byService = new Map<string, ContainerView[]>();
    for (const c of snap.containers) if (c.service && !c.oneOff) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
    for (const [service, s] of Object.entries(snap.compose.services)) {
      const containers = byService.get(service) ?? [];
      if (!containers.length) {
        // Services behind a profile only start when it is enabled: not knowable from here.
        if (s.profiles.length) continue;
        issues.push({ severity: 'high', name: service, service, detail: 'is declared in the compose files but has no container', fix: `docker compose -p ${snap.project} ${snap.compose.files.map((f) => `-f ${f}`).join(' ')} up -d ${service}` });
        continue;
      }
      const hashes = new Set(containers.map((c) => c.labels['com.docker.compose.config-hash']).filter(Boolean));
      if (hashes.size > 1) issues.push({ severity: 'low', name: service, service, detail: `its ${containers.length} containers were created from ${hashes.size} different configurations`, fix: `docker compose up -d --force-recreate ${service}` });
      for (const c of containers) {
        const diff = differences(c, s);
        if (diff.length) issues.push(about(c, { severity: 'medium', detail: `differs from the compose files: ${diff.join('; ')}`, evidence: diff.join('; '), fix: `docker compose up -d ${service}   # recreates it from the files` }));
        const tagNow = snap.images.get(c.image) ?? snap.images.get(`${c.image}:latest`);
        if (tagNow && tagNow !== c.imageId) issues.push(about(c, { severity: 'low', detail: `runs an older build: ${c.image} now points to ${tagNow.slice(7, 19)}, the container has ${c.imageId.slice(7, 19)}`, fix: `docker compose up -d ${service}` }));
        if (stopped(c) && c.state.status === 'exited' && c.state.exitCode === 0 && c.host.restartPolicy !== 'no' && c.host.restartPolicy !== '') {
          issues.push(about(c, { severity: 'medium', detail: `is declared but stopped (exited 0, restart policy ${c.host.restartPolicy})`, fix: `docker compose up -d ${service}` }));
        }
      }
    }
    return issues;
  },
  passDetail: (snap) => `${plural(Object.keys(snap.compose?.services ?? {}).length, 'declared service')} running as declared`,
};
