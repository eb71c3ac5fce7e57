/**
 * Who may start, steer or approve a run (docs/security.md). Pure: the caller looks up the actor's
 * repository permission (GitHub answers 404 for a non-collaborator, passed here as `null`).
 */

export type Permission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';
export type ActorType = 'User' | 'Bot' | 'Organization';

export interface SteerRequest {
  /** The actor's permission on the repository; `null` when they are not a collaborator. */
  permission: Permission | null;
  actorType: ActorType;
  login: string;
  /** `allowed_bots` from the config; entries may omit the `[bot]` suffix. */
  allowedBots: readonly string[];
  /** The app's own login, e.g. `skill-optimizer[bot]`. */
  selfLogin: string;
}

export interface SteerDecision {
  allowed: boolean;
  /** Why, in words fit for a log line or a polite refusal. */
  reason: string;
}

const STEERING: ReadonlySet<Permission> = new Set(['admin', 'maintain', 'write']);

/** Logins compare case-insensitively; a bot may be named with or without `[bot]`. */
function botName(login: string): string {
  return login.toLowerCase().replace(/\[bot\]$/, '');
}

/**
 * - The app's own events are always ignored (it must never trigger itself).
 * - Bots are ignored unless `allowed_bots` lists them; a listed bot is trusted as the maintainers
 *   who wrote the config chose (GitHub reports no collaborator permission for app bots).
 * - Everyone else needs write, maintain or admin permission.
 */
export function canSteer(request: SteerRequest): SteerDecision {
  const { permission, actorType, login } = request;
  const self = request.selfLogin.toLowerCase();
  if (
    login.toLowerCase() === self ||
    (actorType === 'Bot' && botName(login) === botName(request.selfLogin))
  ) {
    return { allowed: false, reason: `${login} is this app; its own events are ignored` };
  }
  if (actorType === 'Bot') {
    const listed = request.allowedBots.some((bot) => botName(bot) === botName(login));
    return listed
      ? { allowed: true, reason: `bot ${login} is listed in allowed_bots` }
      : { allowed: false, reason: `bot ${login} is not listed in allowed_bots` };
  }
  if (permission === null) {
    return { allowed: false, reason: `${login} is not a collaborator on this repository` };
  }
  if (STEERING.has(permission)) {
    return { allowed: true, reason: `${login} has ${permission} permission` };
  }
  return {
    allowed: false,
    reason: `${login} has ${permission} permission; write, maintain or admin is needed`,
  };
}
