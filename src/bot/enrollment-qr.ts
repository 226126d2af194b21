import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import QRCode from 'qrcode';

/** The QR code's options: fixed, so the same otpauth URI always gives the same PNG (tests compare bytes). */
const QR_OPTIONS = { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 320 } as const;

/** The enrollment link as a PNG QR code, for authenticator apps that scan rather than open links. */
export function enrollmentQr(uri: string): Promise<Buffer> {
  return QRCode.toBuffer(uri, QR_OPTIONS);
}

/**
 * Uploads the QR code into the enrollment DM (files.uploadV2: files.getUploadURLExternal, the upload,
 * files.completeUploadExternal; scope files:write). Block Kit images need a public URL, which a secret
 * must never have, so the image is a file shared in the DM only. Returns the file id (deleted with
 * the DM once the enrollment is confirmed), or undefined if Slack refused: the link in the message
 * still works. Nothing about the file's content is logged.
 */
export async function uploadEnrollmentQr(client: WebClient, channel: string, uri: string, log: Pick<Logger, 'warn'>): Promise<string | undefined> {
  try {
    const png = await enrollmentQr(uri);
    // The SDK types the helper's result loosely; its shape is one completeUploadExternal answer per file.
    const res = (await client.files.uploadV2({ channel_id: channel, file: png, filename: 'cdb-enrollment-qr.png', title: 'Scan with your authenticator app (shown once)' })) as { files?: { files?: { id?: string }[] }[] };
    return res.files?.flatMap((f) => f.files ?? []).find((f) => f.id)?.id;
  } catch (err) {
    log.warn({ error: err instanceof Error ? err.message.slice(0, 200) : 'unknown' }, 'enrollment QR code not uploaded; the link in the DM still works');
    return undefined;
  }
}
