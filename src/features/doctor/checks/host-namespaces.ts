import type { Check, Issue } from '../types.ts';
import { about, containersChecked, where } from './util.ts';

/** CIS 5.9, 5.15, 5.16, 5.20: no sharing of the host's network, PID, IPC or UTS namespace. */
export const hostNamespaces: Check = {
  id: 'host-namespaces',
  run(snap) {
    const issues: Issue[] = [];
    for (const c of snap.containers) {
      const shared: string[] = [];
      if (c.host.networkMode === 'host') shared.push('network (sees and binds every host interface)');
      if (c.host.pidMode === 'host') shared.push('PID (sees and can signal every host process)');
      if (c.host.ipcMode === 'host') shared.push('IPC');
      if (c.host.utsMode === 'host') shared.push('UTS');
      if (!shared.length) continue;
      const keys = [c.host.networkMode === 'host' && 'network_mode: host', c.host.pidMode === 'host' && 'pid: host', c.host.ipcMode === 'host' && 'ipc: host', c.host.utsMode === 'host' && 'uts: host'].filter(Boolean);
      issues.push(about(c, {
        severity: c.host.networkMode === 'host' || c.host.pidMode === 'host' ? 'high' : 'medium',
        detail: `shares the host's ${shared.join(', ')} namespace${shared.length === 1 ? '' : 's'}`,
        evidence: `NetworkMode=${c.host.networkMode} PidMode=${c.host.pidMode || '(private)'} IpcMode=${c.host.ipcMode} UTSMode=${c.host.utsMode || '(private)'}`,
        fix: `remove ${keys.join(', ')} from ${where(c)}`,
      }));
    }
    return issues;
  },
  passDetail: (snap) => containersChecked(snap, 'none shares a host namespace'),
};
