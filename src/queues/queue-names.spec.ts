import { assertJobId } from './queue-names';

describe('assertJobId', () => {
  it.each(['deadline-1f0c-funding', 'outbox-17', 'a'])('accepts %s', (id) => {
    expect(assertJobId(id)).toBe(id);
  });

  it.each(['a:b', 'a:b:c', '', '123', 'x'.repeat(201)])('refuses %p', (id) => {
    expect(() => assertJobId(id)).toThrow('Invalid job id');
  });
});
