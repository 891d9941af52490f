import { validateSync } from 'class-validator';
import { codePointLength, MaxCodePoints } from './text-length';

class Note {
  @MaxCodePoints(3)
  text: unknown;
}

const errorsOf = (text: unknown) => validateSync(Object.assign(new Note(), { text }));

describe('MaxCodePoints', () => {
  it('counts code points: an emoji is one, each variation selector one more', () => {
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength('😀')).toBe(1);
    expect(codePointLength('❤️')).toBe(2);
    expect(codePointLength('😀\uFE0F')).toBe(2);
  });

  it('takes up to the bound, so never more than 4 bytes of UTF-8 per code point', () => {
    for (const text of ['', 'abc', '😀😀😀', '❤️a', 'é\uFE0E']) expect(errorsOf(text)).toEqual([]);
  });

  it('refuses variation selectors beyond the bound, which @MaxLength does not count', () => {
    for (const text of ['abcd', '😀😀😀😀', '❤️❤️', '😀\uFE0F😀\uFE0F']) {
      const [error] = errorsOf(text);
      expect(error.constraints).toEqual({ maxCodePoints: 'text must be shorter than or equal to 3 characters' });
    }
  });

  it('refuses what is not a string', () => {
    expect(errorsOf(42)).toHaveLength(1);
  });
});
