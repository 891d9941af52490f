import { Module } from '@nestjs/common';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';

/** The books. Imports nothing of the features: they call it inside their own transactions. */
@Module({ providers: [LedgerRepository, LedgerService], exports: [LedgerRepository, LedgerService] })
export class LedgerModule {}
