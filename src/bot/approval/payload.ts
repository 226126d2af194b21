import { z } from 'zod';
import { ACTION_APPROVE, ACTION_CANCEL, ACTION_DENY, REASON_ACTION, REASON_BLOCK } from '../../shared/approval/message.ts';
import { APPROVAL_ID, type Person } from '../../shared/approval/types.ts';

const userId = z.string().regex(/^[UW][A-Z0-9]{2,}$/);
const teamId = z.string().regex(/^[TE][A-Z0-9]{2,}$/);

/** The parts of a block_actions payload the approval flow reads; everything else is ignored. */
const payloadSchema = z.object({
  type: z.literal('block_actions'),
  api_app_id: z.string().max(40).optional(),
  team: z.object({ id: teamId }).nullable().optional(),
  user: z.object({ id: userId, team_id: teamId.optional() }),
  container: z.object({ channel_id: z.string().max(40).optional(), message_ts: z.string().max(40).optional() }).optional(),
  channel: z.object({ id: z.string().max(40) }).optional(),
  message: z.object({ ts: z.string().max(40) }).optional(),
  actions: z.array(z.object({ action_id: z.string().max(255), value: z.string().max(2000).optional() })),
  state: z.object({ values: z.record(z.string(), z.record(z.string(), z.object({ value: z.string().nullish() }))) }).optional(),
});

export type ClickKind = 'approve' | 'deny' | 'cancel';

export interface Click {
  readonly kind: ClickKind;
  readonly id: string;
  readonly by: Person;
  readonly appId: string | undefined;
  readonly channel: string;
  readonly messageTs: string;
  readonly reason?: string;
}

export type ParsedClick =
  | { readonly ok: true; readonly click: Click }
  | { readonly ok: false; readonly why: string; readonly userId?: string; readonly channel?: string };

const KINDS: Record<string, ClickKind> = { [ACTION_APPROVE]: 'approve', [ACTION_DENY]: 'deny', [ACTION_CANCEL]: 'cancel' };

/** Same answer from two places in the payload, or none at all. */
function agree(a: string | undefined, b: string | undefined): string | undefined | false {
  if (a && b && a !== b) return false;
  return a ?? b;
}

/**
 * Reads an approval click strictly: one action, one of our action ids, a value that is exactly a request
 * id, and one consistent user, team, channel and message. Anything else is refused, not guessed at.
 */
export function parseClick(body: unknown): ParsedClick {
  const parsed = payloadSchema.safeParse(body);
  if (!parsed.success) return { ok: false, why: 'malformed payload' };
  const p = parsed.data;
  const channel = agree(p.container?.channel_id, p.channel?.id);
  const base = { userId: p.user.id, channel: channel || undefined };
  if (p.actions.length !== 1) return { ok: false, why: 'expected exactly one action', ...base };
  const action = p.actions[0] as { action_id: string; value?: string };
  const kind = KINDS[action.action_id];
  if (!kind) return { ok: false, why: `unknown action ${action.action_id.slice(0, 40)}`, ...base };
  if (!action.value || !APPROVAL_ID.test(action.value)) return { ok: false, why: 'button value is not a request id', ...base };
  const team = agree(p.user.team_id, p.team?.id ?? undefined);
  if (!team) return { ok: false, why: 'user and team do not agree', ...base };
  const messageTs = agree(p.container?.message_ts, p.message?.ts);
  if (!channel || !messageTs) return { ok: false, why: 'channel or message missing or inconsistent', ...base };
  const raw = p.state?.values[REASON_BLOCK]?.[REASON_ACTION]?.value?.trim();
  const reason = raw ? raw.replace(/\s+/g, ' ').slice(0, 200) : undefined;
  return { ok: true, click: { kind, id: action.value, by: { userId: p.user.id, teamId: team }, appId: p.api_app_id, channel, messageTs, reason } };
}
