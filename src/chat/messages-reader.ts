import { Injectable } from '@nestjs/common';
import { ChatRepository } from './chat.repository';
import type { MessageView } from './dto/chat.dto';
import { presentMessage } from './message.presenter';

/**
 * A message as the trade's parties see it, for an event's envelope when it is sent (`data.message`): read then,
 * so a text erased since the event was recorded goes out as `text: null, erased: true`.
 */
@Injectable()
export class MessagesReader {
  constructor(private readonly messages: ChatRepository) {}

  async forEvent(messageId: string): Promise<MessageView | null> {
    const message = await this.messages.find(messageId);
    return message && presentMessage(message);
  }
}
