import { readFile } from 'node:fs/promises';
import { Decrypter, Encrypter, identityToRecipient } from 'age-encryption';
import type { BackupConfig } from '../../shared/config/backup-schema.ts';
import { OpsError } from '../../shared/errors.ts';

const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]{50,}$/;

export function encrypterFor(recipient: string): Encrypter {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return e;
}

/**
 * The private key, read from `backup.identityFile` only when a restore or drill needs it, and
 * checked against the backup's recipient, all before anything stops. The key never leaves this
 * process: not in job data, logs, messages or the manifest.
 */
export async function decrypterFor(cfg: BackupConfig, recipients: readonly string[]): Promise<Decrypter> {
  if (!cfg.identityFile) {
    throw new OpsError('BACKUP_KEY_MISSING', 'This backup is encrypted, and `backup.identityFile` is not set: the worker has no private key to read it. Nothing was touched.');
  }
  let text: string;
  try {
    text = await readFile(cfg.identityFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new OpsError('BACKUP_KEY_MISSING', `The private key file \`${cfg.identityFile}\` cannot be read (${code}). Nothing was touched.`);
  }
  const identities = text.split('\n').map((l) => l.trim()).filter((l) => IDENTITY.test(l));
  if (!identities.length) throw new OpsError('BACKUP_KEY_MISSING', `\`${cfg.identityFile}\` holds no age identity (a line AGE-SECRET-KEY-1…). Nothing was touched.`);
  const d = new Decrypter();
  const mine = new Set<string>();
  for (const id of identities) {
    d.addIdentity(id);
    mine.add(await identityToRecipient(id));
  }
  const missing = recipients.find((r) => !mine.has(r));
  if (missing) throw new OpsError('BACKUP_KEY_MISSING', `The private key in \`${cfg.identityFile}\` does not belong to the recipient ${missing.slice(0, 12)}… (of this backup, or of \`backup.recipient\` for the safety backup). Nothing was touched.`);
  return d;
}
