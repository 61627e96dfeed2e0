// The older PostgreSQL of the test matrix (see vitest.config.ts): the same set-up, major 16.
import type { TestProject } from 'vitest/node';
import { setupFor } from './globalSetup.js';

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return setupFor(project, 16);
}
