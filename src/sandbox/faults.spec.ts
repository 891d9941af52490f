import { decide, draw, webhookCopies } from './faults';

describe('fault decisions', () => {
  it('repeat for the same seed and call, and differ across seeds', () => {
    expect(draw(7, 1n, 'error')).toBe(draw(7, 1n, 'error'));
    const a = Array.from({ length: 20 }, (_, i) => draw(7, BigInt(i), 'error'));
    const b = Array.from({ length: 20 }, (_, i) => draw(8, BigInt(i), 'error'));
    expect(a).not.toEqual(b);
    for (const x of a) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it('fails about as often as the error rate says', () => {
    let errors = 0;
    for (let i = 0; i < 2000; i += 1) if (decide({ errorRate: 0.3, seed: 1 }, BigInt(i)).kind === 'error') errors += 1;
    expect(errors).toBeGreaterThan(500);
    expect(errors).toBeLessThan(700);
  });

  it('is down when down, fine when cleared, and bounds the latency', () => {
    expect(decide({ down: true }, 1n)).toEqual({ kind: 'down' });
    expect(decide({}, 1n)).toEqual({ kind: 'ok', latencyMs: 0, failAfter: false });
    expect(decide({ latencyMs: 999999 }, 1n)).toEqual({ kind: 'ok', latencyMs: 30000, failAfter: false });
    expect(decide({ failAfterSuccess: 1 }, 1n)).toEqual({ kind: 'ok', latencyMs: 0, failAfter: true });
  });

  it('spares the calls outside the paths it is limited to', () => {
    const payoutsOnly = { down: true, paths: ['/v1/payments/payouts'] };
    expect(decide(payoutsOnly, 1n, '/v1/payments/payouts/B-1')).toEqual({ kind: 'down' });
    expect(decide(payoutsOnly, 1n, '/v2/payments/authorizations/A-1/capture')).toEqual({ kind: 'ok', latencyMs: 0, failAfter: false });
    expect(decide(payoutsOnly, 1n)).toEqual({ kind: 'ok', latencyMs: 0, failAfter: false });
  });

  it('queues a webhook once, never, twice or late as its faults say', () => {
    expect(webhookCopies({}, 'E-1')).toEqual([0]);
    expect(webhookCopies({ dropWebhooks: 1 }, 'E-1')).toEqual([]);
    expect(webhookCopies({ duplicateWebhooks: 1 }, 'E-1')).toEqual([0, 0]);
    for (const delay of webhookCopies({ duplicateWebhooks: 1, reorderWebhooks: true }, 'E-1')) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(2000);
    }
  });
});
