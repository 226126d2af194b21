import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Secret, TOTP } from 'otpauth';
import type { SecurityConfig } from '../shared/config/schema.ts';

/**
 * TOTP secrets of approvers (RFC 6238: SHA-1, 6 digits, 30 s), encrypted at rest with AES-256-GCM
 * under a key from CDB_STEPUP_KEY_FILE; the user id is the additional data, so a record copied to
 * another user does not decrypt. Wrong codes are counted and lock the user out for a while; a code
 * that worked once is remembered until it can no longer be valid, so it is never accepted twice.
 */
const PERIOD = 30;
const WINDOW = 1; // the previous and next code too: phone clocks drift
const ISSUER = 'cdb-chatops';

interface Sealed {
  readonly v: 1;
  readonly state: 'pending' | 'active';
  readonly iv: string;
  readonly tag: string;
  readonly ct: string;
  readonly createdAt: number;
  /** The DM that showed the secret, deleted once enrollment is confirmed. */
  readonly dm?: { readonly channel: string; readonly ts: string; readonly fileId?: string };
}

export type CodeCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly why: 'not-enrolled' }
  | { readonly ok: false; readonly why: 'locked'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly why: 'malformed' | 'wrong' | 'used'; readonly failures: number; readonly max: number; readonly lockedNow: boolean };

export class TotpVault {
  private readonly key: Buffer;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    secretKeyMaterial: string,
    private readonly cfg: SecurityConfig['stepUp'],
  ) {
    // Any length of key file content works; the cipher key is its SHA-256.
    this.key = createHash('sha256').update(`cdb-stepup-v1\n${secretKeyMaterial}`).digest();
  }

  private k(kind: 'secret' | 'fail' | 'lock' | 'used', user: string, extra = ''): string {
    return `${this.prefix}:stepup:${kind}:${user}${extra ? `:${extra}` : ''}`;
  }

  private seal(user: string, base32: string, state: Sealed['state'], dm?: Sealed['dm']): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`cdb-totp:${user}`));
    const ct = Buffer.concat([cipher.update(base32, 'utf8'), cipher.final()]);
    return { v: 1, state, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64'), createdAt: Date.now(), dm };
  }

  private open(user: string, s: Sealed): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(s.iv, 'base64'));
    decipher.setAAD(Buffer.from(`cdb-totp:${user}`));
    decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(s.ct, 'base64')), decipher.final()]).toString('utf8');
  }

  private async load(user: string): Promise<Sealed | undefined> {
    const raw = await this.redis.get(this.k('secret', user));
    if (!raw) return undefined;
    try {
      const s = JSON.parse(raw) as Sealed;
      return s.v === 1 && (s.state === 'pending' || s.state === 'active') ? s : undefined;
    } catch {
      return undefined;
    }
  }

  private totp(user: string, base32: string): TOTP {
    return new TOTP({ issuer: ISSUER, label: user, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(base32) });
  }

  async state(user: string): Promise<'active' | 'pending' | 'none'> {
    return (await this.load(user))?.state ?? 'none';
  }

  /**
   * A new secret, pending until the user proves they stored it by entering a code. An active
   * enrollment is never replaced from chat: whoever holds a Slack session could otherwise re-enroll.
   */
  async begin(user: string): Promise<{ uri: string } | 'already-enrolled'> {
    const existing = await this.load(user);
    if (existing?.state === 'active') return 'already-enrolled';
    const secret = new Secret({ size: 20 });
    const sealed = this.seal(user, secret.base32, 'pending');
    await this.redis.set(this.k('secret', user), JSON.stringify(sealed), 'PX', Math.round(this.cfg.enrollMinutes * 60_000));
    return { uri: this.totp(user, secret.base32).toString() };
  }

  /** Remembers the DM that shows the secret (deleted on confirmation). */
  async noteDm(user: string, dm: { channel: string; ts: string; fileId?: string }): Promise<void> {
    const s = await this.load(user);
    if (s?.state !== 'pending') return;
    const ttl = await this.redis.pttl(this.k('secret', user));
    await this.redis.set(this.k('secret', user), JSON.stringify({ ...s, dm }), 'PX', Math.max(1000, ttl));
  }

  /** Checks a code against the pending (confirm) or active (approve) secret. */
  async check(user: string, code: string, want: 'pending' | 'active'): Promise<CodeCheck & { dm?: Sealed['dm'] }> {
    const lockTtl = await this.redis.pttl(this.k('lock', user));
    if (lockTtl > 0) return { ok: false, why: 'locked', retryAfterMs: lockTtl };
    const sealed = await this.load(user);
    if (!sealed || sealed.state !== want) return { ok: false, why: 'not-enrolled' };
    const token = code.replace(/\s+/g, '');
    let verdict: 'malformed' | 'wrong' | 'used' | 'ok';
    let counter = 0;
    if (!/^\d{6}$/.test(token)) {
      verdict = 'malformed';
    } else {
      const totp = this.totp(user, this.open(user, sealed));
      const delta = totp.validate({ token, window: WINDOW });
      if (delta === null) {
        verdict = 'wrong';
      } else {
        counter = totp.counter() + delta;
        // Remembered for as long as the code could still validate (window on both sides).
        const fresh = await this.redis.set(this.k('used', user, String(counter)), '1', 'PX', (2 * WINDOW + 2) * PERIOD * 1000, 'NX');
        verdict = fresh === 'OK' ? 'ok' : 'used';
      }
    }
    if (verdict === 'ok') {
      await this.redis.del(this.k('fail', user));
      if (want === 'pending') await this.redis.set(this.k('secret', user), JSON.stringify({ ...sealed, state: 'active', dm: undefined }));
      return { ok: true, dm: sealed.dm };
    }
    // A malformed entry is a typo, not a guess: it is not counted.
    if (verdict === 'malformed') return { ok: false, why: verdict, failures: 0, max: this.cfg.maxFailures, lockedNow: false };
    const lockMs = Math.round(this.cfg.lockoutMinutes * 60_000);
    const failures = await this.redis.incr(this.k('fail', user));
    if (failures === 1) await this.redis.pexpire(this.k('fail', user), lockMs);
    const lockedNow = failures >= this.cfg.maxFailures;
    if (lockedNow) {
      await this.redis.set(this.k('lock', user), '1', 'PX', lockMs);
      await this.redis.del(this.k('fail', user));
    }
    return { ok: false, why: verdict, failures, max: this.cfg.maxFailures, lockedNow };
  }

  /** Milliseconds left of a lockout (0 when not locked out). */
  async lockedFor(user: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.k('lock', user)));
  }

  /** Admin reset (CLI): the user enrolls again from chat. */
  async reset(user: string): Promise<void> {
    await this.redis.del(this.k('secret', user), this.k('fail', user), this.k('lock', user));
  }
}
