import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsDefined, IsEmail, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { API_KEY_SCOPES, type ApiKeyScope } from '../../common/auth/auth-user';

/** The longest an API key may live when it expires at all. */
export const MAX_API_KEY_DAYS = 3650;

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class RegisterDto {
  @ApiProperty({ example: 'alice@example.com', maxLength: 254 })
  @IsDefined()
  @IsString()
  @MaxLength(254)
  @IsEmail()
  email: string;

  @ApiProperty({ minLength: 10, maxLength: 128, example: 'a long password' })
  @IsDefined()
  @IsString()
  @MinLength(10)
  @MaxLength(128)
  password: string;

  @ApiProperty({ example: 'Alice', minLength: 1, maxLength: 60 })
  @IsDefined()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(60)
  displayName: string;

  @ApiProperty({ enum: ['traveler', 'counterparty'] })
  @IsDefined()
  @IsIn(['traveler', 'counterparty'], { message: 'role must be traveler or counterparty' })
  role: 'traveler' | 'counterparty';
}

export class LoginDto {
  @ApiProperty({ example: 'alice@example.com' })
  @IsDefined()
  @IsString()
  @MaxLength(254)
  email: string;

  @ApiProperty({ example: 'a long password' })
  @IsDefined()
  @IsString()
  @MaxLength(128)
  password: string;
}

export class AccessTokenDto {
  @ApiProperty()
  accessToken: string;

  @ApiProperty({ description: 'Seconds until the token expires' })
  expiresIn: number;

  @ApiProperty({ example: 'Bearer' })
  tokenType: 'Bearer';
}

export class WechatWalletDto {
  @ApiProperty({ example: 'wx_alice99', description: '6–20 characters: a letter, then letters, digits, _ or -' })
  @IsDefined()
  @IsString()
  @Matches(/^[A-Za-z][A-Za-z0-9_-]{5,19}$/, { message: 'wechatId must be 6–20 characters: a letter, then letters, digits, _ or -' })
  wechatId: string;
}

export class PayoutAccountDto {
  @ApiProperty({ enum: ['paypal'] })
  @IsDefined()
  @IsIn(['paypal'])
  method: 'paypal';

  @ApiProperty({ example: 'bob@example.com' })
  @IsDefined()
  @IsString()
  @MaxLength(254)
  @IsEmail()
  paypalEmail: string;
}

export class CreateApiKeyDto {
  @ApiPropertyOptional({ maxLength: 60, example: 'trading bot' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(60)
  name?: string;

  @ApiPropertyOptional({
    enum: API_KEY_SCOPES,
    description: '`read`: GET only; `trade`: everything but account management (keys, payment handles, accounts). Left out: full access',
  })
  @IsOptional()
  @IsIn(API_KEY_SCOPES, { message: `scope must be one of ${API_KEY_SCOPES.join(', ')}` })
  scope?: ApiKeyScope;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_API_KEY_DAYS, description: 'The key expires this many days after its creation' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_API_KEY_DAYS)
  expiresInDays?: number;

  @ApiPropertyOptional({ example: '2027-01-01T00:00:00Z', description: 'When the key expires (in the future); not with expiresInDays' })
  @IsOptional()
  @IsString()
  @IsISO8601({ strict: true }, { message: 'expiresAt must be an ISO-8601 time' })
  expiresAt?: string;
}

export class SetTierDto {
  @ApiProperty({ minimum: 0, maximum: 2 })
  @IsDefined()
  @IsInt()
  @Min(0)
  @Max(2)
  tier: number;
}

export class ReputationView {
  @ApiProperty() completedTrades: number;
  @ApiProperty({ nullable: true, type: Number, description: '0..1, 4 decimals' }) completionRate: number | null;
  @ApiProperty({ nullable: true, type: Number }) medianReleaseMinutes: number | null;
  @ApiProperty({ nullable: true, type: Number, description: '1..5, 2 decimals' }) ratingAverage: number | null;
  @ApiProperty() ratingCount: number;
  @ApiProperty() disputesLost: number;
}

export class UserView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiProperty() displayName: string;
  @ApiProperty({ enum: ['traveler', 'counterparty', 'operator'] }) role: string;
  @ApiProperty({ minimum: 0, maximum: 2 }) tier: number;
  @ApiProperty() suspended: boolean;
  @ApiProperty({ description: 'Whether a WeChat wallet is on file (the id itself is never shown back)' }) wechatWalletSet: boolean;
  @ApiProperty({ nullable: true, description: 'Where USD arrives: only the method is shown back' }) payoutAccount: {
    method: 'paypal';
  } | null;
  @ApiProperty({ type: ReputationView }) reputation: ReputationView;
  @ApiProperty() createdAt: string;
}

export class PublicProfileView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() displayName: string;
  @ApiProperty({ enum: ['traveler', 'counterparty', 'operator'] }) role: string;
  @ApiProperty({ type: ReputationView }) reputation: ReputationView;
}

export class ApiKeyView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'The first characters of the key' }) prefix: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, enum: API_KEY_SCOPES, description: 'null: full access' }) scope: ApiKeyScope | null;
  @ApiProperty({ nullable: true, type: String, description: 'null: never' }) expiresAt: string | null;
  @ApiProperty({ nullable: true, type: String }) lastUsedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt: string | null;
}

export class CreatedApiKeyView extends ApiKeyView {
  @ApiProperty({ description: 'The key itself, shown this once only' }) key: string;
}
