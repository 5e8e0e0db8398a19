import { messageStoreContract } from '../message-store.contract.js';
import { createScratchDatabase, testServerUrl } from '../testing/scratch-database.js';
import { SqlMessageStore } from './sql-message-store.js';

const serverUrl = testServerUrl('mysql');
if (serverUrl !== null) {
  messageStoreContract('mysql', async () => {
    const database = await createScratchDatabase('mysql', serverUrl);
    return {
      open: () => SqlMessageStore.open({ type: 'mysql', url: database.url }),
      dispose: () => database.drop(),
    };
  });
}
