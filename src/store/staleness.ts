/** What staleness needs from a store; every RunStore has these. */
export interface CommitHistory {
  exists(path: string): Promise<boolean>;
  lastCommitTouching(paths: string[]): Promise<string | null>;
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
}

/**
 * A step is stale when one of its outputs is missing, or when the newest commit touching its
 * inputs is not already part of the history that led to the newest commit touching its outputs.
 * Only commit order counts (several steps can commit within one second), never timestamps.
 * Inputs that were never committed make nothing stale.
 */
export async function isStaleByOrder(
  history: CommitHistory,
  outputs: readonly string[],
  inputs: readonly string[],
): Promise<boolean> {
  if (outputs.length === 0) return true;
  for (const output of outputs) {
    if (!(await history.exists(output))) return true;
  }
  if (inputs.length === 0) return false;
  const lastInput = await history.lastCommitTouching([...inputs]);
  if (lastInput === null) return false;
  const lastOutput = await history.lastCommitTouching([...outputs]);
  if (lastOutput === null) return true;
  return !(await history.isAncestor(lastInput, lastOutput));
}
