// Local stand-in for the Slack Web API (https://slack.com/api/<method>) speaking the same wire format, so that
// `new WebClient(token, { slackApiUrl: standin.apiUrl })` works unchanged. Also serves response_url and upload URLs.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockErrors, fail, isObj, parseBody, readBody, viewErrors, type Json } from './slack-wire.ts';

export interface SlackCall { method: string; args: Json; token: string | undefined; at: number; ok: boolean; error?: string }
export interface SlackMessage {
  channel: string; ts: string; type: 'message'; user: string; bot_id: string; app_id: string; team: string;
  text: string; blocks?: unknown; attachments?: unknown; thread_ts?: string; metadata?: unknown;
  edited?: { user: string; ts: string }; updates: number;
}
export interface SlackResponsePost {
  id: string; body: Json; at: number; response_type?: unknown; replace_original?: unknown;
  delete_original?: unknown; text?: unknown; blocks?: unknown;
}
export interface SlackUpload {
  file_id: string; filename: string; length: number; content?: Buffer; text?: string; completed: boolean;
  title?: string; channel_id?: string; thread_ts?: string; initial_comment?: string;
  /** Set by files.delete. */
  deleted?: boolean;
}
/** A modal opened with views.open (or replaced with views.update). */
export interface SlackView {
  id: string; trigger_id?: string; type: string; callback_id?: string; private_metadata?: string;
  title: unknown; blocks: unknown[]; submit?: unknown; close?: unknown; hash: string; updates: number;
}
export interface SlackUser { id: string; team_id: string; is_bot: boolean; deleted: boolean; name: string; [k: string]: unknown }
export interface FailOptions { status?: number; retryAfter?: number }
export interface ResponseUrlTarget { channel?: string; ts?: string }
export interface SlackStandin {
  baseUrl: string; apiUrl: string; botToken: string; teamId: string; botUserId: string; botId: string;
  calls: SlackCall[]; messages: Map<string, SlackMessage>; responses: SlackResponsePost[]; uploads: SlackUpload[];
  /** Modals opened by views.open, in order. */
  views: SlackView[];
  addToken(token: string): void;
  setUsergroup(id: string, users: string[]): void;
  setUser(id: string, user: Partial<SlackUser>): void;
  setChannel(id: string, channel: Json): void;
  /** Adds or replaces a Web API method (e.g. `apps.connections.open` for a Socket Mode test). */
  setMethod(method: string, handler: (args: Json, token: string) => Json): void;
  /** `<base>/response/<id>`; with a target, replace_original/delete_original/in_channel act on `messages`. */
  responseUrl(id: string, target?: ResponseUrlTarget): string;
  /** Next call of `method` (or 'response_url') fails once; status 429 gives a rate limit with Retry-After. */
  failNext(method: string, error: string, opts?: FailOptions): void;
  /**
   * Every Web API call for which `match(method, args)` holds fails (default: HTTP 500 `internal_error`)
   * until the returned function is called; e.g. one channel or one thread that Slack cannot serve.
   */
  failWhile(match: (method: string, args: Json) => boolean, error?: string, opts?: FailOptions): () => void;
  waitForCall(predicate: (c: SlackCall) => boolean, timeoutMs?: number): Promise<SlackCall>;
  waitForResponse(predicate: (r: SlackResponsePost) => boolean, timeoutMs?: number): Promise<SlackResponsePost>;
  /** Clears calls, messages, responses, uploads, response_url targets and pending failNext; fixtures
   *  (usergroups, users, channels, extra tokens) are kept unless `fixtures: true`. */
  reset(opts?: { fixtures?: boolean }): void;
  close(): Promise<void>;
}

const TEAM_ID = 'T0001';
const BOT_USER = 'U0CDBBOT';
const BOT_ID = 'B0CDBBOT';
const APP_ID = 'A123456';
const BOT_TOKEN = 'xoxb-test-0000000000-0000000000000-standinstandinstandin1';

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
/** A predicate that throws (e.g. JSON.stringify(undefined).includes) counts as "no match", never as a server error. */
const safe = <T>(pred: (x: T) => boolean, x: T): boolean => { try { return pred(x); } catch { return false; } };

export async function startSlackStandin(): Promise<SlackStandin> {
  const tokens = new Set([BOT_TOKEN]);
  const usergroups = new Map<string, string[]>();
  const users = new Map<string, Partial<SlackUser>>();
  const channels = new Map<string, Json>();
  const targets = new Map<string, ResponseUrlTarget>();
  const failures = new Map<string, Array<{ error: string } & FailOptions>>();
  const callWaiters = new Set<{ pred: (c: SlackCall) => boolean; done: (c: SlackCall) => void }>();
  const respWaiters = new Set<{ pred: (r: SlackResponsePost) => boolean; done: (r: SlackResponsePost) => void }>();
  const timers = new Set<{ timer: NodeJS.Timeout; reject: (e: Error) => void }>();
  const usedTriggers = new Set<string>();
  let viewSeq = 0;
  let lastMicros = 0;
  let fileSeq = 0;
  let base = '';

  const nextTs = (): string => {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
    return `${Math.floor(lastMicros / 1e6)}.${String(lastMicros % 1e6).padStart(6, '0')}`;
  };
  const publicMessage = (m: SlackMessage): Json => {
    const { channel: _c, updates: _u, ...rest } = m;
    return rest;
  };
  const content = (args: Json): Json | undefined => {
    if (str(args.text) === undefined && args.blocks === undefined && args.attachments === undefined) return fail('no_text');
    if (args.blocks !== undefined) {
      const errs = blockErrors(args.blocks);
      if (errs === 'format') return fail('invalid_blocks_format');
      if (errs.length) return fail('invalid_blocks', { errors: errs, response_metadata: { messages: errs.map((e) => `[ERROR] ${e}`) } });
    }
    if (args.attachments !== undefined && !Array.isArray(args.attachments)) return fail('invalid_attachments');
    return undefined;
  };
  const newMessage = (channel: string, ts: string, args: Json): SlackMessage => {
    const m: SlackMessage = { channel, ts, type: 'message', user: BOT_USER, bot_id: BOT_ID, app_id: APP_ID, team: TEAM_ID, text: str(args.text) ?? '', updates: 0 };
    if (Array.isArray(args.blocks) && args.blocks.length) m.blocks = args.blocks;
    if (Array.isArray(args.attachments) && args.attachments.length) m.attachments = args.attachments;
    const thread = str(args.thread_ts);
    if (thread) m.thread_ts = thread;
    if (args.metadata !== undefined) m.metadata = args.metadata;
    return m;
  };
  const findMessage = (args: Json): SlackMessage | undefined =>
    state.messages.get(`${str(args.channel) ?? ''}:${str(args.ts) ?? ''}`);

  const methods: Record<string, (args: Json, token: string) => Json> = {
    'auth.test': (_a, token) => ({
      ok: true, url: 'https://example.slack.com/', team: 'Example', user: token.startsWith('xoxb-') ? 'cdb' : 'steve',
      team_id: TEAM_ID, user_id: token.startsWith('xoxb-') ? BOT_USER : 'U2147483697',
      ...(token.startsWith('xoxb-') ? { bot_id: BOT_ID } : {}), is_enterprise_install: false,
    }),
    'chat.postMessage': (args) => {
      // Posting to a user ID posts in the app's DM with them, whose id Slack answers (D…).
      const raw = str(args.channel);
      const channel = raw && /^[UW][A-Z0-9]+$/.test(raw) ? `D${raw.slice(1)}` : raw;
      if (!channel) return fail('channel_not_found');
      if (channels.get(channel)?.is_member === false) return fail('not_in_channel');
      if (channels.get(channel)?.is_archived === true) return fail('is_archived');
      const bad = content(args);
      if (bad) return bad;
      const m = newMessage(channel, nextTs(), args);
      state.messages.set(`${channel}:${m.ts}`, m);
      return { ok: true, channel, ts: m.ts, message: publicMessage(m) };
    },
    'chat.update': (args) => {
      const m = findMessage(args);
      if (!m) return fail('message_not_found');
      const bad = content(args);
      if (bad) return bad;
      if (args.text !== undefined) m.text = str(args.text) ?? '';
      for (const key of ['blocks', 'attachments'] as const) {
        const v = args[key];
        if (Array.isArray(v)) { if (v.length) m[key] = v; else delete m[key]; }
      }
      if (args.metadata !== undefined) m.metadata = args.metadata;
      m.edited = { user: BOT_USER, ts: nextTs() };
      m.updates += 1;
      return { ok: true, channel: m.channel, ts: m.ts, text: m.text, message: publicMessage(m) };
    },
    'chat.postEphemeral': (args) => {
      if (!str(args.channel)) return fail('channel_not_found');
      if (!str(args.user)) return fail('user_not_in_channel');
      return content(args) ?? { ok: true, message_ts: nextTs() };
    },
    'chat.delete': (args) => {
      const m = findMessage(args);
      if (!m) return fail('message_not_found');
      state.messages.delete(`${m.channel}:${m.ts}`);
      return { ok: true, channel: m.channel, ts: m.ts };
    },
    'views.open': (args) => {
      const trigger = str(args.trigger_id);
      if (!trigger) return fail('invalid_arguments');
      // A trigger_id is good for one view (and only for 3 s, which the stand-in does not enforce).
      if (usedTriggers.has(trigger)) return fail('expired_trigger_id');
      const view = args.view;
      if (!isObj(view)) return fail('invalid_arguments');
      const bad = viewErrors(view);
      if (bad) return bad;
      usedTriggers.add(trigger);
      const opened: SlackView = { ...(view as unknown as SlackView), id: `V${String(++viewSeq).padStart(10, '0')}`, trigger_id: trigger, hash: `${Date.now()}.${viewSeq}`, updates: 0 };
      state.views.push(opened);
      return { ok: true, view: { ...publicView(opened), state: { values: {} } } };
    },
    'views.update': (args) => {
      const found = state.views.find((v) => v.id === str(args.view_id));
      if (!found) return fail('not_found');
      const view = args.view;
      if (!isObj(view)) return fail('invalid_arguments');
      const bad = viewErrors(view);
      if (bad) return bad;
      Object.assign(found, view, { updates: found.updates + 1, hash: `${Date.now()}.${found.updates + 1}` });
      return { ok: true, view: publicView(found) };
    },
    'usergroups.users.list': (args) => {
      const list = usergroups.get(str(args.usergroup) ?? '');
      return list ? { ok: true, users: [...list] } : fail('no_such_subteam');
    },
    'users.info': (args) => {
      const id = str(args.user);
      if (!id) return fail('user_not_found');
      const name = id.toLowerCase();
      return {
        ok: true,
        user: {
          id, team_id: TEAM_ID, name, deleted: false, is_bot: false, is_app_user: false, is_admin: false, is_owner: false,
          is_restricted: false, is_ultra_restricted: false, real_name: name, tz: 'Etc/UTC',
          profile: { real_name: name, display_name: name }, ...users.get(id),
        },
      };
    },
    'conversations.info': (args) => {
      const id = str(args.channel);
      if (!id) return fail('channel_not_found');
      return {
        ok: true,
        channel: {
          id, name: id.toLowerCase(), is_channel: id.startsWith('C'), is_group: false, is_im: id.startsWith('D'),
          is_private: id.startsWith('G'), is_archived: false, is_general: false, is_member: true, created: 1700000000,
          ...channels.get(id),
        },
      };
    },
    'files.getUploadURLExternal': (args) => {
      const filename = str(args.filename);
      const length = Number(args.length);
      if (!filename || !Number.isInteger(length) || length < 0) return fail('invalid_arguments');
      const file_id = `F${String(++fileSeq).padStart(10, '0')}`;
      state.uploads.push({ file_id, filename, length, completed: false });
      return { ok: true, upload_url: `${base}/upload/${file_id}`, file_id };
    },
    'files.delete': (args) => {
      const up = state.uploads.find((u) => u.file_id === str(args.file) && !u.deleted);
      if (!up) return fail('file_not_found');
      up.deleted = true;
      return { ok: true };
    },
    'files.completeUploadExternal': (args) => {
      if (!Array.isArray(args.files) || args.files.length === 0) return fail('invalid_arguments');
      const out: Json[] = [];
      for (const f of args.files) {
        const up = isObj(f) ? state.uploads.find((u) => u.file_id === f.id) : undefined;
        if (!isObj(f) || !up || !up.content) return fail('file_not_found');
        Object.assign(up, { completed: true, title: str(f.title) ?? up.filename });
        for (const key of ['channel_id', 'thread_ts', 'initial_comment'] as const) { const v = str(args[key]); if (v) up[key] = v; }
        out.push({ id: up.file_id, created: Math.floor(Date.now() / 1000), name: up.filename, title: up.title, mimetype: 'text/plain', filetype: 'text', user: BOT_USER, size: up.content.length });
      }
      return { ok: true, files: out };
    },
  };

  const state = {
    calls: [] as SlackCall[], messages: new Map<string, SlackMessage>(),
    responses: [] as SlackResponsePost[], uploads: [] as SlackUpload[], views: [] as SlackView[],
  };
  const publicView = (v: SlackView): Json => {
    const { updates: _u, trigger_id: _t, ...rest } = v;
    return { ...rest, team_id: TEAM_ID, app_id: APP_ID, bot_id: BOT_ID, root_view_id: v.id, previous_view_id: null };
  };

  const send = (res: ServerResponse, status: number, body: Json | string, headers: Record<string, string> = {}): void => {
    const isText = typeof body === 'string';
    res.writeHead(status, { 'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8', ...headers });
    res.end(isText ? body : JSON.stringify(body));
  };
  const failingWhile = new Set<{ match: (method: string, args: Json) => boolean; error: string } & FailOptions>();
  const takeFailure = (method: string, args: Json = {}): ({ error: string } & FailOptions) | undefined =>
    failures.get(method)?.shift() ?? [...failingWhile].find((f) => safe((m: string) => f.match(m, args), method));

  async function handleApi(method: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let parsed: Awaited<ReturnType<typeof parseBody>>;
    try {
      parsed = await parseBody(await readBody(req), req.headers['content-type'] ?? '');
    } catch {
      return send(res, 200, fail('invalid_json'));
    }
    const args: Json = { ...Object.fromEntries(url.searchParams), ...parsed.fields };
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    // Slack ignores a `token` attribute inside JSON bodies: JSON callers must use the Authorization header.
    const token = auth ?? (parsed.json ? undefined : str(args.token) ?? url.searchParams.get('token') ?? undefined);
    delete args.token;
    const call: SlackCall = { method, args, token, at: Date.now(), ok: false };
    const injected = takeFailure(method, args);
    let status = 200;
    const headers: Record<string, string> = {};
    let result: Json;
    if (injected?.status === 429) {
      status = 429;
      headers['retry-after'] = String(injected.retryAfter ?? 1);
      result = fail(injected.error || 'ratelimited');
    } else if (injected) {
      status = injected.status ?? 200;
      result = fail(injected.error);
    } else if (!methods[method]) {
      result = fail('unknown_method', { req_method: method });
    } else if (!token) {
      result = fail('not_authed');
    } else if (!tokens.has(token)) {
      result = fail('invalid_auth');
    } else {
      result = methods[method](args, token);
    }
    call.ok = result.ok === true;
    if (!call.ok) call.error = String(result.error);
    state.calls.push(call);
    for (const w of [...callWaiters]) if (safe(w.pred, call)) w.done(call);
    send(res, status, result, headers);
  }

  async function handleResponseUrl(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req)).toString('utf8');
    const injected = takeFailure('response_url');
    if (injected) return send(res, injected.status ?? 404, fail(injected.error));
    let body: unknown;
    try { body = JSON.parse(raw); } catch { body = undefined; }
    if (!isObj(body)) return send(res, 400, fail('invalid_payload'));
    const post: SlackResponsePost = { id, body, at: Date.now() };
    for (const k of ['response_type', 'replace_original', 'delete_original', 'text', 'blocks'] as const) {
      if (body[k] !== undefined) post[k] = body[k];
    }
    const target = targets.get(id);
    const existing = target?.channel && target.ts ? state.messages.get(`${target.channel}:${target.ts}`) : undefined;
    if (existing && (body.delete_original === true || body.delete_original === 'true')) {
      state.messages.delete(`${existing.channel}:${existing.ts}`);
    } else if (existing && (body.replace_original === true || body.replace_original === 'true')) {
      const next = newMessage(existing.channel, existing.ts, body);
      state.messages.set(`${existing.channel}:${existing.ts}`, { ...next, edited: { user: BOT_USER, ts: nextTs() }, updates: existing.updates + 1 });
    } else if (target?.channel && body.response_type === 'in_channel') {
      const m = newMessage(target.channel, nextTs(), body);
      state.messages.set(`${m.channel}:${m.ts}`, m);
    }
    state.responses.push(post);
    for (const w of [...respWaiters]) if (safe(w.pred, post)) w.done(post);
    send(res, 200, { ok: true });
  }

  async function handleUpload(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const up = state.uploads.find((u) => u.file_id === id);
    if (!up) return send(res, 404, 'Not Found');
    const ct = req.headers['content-type'] ?? '';
    const data = ct.startsWith('multipart/form-data') ? (await parseBody(raw, ct)).files[0] ?? Buffer.alloc(0) : raw;
    up.content = data;
    up.text = data.toString('utf8');
    send(res, 200, `OK - ${data.length}`);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const [, kind, id] = url.pathname.split('/');
    const work = kind === 'api' && id && (req.method === 'POST' || req.method === 'GET') ? handleApi(id, req, res, url)
      : kind === 'response' && id && req.method === 'POST' ? handleResponseUrl(id, req, res)
        : kind === 'upload' && id && req.method === 'POST' ? handleUpload(id, req, res)
          : Promise.resolve(send(res, 404, 'Not Found'));
    work.catch((err: unknown) => { if (!res.headersSent) send(res, 500, String(err)); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function waitFor<T>(list: T[], waiters: Set<{ pred: (x: T) => boolean; done: (x: T) => void }>,
    pred: (x: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const found = list.find((x) => safe(pred, x));
    if (found) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => {
          cleanup();
          reject(new Error(`${what}: no match within ${timeoutMs}ms; seen ${list.length}:\n${list.map((x) => JSON.stringify(x).slice(0, 300)).join('\n')}`));
        }, timeoutMs),
        reject,
      };
      const waiter = { pred, done: (x: T): void => { cleanup(); resolve(x); } };
      const cleanup = (): void => { clearTimeout(entry.timer); timers.delete(entry); waiters.delete(waiter); };
      timers.add(entry);
      waiters.add(waiter);
    });
  }

  return {
    baseUrl: base, apiUrl: `${base}/api/`, botToken: BOT_TOKEN, teamId: TEAM_ID, botUserId: BOT_USER, botId: BOT_ID,
    calls: state.calls, messages: state.messages, responses: state.responses, uploads: state.uploads, views: state.views,
    addToken: (t) => { tokens.add(t); },
    setUsergroup: (id, list) => { usergroups.set(id, [...list]); },
    setUser: (id, user) => { users.set(id, user); },
    setChannel: (id, channel) => { channels.set(id, channel); },
    setMethod: (method, handler) => { methods[method] = handler; },
    responseUrl: (id, target) => { if (target) targets.set(id, target); return `${base}/response/${encodeURIComponent(id)}`; },
    failNext: (method, error, opts = {}) => { failures.set(method, [...(failures.get(method) ?? []), { error, ...opts }]); },
    failWhile: (match, error = 'internal_error', opts = { status: 500 }) => {
      const entry = { match, error, ...opts };
      failingWhile.add(entry);
      return () => { failingWhile.delete(entry); };
    },
    waitForCall: (pred, timeoutMs = 30000) => waitFor(state.calls, callWaiters, pred, timeoutMs, 'waitForCall'),
    waitForResponse: (pred, timeoutMs = 30000) => waitFor(state.responses, respWaiters, pred, timeoutMs, 'waitForResponse'),
    reset: (opts = {}) => {
      state.calls.length = 0; state.responses.length = 0; state.uploads.length = 0; state.views.length = 0; state.messages.clear();
      targets.clear(); failures.clear(); failingWhile.clear();
      if (opts.fixtures) { usergroups.clear(); users.clear(); channels.clear(); tokens.clear(); tokens.add(BOT_TOKEN); }
    },
    close: async () => {
      for (const t of [...timers]) { clearTimeout(t.timer); t.reject(new Error('slack stand-in closed')); }
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
