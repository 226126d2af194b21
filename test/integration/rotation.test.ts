import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRotationStack, type RotationStack, type SecretFile } from './rotation-fixture.ts';
import { startRigFor, type RotationRig } from './rotation-rig.ts';

let stack: RotationStack;
let rig: RotationRig;
/** Every secret value the test has seen: none may appear in Redis, logs, Slack or audit. */
const seen = new Set<string>();

async function value(name: SecretFile): Promise<string> {
  const v = (await readFile(stack.path(name), 'utf8')).trim();
  if (v.length >= 16) seen.add(v);
  return v;
}

const redisPing = (pw: string) => stack.exec('redis', ['sh', '-c', `redis-cli --no-auth-warning -a '${pw}' ping | grep -q PONG`]);
const apiCall = (key: string) => stack.exec('api', ['sh', '-c', `wget -q -O- --header 'X-Api-Key: ${key}' http://127.0.0.1:8080/cgi-bin/check | grep -q '^ok'`]);
const pgLogin = (user: string, pw: string) => stack.exec('pgcons', ['sh', '-c', `PGPASSWORD='${pw}' psql -h pg -U ${user} -d app -Atc 'select 1'`]);
const mariaLogin = (user: string, pw: string) => stack.exec('mcons', ['sh', '-c', `MYSQL_PWD='${pw}' mariadb -h maria -u ${user} app -e 'select 1'`]);
const sees = async (service: string, file: SecretFile) => (await stack.exec(service, ['cat', `/run/secrets/${file}`])).out.trim();

async function rotateAndWait(text: string, secret: string) {
  const mark = rig.slack.calls.length;
  const id = await rig.rotate(text);
  const journal = await rig.waitDone(secret, id);
  const message = await rig.resultText(secret, mark);
  return { id, journal, message };
}

beforeAll(async () => {
  stack = await startRotationStack();
  rig = await startRigFor(stack.project, stack.secretsConfig(), { stateDir: stack.stateDir });
  await rig.startWorker();
  for (const f of ['redis_password', 'api_key', 'app_secret', 'pg_password', 'pg_admin', 'maria_password', 'maria_root', 'broken'] as const) await value(f);
}, 600_000);

afterAll(async () => {
  await rig?.close();
  await stack?.down();
});

describe('secret rotation through the approval flow (real Redis, PostgreSQL, MariaDB, consumers)', () => {
  it('redis: ACL overlap, consumers never fail, the old password is refused, the container sees the new one', async () => {
    const old = await value('redis_password');
    const { journal, message } = await rotateAndWait('rotate redis_password', 'redis_password');
    expect(journal.status, message).toBe('succeeded');
    expect(message).toMatch(/Rotation of redis_password done/);
    const fresh = await value('redis_password');
    expect(fresh).not.toBe(old);
    expect(fresh).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(await sees('rcons', 'redis_password')).toBe(fresh);
    expect((await redisPing(fresh)).code).toBe(0);
    expect((await redisPing(old)).code).not.toBe(0);
    expect(journal.probes.find((p) => p.service === 'rcons')).toMatchObject({ failures: 0, downtimeMs: 0 });
    expect(journal.probes[0]?.probes).toBeGreaterThan(0);
  });
});
