import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { messageStoreContract } from '../message-store.contract.js';
import { highWaterSuite } from './high-water.suite.js';
import { SqlMessageStore } from './sql-message-store.js';

const fixture = async () => {
  const directory = mkdtempSync(join(tmpdir(), 'ipubsub-sqlite-'));
  return {
    open: () => SqlMessageStore.open({ type: 'sqlite', directory }),
    dispose: async () => rmSync(directory, { recursive: true, force: true }),
  };
};
messageStoreContract('sqlite', fixture);
highWaterSuite('sqlite', fixture);
