import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { ALERT_ACTION, ALERT_ACTION_IDS, alertButtonValueSchema, type AlertButtonValue } from '../shared/contracts/alerts.ts';
import { actorSchema, type Actor, type Origin } from '../shared/contracts/envelope.ts';
import { dispatch, type DispatchDeps } from './dispatch.ts';
import { defang } from '../shared/render/blocks.ts';

const registered = new WeakSet<App>();

/** What Show logs asks for: the recent past of the service, as `/cdb logs` would. */
const SHOW_LOGS = '--since=15m --limit=200';

interface Click {
  readonly actionId: string;
  readonly value: AlertButtonValue;
  readonly actor: Actor;
  readonly channel: string;
  /** The incident's root message: results go into its thread. */
  readonly threadTs: string;
}

function parseClick(body: BlockAction, action: ButtonAction): Click | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(action.value ?? '');
  } catch {
    return undefined;
  }
  const value = alertButtonValueSchema.safeParse(raw);
  const actor = actorSchema.safeParse({ userId: body.user.id, teamId: body.user.team_id ?? body.team?.id, name: body.user.username ?? body.user.name });
  const channel = body.channel?.id;
  const message = body.message as { ts?: string; thread_ts?: string } | undefined;
  const threadTs = message?.thread_ts ?? message?.ts;
  if (!value.success || !actor.success || !channel || !threadTs) return undefined;
  return { actionId: action.action_id, value: value.data, actor: actor.data, channel, threadTs };
}

/** The text a click stands for; undefined when the button only explains something. */
function commandFor(click: Click, deps: DispatchDeps): { text?: string; explain?: string } {
  const { service } = click.value;
  const on = click.value.target ? ` --on ${click.value.target}` : '';
  switch (click.actionId) {
    case ALERT_ACTION.logs:
      return { text: `logs ${service} ${SHOW_LOGS}${on}` };
    case ALERT_ACTION.restart:
      return { text: `restart ${service}${on}` };
    case ALERT_ACTION.doctor:
      return deps.registry.get('doctor') ? { text: `doctor${on}` } : { explain: 'The stack doctor is not available in this bot yet.' };
    case ALERT_ACTION.rollback:
      return deps.registry.get('rollback')
        ? { explain: `To roll \`${service}\` back, pick a tag with \`/cdb tags\`, then run \`/cdb rollback &lt;tag|latest&gt; ${service}${on}\` here. A rollback needs a second person’s approval; the request and its result are posted in the channel.` }
        : { explain: `Rollback is not available in this bot yet. Meanwhile: \`/cdb status ${service}\` shows the image in use.` };
    default:
      return { explain: 'This button is not known to this bot (is it older than the worker?).' };
  }
}

/**
 * The buttons on incident root messages. A click is the command it stands for (Show logs =
 * `/cdb logs <service>`, Restart = `/cdb restart <service>`, Run doctor = `/cdb doctor`), run through
 * the same dispatch as typed commands: same roles (Restart needs operator), approvals and audit.
 * Results go into the incident's thread; refusals are shown only to the clicker.
 */
export function registerAlertActions(app: App, deps: DispatchDeps): void {
  // Registering twice would run every click twice (two restarts for one press).
  if (registered.has(app)) return;
  registered.add(app);
  const pattern = new RegExp(`^(${ALERT_ACTION_IDS.join('|')})$`);
  const { config, log } = deps;
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: pattern }, async ({ ack, body, action, client }) => {
    await ack();
    if (config.slack.appId && body.api_app_id !== config.slack.appId) return;
    const click = parseClick(body, action);
    if (!click) {
      log.warn({ actionId: action.action_id }, 'alert button with a malformed payload ignored');
      return;
    }
    const say = (text: string) =>
      client.chat.postEphemeral({ channel: click.channel, user: click.actor.userId, thread_ts: click.threadTs, text: defang(text) }).catch((err: unknown) => log.warn({ err }, 'ephemeral answer to an alert button not sent'));
    if (click.channel !== config.channels.alerts) {
      await say('These buttons act only on incidents in the alerts channel.');
      return;
    }
    const { text, explain } = commandFor(click, deps);
    if (!text) {
      await say(explain ?? '');
      return;
    }
    // Buttons live in the alerts channel, which need not be a command channel: allow it for them.
    const commands = config.channels.commands;
    const scoped = commands.length && !commands.includes(click.channel) ? { ...config, channels: { ...config.channels, commands: [...commands, click.channel] } } : config;
    const origin: Origin = { kind: 'slack', channel: click.channel, threadTs: click.threadTs };
    const outcome = await dispatch({ text, actor: click.actor, origin }, { ...deps, config: scoped });
    log.info({ action: click.actionId, incident: click.value.incident, user: click.actor.userId, enqueued: outcome.enqueued }, 'alert button');
    await say(outcome.ephemeral.text);
  });
}
