import { SkillOptimizerError } from '../../errors.js';

/** bubblewrap was required but cannot start on this machine; the message says why and how to fix it. */
export class SandboxUnavailableError extends SkillOptimizerError {}
