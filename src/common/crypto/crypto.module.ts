import { Global, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { authConfig, cryptoConfig } from '../../config';
import { Cursors } from '../http/cursors';
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
    // Lists' cursors are signed with a key derived from the JWT secret, which every API process shares.
    {
      provide: Cursors,
      inject: [authConfig.KEY],
      useFactory: (config: ConfigType<typeof authConfig>) => Cursors.fromSecret(config.jwtSecret),
    },
  ],
  exports: [FieldEncryption, Cursors],
})
export class CryptoModule {}
