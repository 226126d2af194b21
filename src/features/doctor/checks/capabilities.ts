import type { Check, Issue } from '../types.ts';
import { about, containersChecked, isRootUser, where } from './util.ts';

/** Capabilities that amount to (or quickly lead to) root on the host. */
export const DANGEROUS_CAPS = new Set([
  'ALL', 'SYS_ADMIN', 'SYS_MODULE', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_BOOT', 'SYS_TIME', 'DAC_READ_SEARCH',
  'DAC_OVERRIDE', 'NET_ADMIN', 'MAC_ADMIN', 'MAC_OVERRIDE', 'BPF', 'PERFMON', 'SETFCAP', 'SYSLOG',
]);

const norm = (cap: string) => cap.toUpperCase().replace(/^CAP_/, '');

/** Hardening guide and CIS 5.3: drop all capabilities, add back only harmless ones. */
export const capabilities: Check = {
  id: 'capabilities',
  run(snap) {
    const issues: Issue[] = [];
    for (const c of snap.containers) {
      const added = c.host.capAdd.map(norm).filter((cap) => DANGEROUS_CAPS.has(cap));
      if (added.length) {
        issues.push(about(c, { severity: 'high', detail: `adds dangerous capabilit${added.length === 1 ? 'y' : 'ies'} ${added.join(', ')}`, evidence: `HostConfig.CapAdd=${c.host.capAdd.join(',')}`, fix: `remove ${added.join(', ')} from cap_add of ${where(c)}` }));
      }
      if (!c.host.capDrop.map(norm).includes('ALL') && !c.host.privileged) {
        const root = isRootUser(c.user);
        issues.push(about(c, {
          severity: root ? 'medium' : 'low',
          detail: `keeps Docker's default capabilities (cap_drop: [ALL] missing)${root ? ', and runs as root, so it holds them' : ''}`,
          evidence: `HostConfig.CapDrop=${c.host.capDrop.join(',') || '(none)'}`,
          fix: `cap_drop: [ALL]   # in ${where(c)}; add back only what it needs, e.g. cap_add: [NET_BIND_SERVICE]`,
        }));
      }
    }
    return issues;
  },
  passDetail: (snap) => containersChecked(snap, 'all drop ALL capabilities and add none of the dangerous ones'),
};
