import type { Check, Issue } from '../types.ts';
import { about, plural } from './util.ts';

const SECRET_NAME = /(?:^|_)(?:PASSWORD|PASSWD|SECRET|TOKEN|KEY)$/i;
/** Public material that happens to end in _KEY. */
const BENIGN = /^(?:GPG_KEY|.*_PUBLIC_KEY|.*_PUBKEY)$/i;
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^@/\s]+@/i;
const PASSWORD_FLAG = /^--?(?:requirepass|password|pass)(?:=(.+))?$/i;

interface EnvLike {
  readonly name: string;
  readonly value: string;
}

/** Names only: a finding never carries a value. */
function violations(env: readonly EnvLike[], argv: readonly string[]): { severity: 'critical' | 'high'; detail: string; evidence: string; fix: string }[] {
  const set = new Map(env.filter((e) => e.value !== '').map((e) => [e.name, e.value]));
  const out: ReturnType<typeof violations> = [];
  const pairs = [...set.keys()].filter((n) => n.endsWith('_FILE') && set.has(n.slice(0, -5))).map((n) => n.slice(0, -5));
  if (pairs.length) {
    out.push({ severity: 'critical', detail: `sets both ${pairs.map((p) => `${p} and ${p}_FILE`).join(', ')}: images such as postgres refuse to start ("Both … are set")`, evidence: `env ${pairs.join(', ')}`, fix: `remove ${pairs.join(', ')} from the environment; keep only the _FILE variant pointing into /run/secrets` });
  }
  const plain = [...set.entries()].filter(([n, v]) => SECRET_NAME.test(n) && !BENIGN.test(n) && !pairs.includes(n) && !v.startsWith('/run/secrets/')).map(([n]) => n);
  if (plain.length) {
    out.push({ severity: 'high', detail: `has plaintext secret${plain.length === 1 ? '' : 's'} in its environment: ${plain.join(', ')} (readable with docker inspect and by every process in the container)`, evidence: `env ${plain.join(', ')}`, fix: `move each into a secret file: ${plain.map((n) => `${n}_FILE=/run/secrets/${n.toLowerCase()}`).join(', ')}` });
  }
  const urls = [...set.entries()].filter(([, v]) => URL_WITH_PASSWORD.test(v)).map(([n]) => n);
  if (urls.length) {
    out.push({ severity: 'high', detail: `has a password inside a URL: ${urls.join(', ')}`, evidence: `env ${urls.join(', ')}`, fix: 'build the URL at start-up from a secret file (see runbooks/password-contract.md)' });
  }
  const flags = argv.flatMap((a, i) => {
    const m = PASSWORD_FLAG.exec(a);
    if (!m) return [];
    const value = m[1] ?? argv[i + 1] ?? '';
    return value && !value.includes('/run/secrets/') ? [a.split('=')[0] as string] : [];
  });
  if (flags.length) {
    out.push({ severity: 'high', detail: `passes a password on its command line (${flags.join(', ')}): visible in docker inspect and ps`, evidence: `argv ${flags.join(', ')}`, fix: 'read it from the secret file instead, e.g. command: sh -c \'exec redis-server --requirepass "$(cat /run/secrets/redis_password)"\'' });
  }
  return out;
}

/** Seeds' stack doctor check 5 and the password contract: only *_FILE, never both, no plaintext. */
export const passwordContract: Check = {
  id: 'password-contract',
  needs: ['compose'],
  run(snap) {
    const issues: Issue[] = [];
    const seen = new Set<string>();
    for (const c of snap.containers) {
      if (c.service) seen.add(c.service);
      for (const v of violations(c.env, c.argv)) issues.push(about(c, v));
    }
    for (const [service, s] of Object.entries(snap.compose?.services ?? {})) {
      if (seen.has(service)) continue;
      const env = Object.entries(s.environment).map(([name, value]) => ({ name, value: value ?? '' }));
      for (const v of violations(env, [])) issues.push({ name: service, service, ...v, detail: `(declared, not running) ${v.detail}` });
    }
    return issues;
  },
  passDetail: (snap) => `${plural(snap.containers.length, 'container')} checked: secrets only through *_FILE, never both`,
};
