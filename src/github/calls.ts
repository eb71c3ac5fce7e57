/** Every GitHub call the bot makes, one named function each (see the files for the details). */
export { getAppBotLogin } from './apps.js';
export { type CheckRunOutput, createCheckRun, updateCheckRun } from './checks.js';
export { upsertMarkedComment } from './comments.js';
export { type CommitFilesArgs, commitFiles, createBranch, getBranchSha } from './git-data.js';
export {
  createPullRequest,
  findPullRequestByHead,
  getPullRequest,
  listOpenPullRequestsInto,
  listPullRequestFiles,
  type OpenPullSummary,
  type PullRequestInfo,
  requestReviewers,
  updatePullRequestBody,
} from './pulls.js';
export {
  createFork,
  dispatchWorkflow,
  getPermission,
  type RepoPermission,
  type RepoRef,
  readFileAt,
} from './repos.js';
export { listReviewComments, postGateReview, type ReviewComment } from './reviews.js';
