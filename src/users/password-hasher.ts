import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import * as argon2 from 'argon2';
import { authConfig } from '../config';

@Injectable()
export class PasswordHasher implements OnModuleInit {
  // Verified against when the email is unknown, so a login takes as long whether or not the account exists.
  private dummyHash?: Promise<string>;

  constructor(@Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>) {}

  /** Made at start, so the first sign-in for an unknown email does not take a hash longer than the others. */
  onModuleInit(): void {
    this.dummyHash ??= this.hash('not-a-real-password-only-for-timing');
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, {
      type: argon2.argon2id,
      memoryCost: this.config.argon2MemoryKib,
      timeCost: this.config.argon2TimeCost,
      parallelism: 1,
    });
  }

  async verify(hash: string | undefined, password: string): Promise<boolean> {
    if (hash === undefined) {
      this.dummyHash ??= this.hash('not-a-real-password-only-for-timing');
      await argon2.verify(await this.dummyHash, password);
      return false;
    }
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }
}
