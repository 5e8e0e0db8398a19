import { describe, it } from 'vitest';
import { createScratchDatabase, testServerUrl } from '../apps/server/src/store/testing/scratch-database.js';
import {
  expectOwnerChangeContinuesStream,
  expectStoredPollWokenThroughNonOwners,
  useStoredCluster,
} from './support/stored-cluster.js';

const serverUrl = testServerUrl('postgres');

describe.runIf(serverUrl !== null)('stored streams in a cluster sharing PostgreSQL', () => {
  const cluster = useStoredCluster('postgres', () => createScratchDatabase('postgres', serverUrl!));

  it('a stored long poll through one non-owner is woken by a stored send through the other', () =>
    expectStoredPollWokenThroughNonOwners(cluster(), 'postgres'));

  // Last: it kills one of the three nodes.
  it('a new owner continues the stream where the killed one stopped: old tokens resume without a gap, retries stay duplicates', () =>
    expectOwnerChangeContinuesStream(cluster(), 'postgres'));
});
