import { secretRefs } from '../secrets.ts';
import type { Check, Issue } from '../types.ts';
import { plural } from './util.ts';

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/**
 * Seeds' stack doctor check 4: each secret the stack mounts is a regular file (a directory in its
 * place was the seeds' Grafana outage), non-empty where required, and no wider than 0640.
 */
export const secretFiles: Check = {
  id: 'secret-files',
  needs: ['files', 'compose'],
  run(snap) {
    const issues: Issue[] = [];
    for (const ref of secretRefs(snap.containers, snap.compose)) {
      const f = snap.files.get(ref.path);
      const used = ref.services.length ? ` (used by ${ref.services.join(', ')})` : '';
      const base = { target: 'file' as const, name: ref.path, service: ref.services[0] };
      if (!f || f.kind === 'unknown') {
        issues.push({ ...base, severity: 'medium', detail: `secret ${ref.name}${used} could not be checked: ${f?.error ?? 'not looked at'}` });
      } else if (f.kind === 'missing') {
        issues.push({ ...base, severity: 'critical', detail: `secret ${ref.name}${used} does not exist: compose refuses to start, or Docker creates an empty directory in its place`, fix: `install -m 0600 /dev/null ${ref.path}   # then write the value into it` });
      } else if (f.kind === 'directory') {
        issues.push({ ...base, severity: 'critical', detail: `secret ${ref.name}${used} is a directory, not a file: the service reads a directory where it expects the secret (the seeds' Grafana restart loop)`, evidence: 'stat: directory', fix: `rmdir ${ref.path} && install -m 0600 /dev/null ${ref.path}   # write the value, then: docker compose up -d --force-recreate ${ref.services.join(' ')}` });
      } else if (f.kind === 'other') {
        issues.push({ ...base, severity: 'high', detail: `secret ${ref.name}${used} is not a regular file`, evidence: `mode ${octal(f.mode ?? 0)}` });
      } else {
        if (f.size === 0 && snap.doctor.requiredSecrets.includes(ref.name)) {
          issues.push({ ...base, severity: 'high', detail: `secret ${ref.name}${used} is empty, and doctor.requiredSecrets says it must hold a value`, evidence: 'size 0', fix: `printf '%s' "$VALUE" > ${ref.path}` });
        }
        const mode = f.mode ?? 0;
        if (mode & 0o007) {
          issues.push({ ...base, severity: 'high', detail: `secret ${ref.name}${used} is readable by every user on the host (mode ${octal(mode)})`, evidence: `mode ${octal(mode)}`, fix: `chmod 0600 ${ref.path}   # or 0640 with the container's group` });
        } else if (mode & 0o130) {
          issues.push({ ...base, severity: 'medium', detail: `secret ${ref.name}${used} has mode ${octal(mode)}, wider than 0640`, evidence: `mode ${octal(mode)}`, fix: `chmod 0640 ${ref.path}` });
        }
      }
    }
    return issues;
  },
  passDetail: (snap) => {
    const empty = [...snap.files.values()].filter((f) => f.kind === 'file' && f.size === 0).length;
    return `${plural(snap.files.size, 'secret file')} checked: regular, mode 0640 or tighter${empty ? `; ${empty} empty (allowed: not in doctor.requiredSecrets)` : ''}`;
  },
};
