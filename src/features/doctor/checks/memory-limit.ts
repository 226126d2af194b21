import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

/** Hardening guide and CIS 5.10: one leaking container cannot starve the host. */
export const memoryLimit: Check = {
  id: 'memory-limit',
  run: (snap) => snap.containers.filter((c) => !c.host.memory).map((c) => about(c, {
    severity: 'medium',
    detail: 'has no memory limit: a leak takes the whole host down with it',
    evidence: 'HostConfig.Memory=0',
    fix: `mem_limit: 512m   # in ${where(c)}; size it from docker stats --no-stream`,
  })),
  passDetail: (snap) => containersChecked(snap, 'all have a memory limit'),
};
