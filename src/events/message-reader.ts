/** A trade message as its events show it when sent: the text is null (and `erased` true) once its author erased it. */
export interface EventMessageView {
  id: string;
  tradeId: string;
  at: string;
  sender: { kind: string; id: string | null };
  text: string | null;
  erased?: boolean;
}

/** Reads a message for the envelope of a `trade.message` event, at send time (stored events never hold its text). */
export interface MessageReader {
  forEvent(messageId: string): Promise<EventMessageView | null>;
}

/** Provided by the chat module (its messages reader); until then, message events carry no `data.message`. */
export const MESSAGE_READER = Symbol('MESSAGE_READER');
