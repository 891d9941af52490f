import { ApiProperty } from '@nestjs/swagger';
import { IsDefined, IsString, MinLength, ValidateBy } from 'class-validator';
import { MaxCodePoints } from '../../common/http/text-length';
import { MESSAGE_LIMITS, SENDER_KINDS } from '../message-content';
import type { SenderKind } from '../message-content';

/**
 * Control characters other than tab, line feed and carriage return (C0, DEL, C1): invisible, they can hide or
 * rearrange what the other party reads. NUL never gets this far (the body's JSON is refused first).
 */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

const NoControlCharacters = () =>
  ValidateBy({
    name: 'controlCharacters',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || !hasControlCharacter(value),
      defaultMessage: () => 'text may not contain control characters (tabs and line breaks are fine)',
    },
  });

const NotBlank = () =>
  ValidateBy({
    name: 'blank',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || /\S/u.test(value),
      defaultMessage: () => 'text must contain something other than white space',
    },
  });

export class PostMessageDto {
  @ApiProperty({
    minLength: 1,
    maxLength: MESSAGE_LIMITS.textChars,
    description: 'characters (Unicode code points); not only white space; no control characters but tab and line breaks',
  })
  // Listed last first: decorators register bottom-up, and a field's error names its first failing check.
  @NoControlCharacters()
  @NotBlank()
  // Code points, as stored: `@MaxLength` would let 2000 "❤️" (4000 code points) through.
  @MaxCodePoints(MESSAGE_LIMITS.textChars)
  @MinLength(1)
  @IsString()
  @IsDefined()
  text: string;
}

export class SenderView {
  @ApiProperty({ enum: SENDER_KINDS }) kind: SenderKind;
  @ApiProperty({ format: 'uuid' }) id: string;
}

export class MessageView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tradeId: string;
  @ApiProperty() at: string;
  @ApiProperty({ type: SenderView }) sender: SenderView;
  @ApiProperty({ type: String, nullable: true, description: 'null once erased (retention after the trade ended, or its sender deleted)' })
  text: string | null;
  @ApiProperty({ description: 'the text was erased' }) erased: boolean;
}

export class MessagePage {
  @ApiProperty({ type: [MessageView] }) data: MessageView[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}
