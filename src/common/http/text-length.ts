import { ValidateBy, ValidationOptions, buildMessage } from 'class-validator';

/**
 * The length of a text in Unicode code points: what PostgreSQL's `length()` counts, and at most 4 UTF-8 bytes each.
 * class-validator's `@MaxLength` does not count the variation selectors U+FE0E/U+FE0F ("❤️" is 1 there, 2 code
 * points and 6 bytes here), so a bound on stored bytes cannot rest on it.
 */
export function codePointLength(text: string): number {
  return [...text].length;
}

/** A string of at most `max` code points, so at most 4 × `max` bytes of UTF-8. Code `too_long`, like `@MaxLength`. */
export function MaxCodePoints(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxCodePoints',
      constraints: [max],
      validator: {
        validate: (value: unknown) => typeof value === 'string' && codePointLength(value) <= max,
        defaultMessage: buildMessage((each) => `${each}$property must be shorter than or equal to $constraint1 characters`, options),
      },
    },
    options,
  );
}
