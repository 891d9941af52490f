import { Injectable } from '@nestjs/common';
import { Cursors } from '../common/http/cursors';
import { Page, readPage } from '../common/http/pagination';
import { isTimeCursor } from '../common/http/time-cursor';
import { AuditEntryEntity } from './audit-entry.entity';
import { AuditRepository } from './audit.repository';
import { AuditEntryView, AuditQuery } from './dto/audit.dto';

function present(entry: AuditEntryEntity): AuditEntryView {
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    operatorId: entry.operatorId,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    tradeId: entry.tradeId,
    detail: entry.detail,
  };
}

@Injectable()
export class AuditService {
  constructor(
    private readonly audit: AuditRepository,
    private readonly cursors: Cursors,
  ) {}

  async list(query: AuditQuery): Promise<Page<AuditEntryView>> {
    return readPage(
      query,
      this.cursors.of('audit', isTimeCursor),
      (limit, after) =>
        this.audit.list({ operatorId: query.operatorId, tradeId: query.tradeId }, limit, after && { at: after.t, id: after.id }),
      present,
      (row) => ({ t: row.at.toISOString(), id: row.id }),
    );
  }
}
