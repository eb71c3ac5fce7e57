import { SkillOptimizerError } from '../errors.js';

/** The folder the run should live in is not inside a git repository. */
export class NotAGitRepoError extends SkillOptimizerError {}

/** The repository has no commit to start the work branch from. */
export class EmptyRepositoryError extends SkillOptimizerError {}

/** Another process holds the run's lock. */
export class RunLockedError extends SkillOptimizerError {}

/** The work branch cannot be checked out where the tool keeps it (e.g. it is checked out elsewhere). */
export class WorktreeConflictError extends SkillOptimizerError {}

/** The run dir has uncommitted changes, so a step commit could not be told apart from them. */
export class DirtyRunDirError extends SkillOptimizerError {}

/** A commit was asked for but the changes leave the run dir exactly as it is. */
export class NothingToCommitError extends SkillOptimizerError {}

/** A step commit did not land whole; the branch and the work tree were put back where they were. */
export class CommitFailedError extends SkillOptimizerError {}

/** A slug, branch or run-root option cannot name a run. */
export class InvalidRunNameError extends SkillOptimizerError {}

/**
 * The work branch moved on its remote (someone else pushed) after this process read it, so the
 * push of this process's commit was refused. Its work is discarded: nothing of it, not even a
 * failure report, may be written over the newer branch.
 */
export class StaleBranchError extends SkillOptimizerError {}
