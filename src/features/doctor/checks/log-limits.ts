import type { Check, Issue } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

const FIX = (c: string) => `logging:\n  driver: json-file\n  options:\n    max-size: "10m"\n    max-file: "5"   # in ${c}; or once for all in /etc/docker/daemon.json (log-opts)`;

/** Hardening guide, logging: container logs are capped (10m × 5) so they cannot fill the disk. */
export const logLimits: Check = {
  id: 'log-limits',
  run(snap) {
    const issues: Issue[] = [];
    for (const c of snap.containers) {
      const { logDriver: driver, logOptions: opts } = c.host;
      if (driver === 'json-file' && !opts['max-size']) {
        issues.push(about(c, { severity: 'medium', detail: 'logs with json-file without max-size: the log grows until the disk is full', evidence: `LogConfig.Type=json-file Config=${JSON.stringify(opts)}`, fix: FIX(where(c)) }));
      } else if (driver === 'json-file' && !opts['max-file']) {
        issues.push(about(c, { severity: 'low', detail: `logs with json-file max-size ${opts['max-size']} but no max-file: one file, so each rotation throws all history away`, evidence: `LogConfig.Config=${JSON.stringify(opts)}`, fix: FIX(where(c)) }));
      } else if (driver === 'none') {
        issues.push(about(c, { severity: 'low', detail: 'discards its logs (driver none): nothing reaches Loki or docker logs', evidence: 'LogConfig.Type=none', fix: FIX(where(c)) }));
      }
    }
    return issues;
  },
  passDetail: (snap) => containersChecked(snap, 'logs are size-limited or shipped elsewhere'),
};
