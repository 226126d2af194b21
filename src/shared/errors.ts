/**
 * Every failure a user can see carries a stable code (documented in docs/errors.md)
 * and a message that says how to fix it. Internal details go to the log, never to chat.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'The configuration file or environment failed validation.',
  UNKNOWN_COMMAND: 'The subcommand does not exist.',
  BAD_ARGUMENTS: 'The arguments do not match the command’s schema.',
  FORBIDDEN: 'The user lacks the role the command needs.',
  CHANNEL_NOT_ALLOWED: 'Commands are not accepted in this channel.',
  UNKNOWN_ACTOR: 'Bots, deleted users and users of other workspaces cannot run commands.',
  APPROVAL_REQUIRED: 'The command needs a second person’s approval, which the current path cannot give.',
  APPROVAL_NOT_FOUND: 'No approval request has that id.',
  APPROVAL_CLOSED: 'The approval request is no longer open (approved, denied, cancelled, expired or finished).',
  APPROVAL_SELF: 'The requester tried to approve or deny their own request.',
  APPROVAL_DUPLICATE: 'The same approver tried to count twice.',
  APPROVAL_TAMPERED: 'An approval click or job did not match the stored request (id, arguments, channel, message, app or team).',
  APPROVAL_REVOKED: 'An approver or the requester no longer holds the needed role when the job was about to start.',
  APPROVAL_REUSED: 'The approved request was already used once; it is never run a second time.',
  JOB_INTERRUPTED: 'The worker running an approved job died before it finished; it was not run again and may be half done.',
  REPLAYED: 'A signed request, Socket Mode envelope or event was delivered again; it was acknowledged and not run (audit only).',
  RATE_LIMITED: 'The user ran more commands (or more of one command) than the rate limits allow; nothing was queued.',
  STEPUP_REQUIRED: 'The approval needs a one-time code, and the code dialog could not be opened.',
  STEPUP_NOT_ENROLLED: 'The approver has no one-time code enrollment, which the command’s approval needs.',
  STEPUP_BAD_CODE: 'The one-time code was wrong (counted towards a lockout).',
  STEPUP_CODE_USED: 'The one-time code was already used once (counted towards a lockout).',
  STEPUP_LOCKED: 'Too many wrong one-time codes: step-up is locked for the approver for a while.',
  AUDIT_TAMPERED: 'cdb audit verify found an audit entry changed, removed or inserted.',
  DOCKER_UNAVAILABLE: 'The Docker Engine could not be reached.',
  NOT_FOUND: 'The requested service or object does not exist.',
  BACKUP_FAILED: 'A backup (or the safety backup before a restore) could not be made; nothing partial is listed.',
  RESTORE_INTERRUPTED: 'A restore was interrupted by a dead worker; the next worker finished or reverted it.',
  BACKUP_INVALID: 'A backup failed verification (checksum, decryption, manifest or project); nothing was touched.',
  BACKUP_KEY_MISSING: 'An encrypted backup was to be read but the private key (backup.identityFile) is missing or does not match.',
  STACK_BUSY: 'Another tag or rollback holds the stack’s lock, or an interrupted rollback is being recovered.',
  HANDED_OVER: 'The worker lost its hold on a running rollback or secret rotation (or is stopping); another worker finishes or reverts it and reports.',
  PLAN_CHANGED: 'The stack moved on since the request was approved: what would run is no longer what was approved.',
  PLAN_FAILED: 'The worker could not work out what an approval request would change.',
  TAG_EXISTS: 'A rollback tag with that name exists already.',
  HOST_FILES_FAILED: 'A file on the stack host could not be read, written or removed.',
  LOGS_UNAVAILABLE: 'Loki did not answer and Docker has no container to read the logs from instead.',
  ALERTS_NOT_RUNNING: 'The alert watcher is not running in the worker process that took the job.',
  JOB_TIMEOUT: 'The job took longer than its time limit.',
  ROTATION_IN_PROGRESS: 'A rotation of that secret is already running; it finishes or rolls back first.',
  UNKNOWN_SECRET: 'The secret is not managed (not in rotation.secrets); the message lists the known ones.',
  ROTATION_FAILED: 'A secret rotation failed and was rolled back (or could not be, as the message says).',
  TARGET_UNKNOWN: 'The `--on` target is not in the configuration.',
  TARGET_AMBIGUOUS: 'Several targets are configured, there is no default, and the command named none.',
  NO_WORKER: 'No worker for the target has sent a heartbeat recently, so the command was not queued.',
  WG_HOST_UNREACHABLE: 'A WireGuard endpoint’s host could not be reached over SSH (or its host key is not the pinned one).',
  WG_TUNNEL_MISMATCH: 'The WireGuard interfaces do not match the configured tunnel (peers or key files); nothing was changed.',
  WG_ROTATION_BUSY: 'A rotation of this tunnel is running, or an interrupted one is being finished or rolled back.',
  WG_ROTATION_FAILED: 'A WireGuard rotation step failed; the result says whether the old keys were restored.',
  JOB_LOST: 'The job the bot was waiting on disappeared from Redis (e.g. a Redis without persistence restarted) before the worker answered.',
  INTERNAL: 'An unexpected error; details are in the logs under the request id.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class OpsError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;

  constructor(code: ErrorCode, userMessage: string, options?: { cause?: unknown }) {
    super(`${code}: ${userMessage}`, options);
    this.name = 'OpsError';
    this.code = code;
    this.userMessage = userMessage;
  }
}

export function isOpsError(err: unknown): err is OpsError {
  return err instanceof OpsError;
}

/** What a user may see of any error: OpsErrors as written, everything else generic. */
export function toUserError(err: unknown, requestId?: string): { code: ErrorCode; message: string } {
  if (isOpsError(err)) return { code: err.code, message: err.userMessage };
  const ref = requestId ? ` (request ${requestId})` : '';
  return { code: 'INTERNAL', message: `Something went wrong on our side${ref}. An operator can find the details in the logs.` };
}
