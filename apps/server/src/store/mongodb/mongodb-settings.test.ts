import { describe, expect, it } from 'vitest';
import { clientOptions, databaseName, redactMongoUrl } from './mongodb-settings.js';

describe('mongodb store.url', () => {
  it('names the database in its path, ipubsub when it has none', () => {
    expect(databaseName('mongodb://127.0.0.1:27017/events')).toBe('events');
    expect(databaseName('mongodb://a:1,b:2/events?replicaSet=rs0')).toBe('events');
    expect(databaseName('mongodb+srv://user:pw@cluster.example.com/events')).toBe('events');
    expect(databaseName('mongodb://127.0.0.1:27017')).toBe('ipubsub');
    expect(databaseName('mongodb://127.0.0.1:27017/?tls=true')).toBe('ipubsub');
  });

  it('adds the store timeouts only where the URL sets none', () => {
    expect(clientOptions('mongodb://h/db')).toEqual({
      serverSelectionTimeoutMS: 5_000,
      connectTimeoutMS: 5_000,
      socketTimeoutMS: 10_000,
      waitQueueTimeoutMS: 5_000,
    });
    const url = 'mongodb://h/db?serverselectiontimeoutms=100&socketTimeoutMS=0&waitQueueTimeoutMS=1';
    expect(clientOptions(url)).toEqual({ connectTimeoutMS: 5_000 });
  });

  it('hides the password in messages', () => {
    expect(redactMongoUrl('mongodb://user:secret@h:27017/db')).toBe('mongodb://user:***@h:27017/db');
    expect(redactMongoUrl('mongodb+srv://user:secret@h/db')).toBe('mongodb+srv://user:***@h/db');
    expect(redactMongoUrl('mongodb://h/db')).toBe('mongodb://h/db');
  });
});
