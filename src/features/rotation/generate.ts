import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A fresh value from crypto.randomBytes: letters and digits only (no quoting problem in a redis-cli
 * line, an SQL literal or a header), without modulo bias (bytes >= 248 are drawn again).
 */
export function generateSecret(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/** Per kind: ~190 bits for passwords, ~285 for API keys, ~380 for app secrets. */
export const SECRET_LENGTH: Readonly<Record<string, number>> = { redis: 32, postgres: 32, mariadb: 32, 'api-key': 48, 'app-secret': 64 };
