import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface StoredRate {
  rate: bigint;
  asOf: Date;
  source: string;
}

@Injectable()
export class RatesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Every value is kept: the table is the reference's history. */
  async insert(rate: StoredRate): Promise<void> {
    await this.dataSource.query(`INSERT INTO reference_rates (rate, as_of, source) VALUES ($1, $2, $3)`, [
      rate.rate.toString(),
      rate.asOf,
      rate.source,
    ]);
  }

  async latest(): Promise<StoredRate | null> {
    const rows: { rate: string; as_of: Date; source: string }[] = await this.dataSource.query(
      `SELECT rate, as_of, source FROM reference_rates ORDER BY as_of DESC, id DESC LIMIT 1`,
    );
    return rows.length === 0 ? null : { rate: BigInt(rows[0].rate), asOf: rows[0].as_of, source: rows[0].source };
  }
}
