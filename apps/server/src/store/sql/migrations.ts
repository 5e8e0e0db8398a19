import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf, type SqlDialect } from './sql-dialect.js';

/** Runs the DDL this database's dialect has for a migration step. */
async function runDdl(queryRunner: QueryRunner, ddl: (dialect: SqlDialect) => readonly string[]): Promise<void> {
  for (const statement of ddl(dialectOf(queryRunner.connection.driver.options.type))) {
    await queryRunner.query(statement);
  }
}

/** Schema version 1: the messages table with its sequence, dedup and expiry indexes. */
export class CreateMessages1764201600000 implements MigrationInterface {
  readonly name = 'CreateMessages1764201600000';
  up = (queryRunner: QueryRunner): Promise<void> => runDdl(queryRunner, (dialect) => dialect.createSchema);
  down = (queryRunner: QueryRunner): Promise<void> => runDdl(queryRunner, (dialect) => dialect.dropSchema);
}

/** Schema version 2: high-water marks, so a stream never reuses the sequence of a purged newest message. */
export class CreateHighWater1764288000000 implements MigrationInterface {
  readonly name = 'CreateHighWater1764288000000';
  up = (queryRunner: QueryRunner): Promise<void> => runDdl(queryRunner, (dialect) => dialect.createHighWater);
  down = (queryRunner: QueryRunner): Promise<void> => runDdl(queryRunner, (dialect) => dialect.dropHighWater);
}

/** Every migration, oldest first; TypeORM runs the pending ones when the store opens. */
export const MIGRATIONS = [CreateMessages1764201600000, CreateHighWater1764288000000];
