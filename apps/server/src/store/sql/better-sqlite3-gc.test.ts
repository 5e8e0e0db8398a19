import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * better-sqlite3 12 built against Node.js ≥ 24.19 headers aborts the process whenever the garbage collector frees
 * one of its statements (`Assertion failed: (env) != nullptr`, nodejs/node#65446); patches/better-sqlite3@*.patch
 * builds it with the ObjectWrap of Node.js 20/22. The churn runs in a child process because the failure is an
 * abort, which would take the test runner down with it.
 */
const CHURN = `
const Database = require(process.argv[1]);
const db = new Database(':memory:');
let kept = [];
for (let round = 0; round < 10; round++) {
  // Statements that live long enough to be promoted, then die in a full collection forced by other garbage.
  for (let i = 0; i < 2000; i++) kept.push(db.prepare('SELECT ' + i));
  const garbage = [];
  for (let i = 0; i < 200000; i++) garbage.push({ i, text: 'x' + i });
  kept = [];
}
db.close();
`;

describe('better-sqlite3 on this Node.js', () => {
  it('survives the garbage collector freeing thousands of prepared statements', () => {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const child = spawnSync(process.execPath, ['-e', CHURN, driver], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
  });
});
