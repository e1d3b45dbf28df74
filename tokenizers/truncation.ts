// Role: truncation strategies for one or two sequences, as pure arithmetic on lengths: how many
// tokens of each sequence to keep so that the pair fits a token budget (max length minus the
// [CLS]/[SEP] tokens). Kept apart from the tokenizer so the rules are easy to test on their own.
// Browser-safe.

export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second' | 'proportional';

export const TRUNCATION_STRATEGIES: readonly TruncationStrategy[] = ['longest_first', 'only_first', 'only_second', 'proportional'];

export class TruncationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TruncationError';
  }
}

/**
 * How many tokens to keep of sequence A (length `a`) and B (length `b`, or null when there is
 * no pair) so that the total is at most `budget`. Tokens are always removed from the end.
 *
 * - longest_first: d2l's / Google BERT's `_truncate_seq_pair` rule: while too long, pop one
 *   token from the longer sequence (from B when both are equally long).
 * - only_first / only_second: remove only from that sequence; an error when that is not enough.
 * - proportional: the d2l exercise: each sequence keeps a share of the budget proportional to
 *   its length (rounded), so a long premise does not eat a short hypothesis entirely.
 */
export function truncateLengths(a: number, b: number | null, budget: number, strategy: TruncationStrategy): [number, number] {
  if (!Number.isInteger(budget) || budget < 0) throw new TruncationError(`token budget must be a non-negative integer, got ${budget}`);
  const bb = b ?? 0;
  if (a + bb <= budget) return [a, bb];
  if (b === null) {
    if (strategy === 'only_second') {
      throw new TruncationError(`truncation 'only_second' needs a sentence pair, but only one sequence (${a} tokens, budget ${budget}) was given`);
    }
    return [budget, 0];
  }
  switch (strategy) {
    case 'longest_first': {
      // Closed form of the pop loop. First even out the lengths, then alternate pops,
      // starting with B (ties go to B).
      let ka = a;
      let kb = b;
      let excess = a + b - budget;
      if (ka > kb) {
        const d = Math.min(excess, ka - kb);
        ka -= d;
        excess -= d;
      } else if (kb > ka) {
        const d = Math.min(excess, kb - ka);
        kb -= d;
        excess -= d;
      }
      kb -= Math.ceil(excess / 2);
      ka -= Math.floor(excess / 2);
      return [ka, kb];
    }
    case 'only_first': {
      const keep = budget - b;
      if (keep < 0) {
        throw new TruncationError(`truncation 'only_first' cannot fit: the second sequence alone has ${b} tokens but the budget is ${budget}`);
      }
      return [keep, b];
    }
    case 'only_second': {
      const keep = budget - a;
      if (keep < 0) {
        throw new TruncationError(`truncation 'only_second' cannot fit: the first sequence alone has ${a} tokens but the budget is ${budget}`);
      }
      return [a, keep];
    }
    case 'proportional': {
      let ka = Math.round((budget * a) / (a + b));
      // Keep at least one token of a non-empty sequence when the budget allows both.
      if (budget >= 2) ka = Math.min(Math.max(ka, a > 0 ? 1 : 0), budget - (b > 0 ? 1 : 0));
      ka = Math.min(ka, a);
      const kb = Math.min(b, budget - ka);
      // If B was shorter than its share, give the rest back to A.
      return [Math.min(a, budget - kb), kb];
    }
    default: {
      const never: never = strategy;
      throw new TruncationError(`unknown truncation strategy ${JSON.stringify(never)}; use one of ${TRUNCATION_STRATEGIES.join(', ')}`);
    }
  }
}
