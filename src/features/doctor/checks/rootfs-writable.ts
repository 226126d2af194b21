import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

/** Hardening guide and CIS 5.12: binaries and libraries cannot be changed by a compromised process. */
export const rootfsWritable: Check = {
  id: 'rootfs-writable',
  run: (snap) => snap.containers.filter((c) => !c.host.readonlyRootfs).map((c) => about(c, {
    severity: 'medium',
    detail: 'has a writable root filesystem: a compromised process can replace binaries and libraries',
    evidence: 'HostConfig.ReadonlyRootfs=false',
    fix: `read_only: true\ntmpfs:\n  - /tmp:rw,noexec,nosuid,size=64m   # in ${where(c)}; add tmpfs for every path it writes`,
  })),
  passDetail: (snap) => containersChecked(snap, 'all have a read-only root filesystem'),
};
