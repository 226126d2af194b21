/** Incident and monitoring notices as Slack messages (pure; sent through the replies queue). */
import { ALERT_ACTION, type AlertButtonValue } from '../../shared/contracts/alerts.ts';
import type { Notice } from '../../shared/contracts/envelope.ts';
import { type Block, clip, context, esc, fields, section } from '../../shared/render/blocks.ts';
import { formatDuration } from '../../shared/render/table.ts';
import type { ContainerState, Incident } from './incident.ts';
import type { DedupedLine } from './redact.ts';
import { runbookLink, type RunbookMatch } from './runbooks.ts';
import { kindLabel } from './symptoms.ts';

export type OutgoingNotice = Omit<Notice, 'type'>;

export interface RenderSettings {
  readonly project: string;
  readonly errorWindow: string;
  readonly resolveAfterChecks: number;
  readonly runbookBaseUrl?: string;
  readonly target?: string;
}

export interface Evidence {
  /** Where the lines came from, e.g. "Loki, error lines of the last 15m". */
  readonly source: string;
  readonly lines: readonly DedupedLine[];
  readonly healthOutput?: string;
  readonly runbook?: RunbookMatch;
  /** Set when the lines could not be read (Loki down and no container to ask). */
  readonly unavailable?: string;
}

export function slackDate(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${new Date(ms).toISOString()}>`;
}

export function incidentKey(incident: Pick<Incident, 'id'>): string {
  return `incident:${incident.id}`;
}

/** `cdb_core` → `core`, `proj_web_1` / `proj-web-1` → `web`; the container name if nothing fits. */
export function serviceOf(state: Pick<ContainerState, 'name' | 'service'>, project: string): string {
  if (state.service !== state.name) return state.service;
  const m = new RegExp(`^${project.replace(/[-]/g, '\\-')}[_-](.+?)(?:[_-]\\d+)?$`).exec(state.name);
  return m?.[1] ?? state.name;
}

function toNotice(blocks: Block[]): Notice['blocks'] {
  return blocks as unknown as Notice['blocks'];
}

function codeBlock(lines: readonly string[]): string {
  // A code block ends at the next ```; keep lines from closing it early.
  return `\`\`\`${clip(esc(lines.join('\n').replace(/```/g, '`\u200b``')), 2800)}\`\`\``;
}

function actions(value: AlertButtonValue, firing: boolean): Block {
  const v = JSON.stringify(value);
  const button = (action_id: string, text: string, extra: Record<string, unknown> = {}) => ({ type: 'button', action_id, value: v, text: { type: 'plain_text', text, emoji: true }, ...extra });
  const elements = [button(ALERT_ACTION.logs, ':page_facing_up: Show logs')];
  if (firing) {
    elements.push(
      button(ALERT_ACTION.restart, ':arrows_counterclockwise: Restart', {
        style: 'danger',
        confirm: {
          title: { type: 'plain_text', text: 'Restart the service?' },
          text: { type: 'mrkdwn', text: `Restarts every container of \`${esc(value.service)}\`. Needs the operator role.` },
          confirm: { type: 'plain_text', text: 'Restart' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      }),
      button(ALERT_ACTION.doctor, ':stethoscope: Run doctor'),
      button(ALERT_ACTION.rollback, ':rewind: Roll back…'),
    );
  }
  return { type: 'actions', block_id: 'cdb_alert_actions', elements } as unknown as Block;
}

function headline(state: ContainerState, i: Incident, resolved: boolean, project: string): { emoji: string; title: string } {
  const service = serviceOf(state, project);
  if (resolved) return { emoji: ':large_green_circle:', title: `Resolved: ${service}` };
  if (!i.active.length) return { emoji: ':large_yellow_circle:', title: `Recovering: ${service}` };
  return { emoji: ':red_circle:', title: `Incident: ${service}` };
}

/** The root message: what, where, since when, how bad; edited in place as the incident changes. */
export function rootMessage(state: ContainerState, i: Incident, resolved: boolean, s: RenderSettings, now: number): { text: string; blocks: Notice['blocks'] } {
  const { emoji, title } = headline(state, i, resolved, s.project);
  const symptoms = resolved || !i.active.length ? `was ${i.kinds.map(kindLabel).join(', ')}` : i.active.map((x) => `${kindLabel(x.kind)} (${x.detail})`).join(', ');
  const lines = [`${emoji} *${esc(title)}* — ${esc(symptoms)}`];
  if (i.flapping) lines.push(':warning: *Flapping*: this container keeps failing and recovering; further episodes are reported in this thread.');
  if (!resolved && !i.active.length) lines.push(`:hourglass_flowing_sand: No symptoms now; resolves after ${s.resolveAfterChecks} healthy check${s.resolveAfterChecks === 1 ? '' : 's'} in a row (${i.healthyChecks} so far).`);
  const f = [`*Container*\n\`${esc(state.name)}\``, `*Since*\n${slackDate(i.openedAt)}`];
  if (resolved && i.resolvedAt) f.push(`*Duration*\n${formatDuration(i.resolvedAt - i.openedAt)}`);
  if (i.kinds.includes('errors')) f.push(`*Errors (${esc(s.errorWindow)})*\n${i.peakErrors} at peak`);
  if (state.restartCount !== undefined) f.push(`*Restarts*\n${state.restartCount}${i.restartsAtOpen !== undefined && state.restartCount > i.restartsAtOpen ? ` (+${state.restartCount - i.restartsAtOpen} in this incident)` : ''}`);
  const value: AlertButtonValue = { service: serviceOf(state, s.project), container: state.name, incident: i.id, ...(s.target ? { target: s.target } : {}) };
  const blocks: Block[] = [section(lines.join('\n')), fields(f), actions(value, !resolved), context(`incident \`${esc(i.id)}\` · updated ${slackDate(now)}`)];
  const text = `${emoji} ${title} (${state.name}): ${symptoms}`;
  return { text: clip(text, 300), blocks: toNotice(blocks) };
}

export function rootNotice(state: ContainerState, i: Incident, resolved: boolean, s: RenderSettings, now: number, action: 'root' | 'update-root'): OutgoingNotice {
  return { key: incidentKey(i), action, ...rootMessage(state, i, resolved, s, now) };
}

function evidenceBlocks(e: Evidence, s: RenderSettings): Block[] {
  const blocks: Block[] = [];
  if (e.lines.length) {
    blocks.push(section(`*Evidence* — ${esc(e.source)} (deduplicated, secrets masked):`));
    blocks.push(section(codeBlock(e.lines.map((l) => `${l.count > 1 ? `×${l.count}  ` : ''}${l.line}`))));
  } else {
    blocks.push(context(e.unavailable ? `No log lines: ${esc(e.unavailable)}` : `No matching log lines (${esc(e.source)}). *Show logs* shows everything.`));
  }
  if (e.healthOutput) blocks.push(section(`*Last health probe*\n${codeBlock([e.healthOutput])}`));
  if (e.runbook) blocks.push(section(`:book: Runbook: ${runbookLink(e.runbook, s.runbookBaseUrl)} — matched by ${esc(e.runbook.matchedBy)}`));
  return blocks;
}

function historyText(i: Incident): string {
  return i.history.slice(-12).map((h) => `${slackDate(h.at)}  ${esc(h.text)}`).join('\n');
}

export function openedThread(i: Incident, e: Evidence, s: RenderSettings): OutgoingNotice {
  const blocks = [...evidenceBlocks(e, s), context(`*History*\n${historyText(i)}`)];
  return { key: incidentKey(i), action: 'thread', text: `Evidence for ${i.id}`, blocks: toNotice(blocks) };
}

export function escalatedThread(i: Incident, added: readonly string[], e: Evidence | undefined, s: RenderSettings): OutgoingNotice {
  const now = i.active.filter((x) => added.includes(x.kind)).map((x) => `${kindLabel(x.kind)} (${x.detail})`).join(', ');
  const text = `:arrow_up: Now also ${now}.`;
  const blocks = [section(esc(text)), ...(e ? evidenceBlocks(e, s) : [])];
  return { key: incidentKey(i), action: 'thread', text, blocks: toNotice(blocks) };
}

export function reopenedThread(i: Incident, e: Evidence | undefined, s: RenderSettings): OutgoingNotice {
  const text = `:warning: Failing again: ${i.active.map((x) => `${kindLabel(x.kind)} (${x.detail})`).join(', ')}. Flapping, so this thread is reused instead of a new incident.`;
  const blocks = [section(esc(text)), ...(e ? evidenceBlocks(e, s) : [])];
  return { key: incidentKey(i), action: 'thread', text, blocks: toNotice(blocks) };
}

export function repeatedThread(i: Incident, now: number): OutgoingNotice {
  const text = `:repeat: Still firing after ${formatDuration(now - i.openedAt)}: ${i.active.map((x) => `${kindLabel(x.kind)} (${x.detail})`).join(', ')}.`;
  return { key: incidentKey(i), action: 'thread', text, blocks: toNotice([section(esc(text))]) };
}

export function resolvedThread(i: Incident): OutgoingNotice {
  const lasted = formatDuration((i.resolvedAt ?? i.openedAt) - i.openedAt);
  const text = `:white_check_mark: Resolved after ${lasted}: no symptoms for ${i.healthyChecks} scheduled check${i.healthyChecks === 1 ? '' : 's'} in a row.`;
  return { key: incidentKey(i), action: 'thread', text, blocks: toNotice([section(esc(text)), context(`*History*\n${historyText(i)}`)]) };
}

export function lokiDegradedNotice(episode: string, error: string, since: number): OutgoingNotice {
  const text = `:warning: Monitoring degraded: Loki is not answering (${error}). Error-burst alerts are paused; container checks through Docker go on.`;
  return {
    key: `monitoring:${episode}`,
    action: 'root',
    text: clip(text, 500),
    blocks: toNotice([section(esc(clip(text, 1000))), context(`failing since ${slackDate(since)} · one notice per outage; recovery is posted in this thread`)]),
  };
}

export function lokiRecoveredNotices(episode: string, downMs: number): OutgoingNotice[] {
  const text = `:white_check_mark: Monitoring recovered: Loki answers again after ${formatDuration(downMs)}. Error-burst alerts are back on.`;
  const root = `:large_green_circle: Monitoring recovered: Loki was unreachable for ${formatDuration(downMs)}.`;
  return [
    { key: `monitoring:${episode}`, action: 'thread', text, blocks: toNotice([section(esc(text))]) },
    { key: `monitoring:${episode}`, action: 'update-root', text: root, blocks: toNotice([section(esc(root))]) },
  ];
}
