import { messageStoreContract } from '../message-store.contract.js';
import { createScratchDatabase, testServerUrl } from '../testing/scratch-database.js';
import { highWaterSuite } from './high-water.suite.js';
import { SqlMessageStore } from './sql-message-store.js';

const serverUrl = testServerUrl('mysql');
if (serverUrl !== null) {
  const fixture = async () => {
    const database = await createScratchDatabase('mysql', serverUrl);
    return {
      open: () => SqlMessageStore.open({ type: 'mysql', url: database.url }),
      dispose: () => database.drop(),
    };
  };
  messageStoreContract('mysql', fixture);
  highWaterSuite('mysql', fixture);
}
