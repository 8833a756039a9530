import { byAge, ICC_OPTION, refusalOf } from './sandbox-network';

describe('refusalOf', () => {
  it('accepts a bridge with inter-container traffic off, whoever made it', () => {
    expect(
      refusalOf({ Id: 'n1', Name: 'x', Driver: 'bridge', Options: { [ICC_OPTION]: 'false' } }),
    ).toBeNull();
  });

  it.each([
    [{ Driver: 'bridge', Options: {} }, /inter-container traffic is on/],
    [{ Driver: 'bridge', Options: { [ICC_OPTION]: 'true' } }, /inter-container traffic is on/],
    [{ Driver: 'bridge', Options: null }, /inter-container traffic is on/],
    [{ Driver: 'overlay', Options: { [ICC_OPTION]: 'false' } }, /driver is overlay, not bridge/],
    [{ Options: { [ICC_OPTION]: 'false' } }, /driver is unknown/],
  ])('refuses %j', (network, why) => {
    expect(refusalOf({ Id: 'n1', Name: 'x', ...network })).toMatch(why);
  });
});

describe('byAge', () => {
  it('keeps only the exact name (the engine filters by substring), oldest first', () => {
    const listed = [
      { Id: 'b', Name: 'sandboxd', Created: '2026-01-02T00:00:00Z' },
      { Id: 'c', Name: 'sandboxd-test', Created: '2026-01-01T00:00:00Z' },
      { Id: 'a', Name: 'sandboxd', Created: '2026-01-01T00:00:00Z' },
      { Id: '0', Name: 'sandboxd', Created: '2026-01-02T00:00:00Z' },
    ];
    expect(byAge(listed, 'sandboxd').map((n) => n.Id)).toEqual(['a', '0', 'b']);
  });

  it('orders by time when the engine trims trailing zeros of the nanoseconds', () => {
    // As text "…05Z" sorts after "…05.1Z", and "…05.1Z" after "…05.123456789Z".
    const listed = [
      { Id: 'later', Name: 'sandboxd', Created: '2026-12-02T17:55:05.1Z' },
      { Id: 'earlier', Name: 'sandboxd', Created: '2026-12-02T17:55:05.0999Z' },
      { Id: 'whole', Name: 'sandboxd', Created: '2026-12-02T17:55:05Z' },
      { Id: 'nanos', Name: 'sandboxd', Created: '2026-12-02T17:55:05.123456789Z' },
    ];
    expect(byAge(listed, 'sandboxd').map((n) => n.Id)).toEqual([
      'whole',
      'earlier',
      'later',
      'nanos',
    ]);
  });
});
