import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

/** Hardening guide and CIS 4.6: a hung service is noticed, and depends_on can wait for health. */
export const healthcheck: Check = {
  id: 'healthcheck',
  run: (snap) => snap.containers.filter((c) => !c.healthcheck?.length || c.healthcheck[0] === 'NONE').map((c) => about(c, {
    severity: 'low',
    detail: `has no healthcheck${c.healthcheck?.[0] === 'NONE' ? ' (disabled)' : ''}: a hung process looks "Up" forever`,
    evidence: 'Config.Healthcheck absent',
    fix: `healthcheck:\n  test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/health || exit 1"]\n  interval: 30s\n  timeout: 5s\n  retries: 3   # in ${where(c)}`,
  })),
  passDetail: (snap) => containersChecked(snap, 'all have a healthcheck'),
};
