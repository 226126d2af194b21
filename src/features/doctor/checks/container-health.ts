import type { Check, Issue } from '../types.ts';
import { about, plural } from './util.ts';

/** Seeds' stack doctor check 8 (and runbook scenarios 1 and 5): containers that are not well. */
export const containerHealth: Check = {
  id: 'container-health',
  run(snap) {
    const issues: Issue[] = [];
    for (const c of snap.containers) {
      const logs = `docker logs --tail 50 ${c.name}`;
      const before = snap.previousRestarts?.[c.id];
      const s = c.state;
      if (s.restarting) {
        issues.push(about(c, { severity: 'high', detail: `is restarting in a loop (${plural(c.restartCount, 'restart')}, last exit code ${s.exitCode})`, evidence: `State.Restarting=true RestartCount=${c.restartCount}`, fix: logs }));
      } else if (s.status === 'exited' && s.exitCode !== 0) {
        issues.push(about(c, { severity: 'high', detail: `exited with code ${s.exitCode}${s.oomKilled ? ': killed by the out-of-memory killer (raise mem_limit or find the leak)' : ''}`, evidence: `State.ExitCode=${s.exitCode}${s.oomKilled ? ' OOMKilled=true' : ''}`, fix: logs }));
      } else if (s.status === 'dead') {
        issues.push(about(c, { severity: 'high', detail: 'is dead (Docker could not stop or remove it cleanly)', fix: `docker rm -f ${c.name} && docker compose up -d ${c.service ?? ''}`.trim() }));
      } else if (s.status === 'created') {
        issues.push(about(c, { severity: 'medium', detail: `was created but never started${s.error ? `: ${s.error.slice(0, 160)}` : ''}`, fix: `docker start ${c.name}` }));
      } else if (s.status === 'paused') {
        issues.push(about(c, { severity: 'medium', detail: 'is paused', fix: `docker unpause ${c.name}` }));
      }
      if (s.health?.status === 'unhealthy') {
        issues.push(about(c, { severity: 'high', runbook: 'health-check-failing', detail: `is unhealthy: its healthcheck failed ${plural(s.health.failingStreak, 'time')} in a row${s.health.lastExitCode !== undefined ? ` (last exit code ${s.health.lastExitCode})` : ''}`, evidence: 'State.Health.Status=unhealthy', fix: `docker inspect --format '{{json .State.Health}}' ${c.name}` }));
      }
      if (before !== undefined && c.restartCount > before) {
        issues.push(about(c, { severity: 'high', detail: `restart count rose from ${before} to ${c.restartCount} since the last scheduled check`, evidence: `RestartCount=${c.restartCount}`, fix: logs }));
      } else if (!s.restarting && c.restartCount > 0 && before === undefined) {
        issues.push(about(c, { severity: 'low', detail: `has restarted ${plural(c.restartCount, 'time')} since it was created`, evidence: `RestartCount=${c.restartCount}`, fix: logs }));
      }
    }
    return issues;
  },
  passDetail: (snap) => containersHealthy(snap.containers.length),
};

function containersHealthy(n: number): string {
  return `${plural(n, 'container')} running without restarts, crashes or failing healthchecks`;
}
