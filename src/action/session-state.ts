import type { Config } from '../config/schema.js';
import type { RunPlace } from './open-run.js';
import type { ActionDeps } from './ports.js';
import type { TrackerSync } from './tracker-sync.js';

/**
 * What one Action job carries between its parts: the ports, the loaded config, where the run
 * lives and the tracker comments it keeps in sync. Apart from the session logic so that the
 * modules the session calls (publishing, preflight) can name it without importing the session.
 */
export interface Session {
  deps: ActionDeps;
  config: Config;
  place: RunPlace;
  trackers: Map<string, TrackerSync>;
}
