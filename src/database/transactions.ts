import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/**
 * How services open transactions, so that they depend on this port rather than on TypeORM's DataSource
 * (repositories keep theirs). Every transaction goes through `DataSource.transaction`, so the subscribers
 * registered on the data source (the idempotency fence) see each commit.
 */
@Injectable()
export class Transactions {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Runs `work` in one transaction at the database's default isolation: committed when it resolves, rolled back when it throws. */
  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** The same at REPEATABLE READ: every read of `work` sees one snapshot. */
  runRepeatableRead<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction('REPEATABLE READ', work);
  }

  /** For statements outside any transaction, each committed on its own. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }
}
