import { messageStoreContract } from '../message-store.contract.js';
import { createScratchDatabase, testServerUrl } from '../testing/scratch-database.js';
import { highWaterSuite } from './high-water.suite.js';
import { SqlMessageStore } from './sql-message-store.js';

const serverUrl = testServerUrl('postgres');
if (serverUrl !== null) {
  const fixture = async () => {
    const database = await createScratchDatabase('postgres', serverUrl);
    return {
      open: () => SqlMessageStore.open({ type: 'postgres', url: database.url }),
      dispose: () => database.drop(),
    };
  };
  messageStoreContract('postgres', fixture);
  highWaterSuite('postgres', fixture);
}
