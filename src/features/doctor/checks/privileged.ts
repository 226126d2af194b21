import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

/** CIS 5.4: a privileged container has every capability and every device: it is the host. */
export const privileged: Check = {
  id: 'privileged',
  run: (snap) => snap.containers.filter((c) => c.host.privileged).map((c) => about(c, {
    severity: 'critical',
    detail: 'is privileged: all capabilities, all host devices, no seccomp or AppArmor confinement',
    evidence: 'HostConfig.Privileged=true',
    fix: `remove privileged: true from ${where(c)}; add only the capabilities it needs with cap_add`,
  })),
  passDetail: (snap) => containersChecked(snap, 'none privileged'),
};
