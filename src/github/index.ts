export { checkBranchName } from './branch-name.js';
export * from './calls.js';
export {
  createGitHubClient,
  DEFAULT_RETRY_COMMAND,
  fromOctokit,
  GitHubClient,
  type GitHubClientOptions,
  type GitHubLog,
} from './client.js';
export {
  BranchExistsError,
  GitHubAuthError,
  GitHubNotFoundError,
  GitHubPermissionError,
  GitHubRequestError,
  GitHubUnavailableError,
  InvalidBranchNameError,
  RefConflictError,
} from './errors.js';
export { readBlob, type TreeEntry, TreeReader } from './git-trees.js';
export { GitHubRunStore, type GitHubRunStoreOptions } from './run-store.js';
