import { pino, type Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear. Secrets should never reach a log call,
 * this is the net underneath for the day one does.
 */
export const REDACT_PATHS = [
  'token', '*.token', 'botToken', '*.botToken', 'appToken', '*.appToken',
  'signingSecret', '*.signingSecret', 'password', '*.password', '*.*.password',
  'secret', '*.secret', 'authorization', '*.authorization', 'headers.authorization',
  'req.headers.authorization', 'privateKey', '*.privateKey', 'passphrase', '*.passphrase',
  'env', '*.env', 'Env', '*.Env', '*.Config.Env',
  // The loaded config keeps its secrets under `secrets` (slackBotToken, redisPassword, …): no field name above matches them.
  'secrets', '*.secrets', '*.*.secrets',
];

// Also TOTP enrollment URIs (otpauth://…secret=BASE32): the Web API client logs request bodies at debug.
const SECRET_VALUE = /\b(xox[abeposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|secret=[A-Z2-7]{16,})/g;

/** Masks Slack tokens inside free text (error messages from libraries quote them sometimes). */
export function redactText(text: string): string {
  return text.replace(SECRET_VALUE, (m) => `${m.slice(0, 5)}[REDACTED]`);
}

export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const opts = {
    level,
    name: options.name ?? 'cdb',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

export type { Logger };
