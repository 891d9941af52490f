import { safeErrorForLog } from './safe-error';

describe('safeErrorForLog', () => {
  it('keeps a database error to its codes, never its parameters or message', () => {
    const error = Object.assign(new Error('invalid input syntax for type uuid: "alice@example.com"'), {
      name: 'QueryFailedError',
      query: 'UPDATE users SET paypal_email_ciphertext = $1 WHERE id = $2',
      parameters: ['secret-ciphertext', 'alice@example.com'],
      driverError: { code: '22P02', routine: 'string_to_uuid' },
    });
    const logged = JSON.stringify(safeErrorForLog(error));
    expect(logged).toContain('22P02');
    expect(logged).toContain('UPDATE users SET paypal_email_ciphertext');
    expect(logged).not.toContain('alice@example.com');
    expect(logged).not.toContain('secret-ciphertext');
  });

  it('keeps the message and stack of other errors', () => {
    expect(safeErrorForLog(new TypeError('boom'))).toMatchObject({ type: 'TypeError', message: 'boom' });
  });
});
