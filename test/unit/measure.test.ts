// The tuner's statistics (bench/measure.ts): the median, the order of the settings in each turn, and the turn-by-turn
// comparison of an A/B (--base-cli), which is what decides a change on a shared machine.
import { describe, expect, it } from 'vitest';
import { median, paired, pairedLine, turnOrder } from '../../bench/measure.js';

describe('the tuner statistics', () => {
  it('takes the median of an odd and an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('runs the settings in reverse order every other turn', () => {
    expect(turnOrder(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(turnOrder(['a', 'b', 'c'], 1)).toEqual(['c', 'b', 'a']);
    expect(turnOrder(['a', 'b', 'c'], 2)).toEqual(['a', 'b', 'c']);
  });

  it('pairs an A/B turn by turn: how often the first was faster, by how much on average', () => {
    // the medians (5.05 against 4.91) favour b; turn by turn a was faster in 2 of 5
    const a = [5.85, 5.34, 4.16, 5.05, 4.39];
    const b = [5.39, 5.16, 4.41, 4.63, 4.91];
    const p = paired(a, b)!;
    expect(p.turns).toBe(5);
    expect(p.faster).toBe(2);
    expect(p.meanDiff).toBeCloseTo((0.46 + 0.18 - 0.25 + 0.42 - 0.52) / 5, 10);
    expect(p.meanRatio).toBeCloseTo(
      (5.85 / 5.39 + 5.34 / 5.16 + 4.16 / 4.41 + 5.05 / 4.63 + 4.39 / 4.91) / 5,
      10,
    );
    expect(pairedLine('loader x', 'base x', p)).toBe(
      'loader x against base x: faster in 2 of 5 turns, 0.06 s (1%) slower on average',
    );
    // only the turns both ran; a tie is not faster
    expect(paired([1, 2, 3], [2, 2])).toEqual({ turns: 2, faster: 1, meanDiff: -0.5, meanRatio: 0.75 });
    expect(pairedLine('a', 'b', paired([1], [2])!)).toBe(
      'a against b: faster in 1 of 1 turns, 1.00 s (50%) faster on average',
    );
    expect(paired([], [1])).toBeUndefined();
  });
});
