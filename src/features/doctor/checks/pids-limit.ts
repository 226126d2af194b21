import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

/** CIS 5.28: a fork bomb in one container cannot exhaust the host's process table. */
export const pidsLimit: Check = {
  id: 'pids-limit',
  run: (snap) => snap.containers.filter((c) => !c.host.pidsLimit || c.host.pidsLimit < 0).map((c) => about(c, {
    severity: 'low',
    detail: 'has no PIDs limit: a fork bomb inside exhausts the host\'s process table',
    evidence: `HostConfig.PidsLimit=${c.host.pidsLimit ?? 'null'}`,
    fix: `pids_limit: 200   # in ${where(c)}`,
  })),
  passDetail: (snap) => containersChecked(snap, 'all have a PIDs limit'),
};
