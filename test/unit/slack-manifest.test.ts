import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

/**
 * The bot scope each Web API method needs (https://api.slack.com/methods/<method>, "Required scopes",
 * bot token). A method missing here fails the test: look it up and add it, then the manifest.
 */
const METHOD_SCOPES: Readonly<Record<string, readonly string[]>> = {
  'auth.test': [],
  'chat.postMessage': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.delete': ['chat:write'],
  'users.info': ['users:read'],
  'users.lookupByEmail': ['users:read.email'],
  'usergroups.list': ['usergroups:read'],
  'usergroups.users.list': ['usergroups:read'],
  // uploadV2 is the SDK's helper over files.getUploadURLExternal + files.completeUploadExternal.
  'files.uploadV2': ['files:write'],
  'files.getUploadURLExternal': ['files:write'],
  'files.completeUploadExternal': ['files:write'],
  'files.delete': ['files:write'],
  'reactions.add': ['reactions:write'],
  'conversations.info': ['channels:read'],
  'conversations.members': ['channels:read'],
  'views.open': [],
  'views.update': [],
};

/** Scopes a manifest feature needs rather than a method: `commands` for slash commands. */
function featureScopes(manifest: Manifest): string[] {
  return manifest.features?.slash_commands?.length ? ['commands'] : [];
}

interface Manifest {
  features?: { slash_commands?: { command: string; url?: string }[]; bot_user?: unknown };
  oauth_config: { scopes: { bot: string[]; user?: string[] } };
  settings: { socket_mode_enabled: boolean; interactivity?: { is_enabled: boolean; request_url?: string } };
}

const FAMILIES = 'admin|apps|auth|bookmarks|canvases|chat|conversations|dnd|emoji|files|pins|reactions|reminders|search|team|usergroups|users|views';
// Any receiver whose name ends in "client" (app.client, this.client, deps.client, slackClient…).
const CALL = new RegExp(`\\b\\w*client\\s*\\.\\s*((?:${FAMILIES})(?:\\s*\\.\\s*\\w+)+)\\s*\\(`, 'gi');
const API_CALL = /\bapiCall\(\s*['"`]([\w.]+)['"`]/g;

export function webApiCalls(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(CALL)) found.add(m[1]!.replace(/\s+/g, ''));
  for (const m of source.matchAll(API_CALL)) found.add(m[1]!);
  return [...found];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

function callsInCode(): Map<string, string[]> {
  const calls = new Map<string, string[]>();
  for (const file of ['src', 'commands', 'jobs'].flatMap(sourceFiles)) {
    for (const method of webApiCalls(readFileSync(file, 'utf8'))) calls.set(method, [...(calls.get(method) ?? []), file]);
  }
  return calls;
}

const manifests = { socket: 'manifest.yml', http: 'manifest.http.yml' } as const;
const load = (path: string) => parse(readFileSync(path, 'utf8')) as Manifest;

describe('Slack app manifests', () => {
  const calls = callsInCode();

  it('the scanner finds Web API calls in all their spellings', () => {
    const sample = `await this.client.chat.postMessage({});\nawait app.client\n  .usergroups.users.list({});\nclient.files.uploadV2(x); env.files.read(p); await web.apiCall('reactions.add', {});`;
    expect(webApiCalls(sample).sort()).toEqual(['chat.postMessage', 'files.uploadV2', 'reactions.add', 'usergroups.users.list']);
    // The real code: if this drops, the scanner broke, not the bot.
    expect([...calls.keys()]).toEqual(expect.arrayContaining(['chat.postMessage', 'chat.update', 'usergroups.users.list']));
  });

  it('every method the code calls has a known scope', () => {
    const unknown = [...calls].filter(([m]) => !(m in METHOD_SCOPES)).map(([m, files]) => `${m} (in ${files.join(', ')})`);
    expect(unknown, 'add these to METHOD_SCOPES from https://api.slack.com/methods/<method>, then to the manifests').toEqual([]);
  });

  it.each(Object.entries(manifests))('%s (%s): covers every call, and has no scope nothing uses', (_mode, path) => {
    const manifest = load(path);
    const bot = manifest.oauth_config.scopes.bot;
    const needed = new Set([...featureScopes(manifest), ...[...calls.keys()].flatMap((m) => METHOD_SCOPES[m] ?? [])]);
    const missing = [...needed].filter((s) => !bot.includes(s));
    expect(missing, `${path} lacks scopes the code needs`).toEqual([]);
    const unused = bot.filter((s) => !needed.has(s));
    expect(unused, `${path} grants scopes no call uses: remove them (least privilege)`).toEqual([]);
    expect(manifest.oauth_config.scopes.user ?? [], 'the bot acts as itself, never as a user').toEqual([]);
    expect(new Set(bot).size).toBe(bot.length);
  });

  it('one slash command /cdb, interactivity on (approval and alert buttons) in both modes', () => {
    for (const path of Object.values(manifests)) {
      const m = load(path);
      expect(m.features?.slash_commands?.map((c) => c.command)).toEqual(['/cdb']);
      expect(m.settings.interactivity?.is_enabled).toBe(true);
    }
  });

  it('Socket Mode has no request URLs; HTTP mode points both at /slack/events over https', () => {
    const socket = load(manifests.socket);
    expect(socket.settings.socket_mode_enabled).toBe(true);
    expect(socket.settings.interactivity?.request_url).toBeUndefined();
    expect(socket.features?.slash_commands?.[0]?.url).toBeUndefined();
    const http = load(manifests.http);
    expect(http.settings.socket_mode_enabled).toBe(false);
    expect(http.settings.interactivity?.request_url).toMatch(/^https:\/\/[^/]+\/slack\/events$/);
    expect(http.features?.slash_commands?.[0]?.url).toMatch(/^https:\/\/[^/]+\/slack\/events$/);
    expect(http.oauth_config.scopes.bot).toEqual(socket.oauth_config.scopes.bot);
  });
});
