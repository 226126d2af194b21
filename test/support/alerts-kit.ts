// Helpers shared by the alert tests and bench: a watcher wired to a harness, Slack message queries,
// and signed button clicks.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { startAlertWatcher, type AlertWatcher } from '../../src/features/alerts/watcher.ts';
import { AuditLog } from '../../src/shared/audit/audit.ts';
import { noGroups } from '../../src/shared/auth/authorize.ts';
import { registerAlertActions } from '../../src/bot/alert-actions.ts';
import { JOBS_QUEUE, connectRedis, keyPrefix, queuePrefix } from '../../src/shared/queue/names.ts';
import type { Registry } from '../../src/shared/registry/registry.ts';
import { createDocker } from '../../src/host/docker-client.ts';
import type { Harness } from './harness.ts';
import { SIGNING_SECRET } from './harness.ts';
import { blockActionsBody, postSigned, freshTriggerId } from './slack-sign.ts';
import type { SlackMessage } from './slack-standin.ts';

export interface AlertKit {
  readonly watcher: AlertWatcher;
  readonly jobs: Queue;
  readonly connection: Redis;
  close(): Promise<void>;
}

/** Starts the watcher as the worker would, and the buttons as the bot would. */
export async function wireAlerts(h: Harness, registry: Registry): Promise<AlertKit> {
  const connection = connectRedis(h.config);
  const watcher = await startAlertWatcher({ config: h.config, docker: createDocker(h.config), connection, log: h.log });
  const jobs = new Queue(JOBS_QUEUE, { connection, prefix: queuePrefix(h.config) });
  const audit = new AuditLog(connection, h.log, `${keyPrefix(h.config)}:audit`, 1000);
  registerAlertActions(h.bot.app, { config: h.config, registry, groups: noGroups, jobs, audit, log: h.log });
  return {
    watcher, jobs, connection,
    async close() {
      await watcher.close();
      // Stop the schedule so nothing ticks into a closed worker.
      await jobs.removeJobScheduler('alerts-tick').catch(() => false);
      await jobs.close();
      await connection.quit();
    },
  };
}

/** Top-level messages in a channel (roots), oldest first. */
export function roots(h: Harness, channel: string): SlackMessage[] {
  return [...h.slack.messages.values()].filter((m) => m.channel === channel && !m.thread_ts).sort((a, b) => Number(a.ts) - Number(b.ts));
}

export function replies(h: Harness, channel: string, rootTs: string): SlackMessage[] {
  return [...h.slack.messages.values()].filter((m) => m.channel === channel && m.thread_ts === rootTs).sort((a, b) => Number(a.ts) - Number(b.ts));
}

export function textOf(m: Pick<SlackMessage, 'text' | 'blocks'>): string {
  return `${m.text}\n${JSON.stringify(m.blocks ?? [])}`;
}

export function buttonValue(m: SlackMessage, actionId: string): string {
  const blocks = (m.blocks ?? []) as { type: string; elements?: { action_id?: string; value?: string }[] }[];
  const el = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === actionId);
  if (!el?.value) throw new Error(`no ${actionId} button on message ${m.ts}`);
  return el.value;
}

/** Clicks a button on a message exactly as Slack delivers it: a signed block_actions payload. */
export async function click(h: Harness, m: SlackMessage, actionId: string, userId: string): Promise<Response> {
  const payload = {
    type: 'block_actions',
    user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: h.slack.teamId },
    api_app_id: 'A123456',
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    container: { type: 'message', message_ts: m.ts, channel_id: m.channel, is_ephemeral: false },
    trigger_id: freshTriggerId(), // one per click, as Slack does (identical bodies would be replays)
    team: { id: h.slack.teamId, domain: 'example' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: m.channel, name: 'alerts' },
    message: { type: 'message', ts: m.ts, text: m.text, blocks: m.blocks, user: h.slack.botUserId, bot_id: h.slack.botId },
    state: { values: {} },
    response_url: h.slack.responseUrl(`click-${m.ts}-${actionId}`),
    actions: [{ action_id: actionId, block_id: 'cdb_alert_actions', text: { type: 'plain_text', text: actionId, emoji: true }, value: buttonValue(m, actionId), type: 'button', action_ts: `${Date.now() / 1000}` }],
  };
  return postSigned(h.eventsUrl, blockActionsBody(payload), SIGNING_SECRET);
}
