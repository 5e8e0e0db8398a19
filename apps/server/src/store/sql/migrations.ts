import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from './sql-dialect.js';

/** Schema version 1: the messages table with its sequence, dedup and expiry indexes. */
export class CreateMessages1764201600000 implements MigrationInterface {
  readonly name = 'CreateMessages1764201600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of dialectOf(queryRunner.connection.driver.options.type).createSchema) {
      await queryRunner.query(statement);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of dialectOf(queryRunner.connection.driver.options.type).dropSchema) {
      await queryRunner.query(statement);
    }
  }
}

/** Every migration, oldest first; TypeORM runs the pending ones when the store opens. */
export const MIGRATIONS = [CreateMessages1764201600000];
