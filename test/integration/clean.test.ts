// `/cdb clean` and `/cdb clean --deep` on the real Engine, with objects planted for this project and for
// another one: the safe clean removes only this project's stopped orphans and dangling images; the deep
// clean goes through the real two-person approval (bot + worker + Redis), lists every object with its
// size, keeps `clean.protect` volumes, and removes exactly the approved list.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { ACTION_APPROVE } from '../../src/shared/approval/message.ts';
import { ApprovalStore } from '../../src/shared/approval/store.ts';
import cleanJob from '../../jobs/clean.ts';
import type { CleanResult } from '../../src/shared/clean/contract.ts';
import { ensureBusyboxImage } from '../support/images.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { jobRedis, startHarness, type Harness } from '../support/harness.ts';
import { blockActionsBody, postSigned } from '../support/slack-sign.ts';
import { SIGNING_SECRET } from '../support/harness.ts';

const T = 240_000;
const TEAM = 'T0001';
const CHANNEL = 'C2147483705';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const LABEL = 'com.docker.compose.project';
const docker = new Docker();

interface Planted {
  orphan: string;
  web: string;
  dangling: string;
  api: string;
  volumes: { data: string; pgdata: string; used: string };
}

/** What compose would have left for `project`: containers, images and volumes with its labels. */
async function plant(project: string, busybox: string): Promise<Planted> {
  const labels = (service: string) => ({ [LABEL]: project, 'com.docker.compose.service': service, 'com.docker.compose.container-number': '1' });
  const vol = async (name: string) => (await docker.createVolume({ Name: `${project}_${name}`, Labels: { [LABEL]: project, 'com.docker.compose.volume': name } })).name;
  const volumes = { data: await vol('data'), pgdata: await vol('pgdata'), used: await vol('used') };
  // A distinct image per project: a finished container committed with the project's label and no tag (dangling).
  const maker = await docker.createContainer({ Image: busybox, Cmd: ['sh', '-c', `echo ${project} > /marker; dd if=/dev/zero of=/pad bs=1024 count=64 2>/dev/null`], Labels: { 'cdb-test': project } });
  await maker.start();
  await maker.wait();
  const dangling = (await maker.commit({ changes: [`LABEL ${LABEL}=${project}`] })) as { Id: string };
  await maker.remove();
  // compose's build name for the declared service `api`, used by no container (its own layer, so its size is its own).
  const apiMaker = await docker.createContainer({ Image: busybox, Cmd: ['sh', '-c', `echo ${project} api > /marker; dd if=/dev/zero of=/pad bs=1024 count=32 2>/dev/null`], Labels: { 'cdb-test': project } });
  await apiMaker.start();
  await apiMaker.wait();
  const apiCommit = (await apiMaker.commit({ repo: `${project}-api`, tag: 'latest' })) as { Id: string };
  await apiMaker.remove();
  const orphan = await docker.createContainer({ name: `${project}-old-1`, Image: dangling.Id, Cmd: ['true'], Labels: labels('old') });
  const web = await docker.createContainer({ name: `${project}-web-1`, Image: busybox, Cmd: ['true'], Labels: labels('web'), HostConfig: { Binds: [`${volumes.used}:/data`] } });
  return { orphan: orphan.id, web: web.id, dangling: dangling.Id, api: apiCommit.Id, volumes };
}

async function exists(kind: 'container' | 'image' | 'volume', id: string): Promise<boolean> {
  const inspect = (): Promise<unknown> => (kind === 'container' ? docker.getContainer(id).inspect() : kind === 'image' ? docker.getImage(id).inspect() : docker.getVolume(id).inspect());
  return inspect().then(() => true, (err: { statusCode?: number }) => (err.statusCode === 404 ? false : Promise.reject(err)));
}

async function removeAll(p: Planted | undefined, extra: string[] = []): Promise<void> {
  if (!p) return;
  for (const id of [p.orphan, p.web]) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
  for (const id of [p.api, p.dangling]) await docker.getImage(id).remove({ force: true }).catch(() => undefined);
  for (const v of [...Object.values(p.volumes), ...extra]) await docker.getVolume(v).remove().catch(() => undefined);
}

describe('clean on a real Engine, this project next to another', () => {
  const project = `cdbt${randomSuffix()}`;
  const other = `cdbt${randomSuffix()}`;
  let ours: Planted | undefined;
  let theirs: Planted | undefined;
  let dir = '';
  let composeFile = '';
  let h: Harness | undefined;
  const late = `${project}_late`;

  const theirsIntact = async () => {
    const t = theirs!;
    for (const id of [t.orphan, t.web]) expect(await exists('container', id), `other project's container ${id}`).toBe(true);
    for (const id of [t.dangling, t.api]) expect(await exists('image', id), `other project's image ${id}`).toBe(true);
    for (const v of Object.values(t.volumes)) expect(await exists('volume', v), `other project's volume ${v}`).toBe(true);
  };

  beforeAll(async () => {
    const { tag: busybox } = await ensureBusyboxImage();
    dir = await mkdtemp(join(tmpdir(), 'cdb-clean-'));
    composeFile = join(dir, 'docker-compose.yml');
    // web and api are declared; `old` is not (its stopped container is an orphan).
    await writeFile(composeFile, `services:\n  web:\n    image: ${busybox}\n    volumes: [used:/data]\n  api:\n    image: ${project}-api:latest\nvolumes:\n  used: {}\n  data: {}\n  pgdata: {}\n`);
    ours = await plant(project, busybox);
    theirs = await plant(other, busybox);
  }, T);

  afterAll(async () => {
    await h?.close();
    await removeAll(ours, [late]);
    await removeAll(theirs);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, T);

  const runClean = async (args: Record<string, unknown>): Promise<CleanResult> => {
    const config = buildConfig({ stack: { project, composeFiles: [composeFile] }, clean: { protect: [`${project}_pgdata`] } }, {});
    const redis = jobRedis();
    try {
      const ctx = { requestId: `req-${randomSuffix()}`, actor: { userId: 'local:test', teamId: 'local' }, config, docker, redis, log: createLogger({ level: 'silent' }), signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined };
      return (await cleanJob.run(ctx, cleanJob.args.parse(args))) as CleanResult;
    } finally {
      await redis.quit();
    }
  };

  it('--dry-run lists the orphan and the dangling image with sizes, and removes nothing', async () => {
    const r = await runClean({ dryRun: true });
    const ids = r.items.map((i) => i.id).sort();
    expect(ids).toEqual([ours!.orphan, ours!.dangling].sort());
    expect(r.items.every((i) => i.status === 'planned')).toBe(true);
    expect(r.items.find((i) => i.kind === 'image')!.bytes).toBeGreaterThan(0);
    expect(await exists('container', ours!.orphan)).toBe(true);
    expect(await exists('image', ours!.dangling)).toBe(true);
  }, T);

  it('the safe clean removes exactly those, reports bytes reclaimed, and leaves the other project alone', async () => {
    const r = await runClean({});
    expect(r.items.map((i) => [i.id, i.status]).sort()).toEqual([[ours!.orphan, 'removed'], [ours!.dangling, 'removed']].sort());
    expect(r.reclaimedBytes).toBeGreaterThan(0);
    expect(await exists('container', ours!.orphan)).toBe(false);
    expect(await exists('image', ours!.dangling)).toBe(false);
    // Declared service's stopped container, unused tagged image and volumes: only --deep looks at those.
    expect(await exists('container', ours!.web)).toBe(true);
    expect(await exists('image', ours!.api)).toBe(true);
    for (const v of Object.values(ours!.volumes)) expect(await exists('volume', v)).toBe(true);
    await theirsIntact();
  }, T);

  it('--deep without approval is refused by the worker even with an approved list in the arguments', async () => {
    await expect(runClean({ deep: true, approved: [`volume:${ours!.volumes.data}`] })).rejects.toThrow(/approves the exact list/);
    expect(await exists('volume', ours!.volumes.data)).toBe(true);
  }, T);

  it('--deep asks for approval listing every object and size, keeps protect: volumes, and removes exactly the approved list', async () => {
    h = await startHarness({
      file: {
        stack: { project, composeFiles: [composeFile] },
        clean: { protect: [`${project}_pgdata`] },
        roles: { operator: { users: [ALICE] }, approver: { users: [BOB] } },
      },
    });
    const harness = h;
    const res = await harness.slash('clean --deep', { user_id: ALICE, user_name: 'alice', channel_id: CHANNEL, team_id: TEAM });
    expect(res.status).toBe(200);
    const posted = await harness.slack.waitForCall((c) => c.method === 'chat.postMessage' && /Approval needed/.test(String(c.args.text)), 120_000);
    const body = JSON.stringify(posted.args.blocks);
    expect(body).toContain(`volume ${ours!.volumes.data} (`);
    expect(body).toContain(`image ${project}-api:latest (`);
    expect(body).toMatch(/KiB|MiB| B\)/);
    expect(body).toContain(`kept (clean.protect): volume ${ours!.volumes.pgdata}`);
    expect(body).not.toContain(ours!.volumes.used);
    expect(body).not.toContain(other);

    const redis = harness.redis;
    const prefix = harness.config.redis.prefix;
    const store = new ApprovalStore(redis, prefix);
    const id = await waitFor(async () => (await redis.zrange(`${prefix}:approvals:pending`, 0, -1))[0], { what: 'a pending approval request', timeoutMs: 30_000 });
    const record = await waitFor(async () => ((await store.get(id))?.messageTs ? store.get(id) : undefined), { what: 'the request to be posted', timeoutMs: 30_000 });
    expect([...(record!.args.approved as string[])].sort()).toEqual([`image:${ours!.api}`, `volume:${ours!.volumes.data}`].sort());

    // Appears after the approver looked: must survive the approved run.
    await docker.createVolume({ Name: late, Labels: { [LABEL]: project, 'com.docker.compose.volume': 'late' } });

    const click = {
      type: 'block_actions', api_app_id: 'A123456', token: 'legacy', trigger_id: '1.2.3',
      team: { id: TEAM, domain: 'example' },
      user: { id: BOB, username: 'bob', name: 'bob', team_id: TEAM },
      container: { type: 'message', message_ts: record!.messageTs, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'ops' },
      message: { type: 'message', ts: record!.messageTs, text: 'approval' },
      response_url: harness.slack.responseUrl('click-approve'),
      state: { values: {} },
      actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: ACTION_APPROVE, value: id, action_ts: '1700000000.1' }],
    };
    expect((await postSigned(harness.eventsUrl, blockActionsBody(click), SIGNING_SECRET)).status).toBe(200);
    await waitFor(async () => (await store.get(id))?.state === 'executed', { what: 'the deep clean to finish', timeoutMs: 180_000 });

    expect(await exists('volume', ours!.volumes.data)).toBe(false);
    expect(await exists('image', ours!.api)).toBe(false);
    expect(await exists('volume', ours!.volumes.pgdata)).toBe(true);
    expect(await exists('volume', ours!.volumes.used)).toBe(true);
    expect(await exists('volume', late)).toBe(true);
    expect(await exists('container', ours!.web)).toBe(true);
    await theirsIntact();
    const result = await harness.slack.waitForCall((c) => c.method === 'chat.postMessage' && /Deep clean of/.test(String(c.args.text)), 60_000);
    expect(String(result.args.text)).toContain('2 of 2 object(s) removed');
    expect(String(result.args.text)).toContain(`left alone (appeared after approval)  volume ${late}`);
  }, T);
});
