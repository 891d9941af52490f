import { Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { AUTHENTICATOR } from '../common/auth/authenticator';
import { authConfig, jwtSigningKey } from '../config';
import { AccountEventsRepository } from './account-events.repository';
import { CredentialCheck } from './credential-check';
import { AdminUsersService } from './admin-users.service';
import { ApiKeyEntity } from './api-key.entity';
import { AuthController } from './auth.controller';
import { ConsoleSessionsRepository } from './console-sessions.repository';
import { CredentialsAuthenticator } from './credentials-authenticator';
import { MeController } from './me.controller';
import { OperatorStandingRepository } from './operator-standing.repository';
import { PasswordHasher } from './password-hasher';
import { PaymentHandlesService } from './payment-handles.service';
import { PrincipalCache } from './principal-cache';
import { ReputationCountersRepository } from './reputation-counters.repository';
import { SelfTradeWatch } from './self-trade-watch';
import { SignInThrottle } from './sign-in-throttle';
import { UserEntity } from './user.entity';
import { UserReputationEntity } from './user-reputation.entity';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([UserEntity, UserReputationEntity, ApiKeyEntity]),
    JwtModule.registerAsync({
      inject: [authConfig.KEY],
      useFactory: (config: ConfigType<typeof authConfig>) => ({
        secret: jwtSigningKey(config.jwtSecret) as unknown as string,
        signOptions: { algorithm: 'HS256', expiresIn: config.jwtExpiresInSeconds },
      }),
    }),
    AuditModule,
  ],
  controllers: [AuthController, MeController, UsersController],
  providers: [
    UsersRepository,
    ConsoleSessionsRepository,
    UsersService,
    PaymentHandlesService,
    AccountEventsRepository,
    SelfTradeWatch,
    AdminUsersService,
    OperatorStandingRepository,
    ReputationCountersRepository,
    PasswordHasher,
    SignInThrottle,
    PrincipalCache,
    CredentialsAuthenticator,
    { provide: AUTHENTICATOR, useExisting: CredentialsAuthenticator },
    CredentialCheck,
  ],
  exports: [
    AUTHENTICATOR,
    UsersRepository,
    ConsoleSessionsRepository,
    UsersService,
    AdminUsersService,
    PasswordHasher,
    PrincipalCache,
    SelfTradeWatch,
    AccountEventsRepository,
    SignInThrottle,
    OperatorStandingRepository,
    ReputationCountersRepository,
    CredentialCheck,
  ],
})
export class UsersModule {}
