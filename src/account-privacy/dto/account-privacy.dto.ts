import { ApiProperty } from '@nestjs/swagger';
import { IsDefined, IsString, MaxLength, MinLength } from 'class-validator';
import { MessageView } from '../../chat/dto/chat.dto';
import { DisputeView } from '../../disputes/dto/disputes.dto';
import { OfferView, RequestView } from '../../market/dto/market.dto';
import { WebhookEndpointView } from '../../notifications/webhooks/dto/webhooks.dto';
import { TradeEventView, TradeView } from '../../trades/dto/trades.dto';
import { ApiKeyView, UserView } from '../../users/dto/users.dto';

export class DeleteAccountDto {
  @ApiProperty({ description: 'the account’s password, asked again' })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  password: string;
}

export class DeletedUserView extends UserView {
  @ApiProperty({ description: 'when the account was pseudonymized' }) deletedAt: string;
}

export class OwnPaymentDetailsView {
  @ApiProperty({ nullable: true, type: String, description: 'the caller’s own WeChat id, in clear' }) wechatId: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'the caller’s own PayPal payout email, in clear' }) paypalEmail: string | null;
}

export class ReputationCountersView {
  @ApiProperty() completedTrades: number;
  @ApiProperty() failedTrades: number;
  @ApiProperty() disputesWon: number;
  @ApiProperty() disputesLost: number;
  @ApiProperty() ratingCount: number;
  @ApiProperty({ type: [Number], description: 'the latest release times the median is taken over' }) recentReleaseMinutes: number[];
}

export class ExportedAccountView extends UserView {
  @ApiProperty({ type: OwnPaymentDetailsView }) paymentDetails: OwnPaymentDetailsView;
  @ApiProperty({ type: ReputationCountersView, description: 'the counters the reputation is computed from' })
  reputationCounters: ReputationCountersView;
}

export class ExportedTradeView extends TradeView {
  @ApiProperty({ type: [TradeEventView], description: 'the whole timeline, oldest first' }) timeline: TradeEventView[];
}

export class ExportedWebhookEndpointView extends WebhookEndpointView {
  @ApiProperty({ type: String, nullable: true, description: 'when it was deleted' }) deletedAt: string | null;
}

/** Everything the service keeps about the caller. Other users appear by id (and display name) only. */
export class AccountExportView {
  @ApiProperty() exportedAt: string;
  @ApiProperty({ type: ExportedAccountView }) account: ExportedAccountView;
  @ApiProperty({ type: [ApiKeyView], description: 'prefix only, never the key' }) apiKeys: ApiKeyView[];
  @ApiProperty({ description: 'operators’ console sessions not yet ended: {createdAt, expiresAt}' }) consoleSessions: {
    createdAt: string;
    expiresAt: string;
  }[];
  @ApiProperty({ description: 'USD traded per UTC day, as the daily limit counts it: {day, volumeUsd}' }) dailyVolume: {
    day: string;
    volumeUsd: string;
  }[];
  @ApiProperty({
    description:
      'the caller’s own payment handle changes, oldest first: {kind: handle_changed, field, targetType: null, targetId: null, ip, at}',
  })
  securityEvents: {
    kind: string;
    field: string | null;
    targetType: string | null;
    targetId: string | null;
    ip: string | null;
    at: string;
  }[];
  @ApiProperty({ type: [ExportedWebhookEndpointView], description: 'the caller’s webhook endpoints, deleted ones too, never a secret' })
  webhookEndpoints: ExportedWebhookEndpointView[];
  @ApiProperty({ type: [RequestView], description: 'any status' }) requests: RequestView[];
  @ApiProperty({ type: [OfferView], description: 'any status' }) offers: OfferView[];
  @ApiProperty({ type: [ExportedTradeView], description: 'as GET /v1/trades shows them, each with its whole timeline' })
  trades: ExportedTradeView[];
  @ApiProperty({ type: [DisputeView], description: 'of the caller’s trades, with their statements' }) disputes: DisputeView[];
  @ApiProperty({ type: [MessageView], description: 'the messages the caller sent, oldest first (not the other party’s)' })
  messages: MessageView[];
  @ApiProperty({
    description:
      '{given, received}: ratings the caller gave ({tradeId, score, comment, createdAt}) and received ({tradeId, score, comment, raterRole, createdAt})',
  })
  ratings: { given: unknown[]; received: unknown[] };
}
