import { registerAppSecrets, skillOptimizerApp } from './register.js';

/** The GitHub App entry for `probot run ./lib/app/index.js`; all logic lives in handlers.ts. */
registerAppSecrets(process.env);
export default skillOptimizerApp({ env: process.env, shutdown: process });
