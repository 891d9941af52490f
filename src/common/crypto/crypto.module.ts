import { Global, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { cryptoConfig } from '../../config';
import { FieldEncryption, parseKeyring } from './field-encryption';

@Global()
@Module({
  providers: [
    {
      provide: FieldEncryption,
      inject: [cryptoConfig.KEY],
      useFactory: (config: ConfigType<typeof cryptoConfig>) =>
        new FieldEncryption({
          encryptionKeys: parseKeyring(config.fieldEncryptionKeys),
          activeKeyId: config.fieldEncryptionActiveKeyId,
          blindIndexKey: config.blindIndexKey ? Buffer.from(config.blindIndexKey, 'base64') : undefined,
          blindIndexKeys: config.blindIndexKeys ? parseKeyring(config.blindIndexKeys) : undefined,
          activeBlindIndexKeyId: config.blindIndexActiveKeyId,
        }),
    },
  ],
  exports: [FieldEncryption],
})
export class CryptoModule {}
