import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

/** CIS 5.14: a crash or a host reboot brings the service back. */
export const restartPolicy: Check = {
  id: 'restart-policy',
  run: (snap) => snap.containers.filter((c) => !c.host.restartPolicy || c.host.restartPolicy === 'no').map((c) => about(c, {
    severity: 'medium',
    detail: 'has no restart policy: after a crash or a reboot it stays down',
    evidence: `HostConfig.RestartPolicy.Name=${c.host.restartPolicy || '(empty)'}`,
    fix: `restart: unless-stopped   # in ${where(c)}; one-shot jobs: waive with doctor.waivers`,
  })),
  passDetail: (snap) => containersChecked(snap, 'all have a restart policy'),
};
