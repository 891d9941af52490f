import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user';
import { ActiveAccountRequired, CurrentUser, Roles } from '../common/auth/decorators';
import { PageQuery } from '../common/http/pagination';
import { UuidParam } from '../common/http/uuid-param';
import { RateTradeDto, RatingView, ReceivedRatingsPage } from './dto/ratings.dto';
import { RatingsService } from './ratings.service';

/** A suspended party may only finish live trades (API.md): rating an ended one is not among them. */
@ApiTags('ratings')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1')
export class RatingsController {
  constructor(private readonly ratings: RatingsService) {}

  @Post('trades/:id/rating')
  @Roles('traveler', 'counterparty')
  @ActiveAccountRequired()
  @ApiCreatedResponse({ type: RatingView, description: 'the rating of the other party; 409 already_rated the second time' })
  rate(@CurrentUser() caller: AuthUser, @UuidParam() id: string, @Body() body: RateTradeDto): Promise<RatingView> {
    return this.ratings.rate(caller, id, body);
  }

  @Get('users/:id/ratings')
  @ApiOkResponse({ type: ReceivedRatingsPage, description: 'the ratings the user received, newest first' })
  received(@UuidParam() id: string, @Query() query: PageQuery): Promise<ReceivedRatingsPage> {
    return this.ratings.received(id, query);
  }
}
