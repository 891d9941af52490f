import type { MessageView } from './dto/chat.dto';
import type { Message } from './message-content';

export const presentMessage = (m: Message): MessageView => ({
  id: m.id,
  tradeId: m.tradeId,
  at: m.createdAt.toISOString(),
  sender: { kind: m.sender.kind, id: m.sender.id },
  text: m.text,
  erased: m.erased,
});
