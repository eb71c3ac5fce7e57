/**
 * Every failure a user can act on is a SkillOptimizerError: `message` is what the user sees,
 * `retry` (when set) is the exact command that tries again.
 */
export class SkillOptimizerError extends Error {
  readonly retry: string | undefined;

  constructor(message: string, options: { retry?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retry = options.retry;
  }
}

/** A file the user (or a model) wrote does not match its schema; names the file and field. */
export class InvalidFileError extends SkillOptimizerError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/** The model API failed after every retry (429/529/5xx/timeouts). */
export class ModelUnavailableError extends SkillOptimizerError {}

/** A path resolved outside the directory it was confined to (incl. through symlinks). */
export class PathEscapeError extends SkillOptimizerError {}

/** A run's token or cost budget is spent. */
export class BudgetExceededError extends SkillOptimizerError {}
