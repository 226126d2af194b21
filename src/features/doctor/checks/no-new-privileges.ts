import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

const NNP = /^no-new-privileges(?:[:=]true)?$/i;

/** Hardening guide and CIS 5.25: setuid binaries cannot raise privileges. */
export const noNewPrivileges: Check = {
  id: 'no-new-privileges',
  run: (snap) => snap.containers.filter((c) => !c.host.securityOpt.some((o) => NNP.test(o))).map((c) => about(c, {
    severity: 'medium',
    detail: 'does not set no-new-privileges: a setuid binary inside can still gain privileges',
    evidence: `HostConfig.SecurityOpt=${c.host.securityOpt.join(',') || '(none)'}`,
    fix: `security_opt: ["no-new-privileges:true"]   # in ${where(c)}`,
  })),
  passDetail: (snap) => containersChecked(snap, 'all set no-new-privileges'),
};
