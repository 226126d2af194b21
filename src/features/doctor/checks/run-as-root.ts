import type { Check } from '../types.ts';
import { about, containersChecked, isRootUser, where } from './util.ts';

/** Hardening guide: application containers run as 1000:1000, never root. */
export const runAsRoot: Check = {
  id: 'run-as-root',
  run: (snap) => snap.containers.filter((c) => isRootUser(c.user)).map((c) => about(c, {
    severity: 'high',
    detail: `runs as root${c.user ? ` (user "${c.user}")` : ' (no user set, neither by the image nor the service)'}: a breakout lands as root on the host`,
    evidence: `Config.User="${c.user}"`,
    fix: `user: "1000:1000"   # in ${where(c)}; or USER in its Dockerfile`,
  })),
  passDetail: (snap) => containersChecked(snap, 'all run as a non-root user'),
};
