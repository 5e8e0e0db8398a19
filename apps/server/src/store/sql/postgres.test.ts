import { messageStoreContract } from '../message-store.contract.js';
import { createScratchDatabase, testServerUrl } from '../testing/scratch-database.js';
import { SqlMessageStore } from './sql-message-store.js';

const serverUrl = testServerUrl('postgres');
if (serverUrl !== null) {
  messageStoreContract('postgres', async () => {
    const database = await createScratchDatabase('postgres', serverUrl);
    return {
      open: () => SqlMessageStore.open({ type: 'postgres', url: database.url }),
      dispose: () => database.drop(),
    };
  });
}
