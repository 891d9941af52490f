import { Body, Controller, Get, Param, ParseEnumPipe, Put } from '@nestjs/common';
import { ApiOkResponse, ApiParam, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { Public } from '../common/auth/decorators';
import { FAULT_PROVIDERS } from './faults';
import type { FaultProvider, FaultSettings } from './faults';
import { FaultsService } from './faults.service';

export class FaultSettingsDto {
  @ApiProperty({ enum: FAULT_PROVIDERS })
  @IsDefined()
  @IsIn(FAULT_PROVIDERS)
  provider: FaultProvider;

  @ApiPropertyOptional({ description: 'added to every call, at most 30000' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(30000)
  latencyMs?: number;

  @ApiPropertyOptional({ description: 'share of calls that fail with a 5xx before doing anything, 0..1' })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  errorRate?: number;

  @ApiPropertyOptional({ description: 'every call fails with 503' })
  @IsOptional()
  @IsBoolean()
  down?: boolean;

  @ApiPropertyOptional({ description: 'share of calls that do the work, then fail with a 5xx, 0..1' })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  failAfterSuccess?: number;

  @ApiPropertyOptional({ description: 'share of webhooks delivered twice, 0..1' })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  duplicateWebhooks?: number;

  @ApiPropertyOptional({ description: 'share of webhooks never delivered, 0..1' })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  dropWebhooks?: number;

  @ApiPropertyOptional({ description: 'deliver webhooks out of order' })
  @IsOptional()
  @IsBoolean()
  reorderWebhooks?: boolean;

  @ApiPropertyOptional({
    description: 'only calls to paths starting with one of these (relative to the mock, e.g. /v1/payments/payouts) misbehave',
    type: [String],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  @Matches(/^\//, { each: true, message: 'each path starts with /' })
  paths?: string[];

  @ApiPropertyOptional({ description: 'makes the random faults repeat: the same seed fails the same calls' })
  @IsOptional()
  @IsInt()
  @Min(0)
  seed?: number;
}

/** Fault injection for the provider mocks (sandbox mode only). Setting a provider's faults replaces them; `{provider}` alone clears them. */
@ApiTags('sandbox')
@Public()
@Controller('sandbox/faults')
export class FaultsController {
  constructor(private readonly faults: FaultsService) {}

  @Put()
  @ApiOkResponse({ type: FaultSettingsDto })
  async set(@Body() body: FaultSettingsDto): Promise<FaultSettings & { provider: FaultProvider }> {
    const { provider, ...settings } = body;
    return { provider, ...(await this.faults.set(provider, settings)) };
  }

  @Get(':provider')
  // Named here: what the compiler records of the parameter's type differs between the build and the tests.
  @ApiParam({ name: 'provider', enum: FAULT_PROVIDERS })
  @ApiOkResponse({ type: FaultSettingsDto })
  async get(
    @Param('provider', new ParseEnumPipe(FAULT_PROVIDERS)) provider: FaultProvider,
  ): Promise<FaultSettings & { provider: FaultProvider }> {
    return { provider, ...(await this.faults.get(provider)) };
  }
}
