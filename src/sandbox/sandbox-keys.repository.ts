import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** `sandbox_keys`: the mock providers' signing keys and certificates (or, for a key published bare, its public key PEM), by name. */
@Injectable()
export class SandboxKeysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async find(name: string): Promise<{ private_key_pem: string; certificate_pem: string } | undefined> {
    const rows: { private_key_pem: string; certificate_pem: string }[] = await this.dataSource.query(
      `SELECT private_key_pem, certificate_pem FROM sandbox_keys WHERE name = $1`,
      [name],
    );
    return rows[0];
  }

  /** Stores the key unless one by that name is stored already (the first stored wins). */
  async insertIfAbsent(name: string, privateKeyPem: string, certificatePem: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO sandbox_keys (name, private_key_pem, certificate_pem) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
      [name, privateKeyPem, certificatePem],
    );
  }
}
