// vitest setup file: integration and workflow tests see the stack's environment
// (KUBECONFIG, DOCKER_HOST, …) even when run directly with `npx vitest`.
import { loadStackEnv } from './stack.js';

loadStackEnv();
