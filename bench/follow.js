// @ts-check
/*
 * A trade client that follows its trades as an app would: one `GET /v1/stream` held open for the user (API.md,
 * "Events"), each trade's state taken from the events' `data.trade`, and a read of the trade every five seconds
 * only while an awaited state has not come by the stream (a stream can drop): a safety net, not a poll.
 */
const http = require('node:http');

const FALLBACK_READ_MS = 5000;

/**
 * @param {string} baseUrl
 * @param {string} token
 * @returns {Promise<{ reaches: (id: string, state: string, stateOf: (id: string) => Promise<string>, timeoutMs?: number) => Promise<void>, close: () => void, polls: () => number, events: () => number }>}
 */
function followTrades(baseUrl, token, openTimeoutMs = 10000) {
  /** @type {Map<string, Set<string>>} the states each trade was seen in */
  const seen = new Map();
  /** @type {Map<string, () => void>} who waits for `<id> <state>` */
  const waiting = new Map();
  let polls = 0;
  let events = 0;
  const saw = (id, state) => {
    let states = seen.get(id);
    if (!states) seen.set(id, (states = new Set()));
    states.add(state);
    waiting.get(`${id} ${state}`)?.();
  };
  const onBlock = (block) => {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) return; // a keep-alive comment
    try {
      const trade = JSON.parse(data)?.data?.trade;
      if (trade?.id && trade.state) {
        events += 1;
        saw(trade.id, trade.state);
      }
    } catch {
      // not an envelope: nothing to learn from it
    }
  };
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${baseUrl}/v1/stream`,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
      (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`stream: ${res.statusCode}`));
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk) => {
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            onBlock(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        });
        res.on('error', () => undefined);
        resolve({
          async reaches(id, state, stateOf, timeoutMs = 60000) {
            const deadline = Date.now() + timeoutMs;
            const key = `${id} ${state}`;
            try {
              while (!seen.get(id)?.has(state)) {
                if (Date.now() > deadline) throw new Error(`trade ${id} did not reach ${state} within ${timeoutMs} ms`);
                const arrived = await new Promise((done) => {
                  const timer = setTimeout(() => done(false), FALLBACK_READ_MS);
                  waiting.set(key, () => {
                    clearTimeout(timer);
                    done(true);
                  });
                });
                if (arrived) break;
                polls += 1;
                if ((await stateOf(id)) === state) saw(id, state);
              }
            } finally {
              waiting.delete(key);
            }
            // A trade is awaited in one state after another, ending with its last: what is left of it is not needed.
            if (state === 'completed') seen.delete(id);
          },
          close: () => request.destroy(),
          polls: () => polls,
          events: () => events,
        });
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error('stream not open in time'));
    }, openTimeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

module.exports = { followTrades };
