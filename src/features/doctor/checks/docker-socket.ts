import type { Check } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

const SOCKET = /(^|\/)docker\.sock$/;

/** CIS 5.31: the Docker socket is root on the host, read-only mount or not. doctor.allowDockerSocket waives it. */
export const dockerSocket: Check = {
  id: 'docker-socket',
  run: (snap) => snap.containers.flatMap((c) => {
    const m = c.mounts.find((x) => SOCKET.test(x.source) || SOCKET.test(x.destination));
    if (!m) return [];
    return [about(c, {
      severity: 'critical',
      detail: `mounts the Docker socket (${m.source} → ${m.destination}${m.rw ? '' : ', read-only, which does not help'}): whoever controls it controls the host`,
      evidence: `Mounts: ${m.source}`,
      fix: `remove the docker.sock volume from ${where(c)}; if it must have it (like the cdb worker), list it in doctor.allowDockerSocket`,
    })];
  }),
  passDetail: (snap) => containersChecked(snap, 'none mounts the Docker socket'),
};
