import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { appConfig, wechatConfig } from '../../../config';

/**
 * The merchant API private key our WeChat Pay requests are signed with, read from `WECHATPAY_MERCHANT_KEY_FILE`.
 * In sandbox mode a development key is made there on first use (the mock reads the same file to check our
 * signatures, as WeChat holds the merchant certificate); in production the file must exist.
 */
@Injectable()
export class WechatMerchantKey implements OnModuleInit {
  private key?: KeyObject;
  private public?: KeyObject;

  constructor(
    @Inject(wechatConfig.KEY) private readonly config: ConfigType<typeof wechatConfig>,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  /** Sandbox mode makes the development key on first start, so it is there for clients to use at once. */
  onModuleInit(): void {
    if (this.app.sandbox) this.privateKey();
  }

  privateKey(): KeyObject {
    this.key ??= createPrivateKey(this.readOrMake());
    return this.key;
  }

  /** Derived once: the sandbox's WeChat mock checks every request's signature with it. */
  publicKey(): KeyObject {
    this.public ??= createPublicKey(this.privateKey());
    return this.public;
  }

  private readOrMake(): string {
    const path = this.config.merchantKeyFile;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !this.app.sandbox) {
        throw new Error(`The WeChat Pay merchant key cannot be read from WECHATPAY_MERCHANT_KEY_FILE (${path})`, { cause: error });
      }
    }
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    mkdirSync(dirname(path), { recursive: true });
    // Written aside, then linked into place: a process starting at the same moment reads a whole file, never half of one.
    const aside = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(aside, pem, { mode: 0o600 });
    try {
      linkSync(aside, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(aside);
    }
    return readFileSync(path, 'utf8');
  }
}
