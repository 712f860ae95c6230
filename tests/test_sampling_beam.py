import math

import numpy as np
import pytest
import torch

from melodyrnn.core.beam import beam_search, stochastic_beam_search
from melodyrnn.core.sampling import SamplingConfig, filter_logits, sample_next


def test_filters_by_hand():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    top2 = filter_logits(logits, SamplingConfig(top_k=2))
    assert np.isinf(top2[0, 2:]).all() and np.isfinite(top2[0, :2]).all()
    nucleus = filter_logits(logits, SamplingConfig(top_p=0.8))  # 0.5 + 0.3 reaches 0.8
    assert np.isfinite(nucleus[0, :2]).all() and np.isinf(nucleus[0, 2:]).all()
    masked = filter_logits(logits, SamplingConfig(), allowed=np.array([[False, True, True, True]]))
    assert np.isinf(masked[0, 0])
    hot = filter_logits(logits, SamplingConfig(temperature=2.0))
    np.testing.assert_allclose(hot, logits / 2)
    assert filter_logits(logits, SamplingConfig(top_k=2)) is not logits  # the input is left alone
    assert sample_next(logits, SamplingConfig(greedy=True)).tolist() == [0]
    # inverse-CDF sampling by hand: the CDF is .5 .8 .95 1, so u = .79 draws id 1, u = .81 id 2
    two = np.repeat(logits, 2, axis=0)
    assert sample_next(two, SamplingConfig(), uniforms=np.array([0.79, 0.81])).tolist() == [1, 2]


def test_sampling_is_seeded_and_follows_probabilities():
    logits = np.broadcast_to(np.log(np.array([[0.7, 0.2, 0.1]])), (20000, 3))
    a = sample_next(logits, SamplingConfig(), np.random.default_rng(5))
    b = sample_next(logits, SamplingConfig(), np.random.default_rng(5))
    assert np.array_equal(a, b)
    freq = np.bincount(a, minlength=3) / a.shape[0]
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1], atol=0.02, rtol=0)
    # ids with probability 0 (filtered out, or first and last in the vocabulary) never come up
    masked = np.broadcast_to(np.array([[-np.inf, 0.0, -np.inf, 0.0, -np.inf]]), (5000, 5))
    ids = sample_next(masked, SamplingConfig(), np.random.default_rng(1))
    assert set(ids.tolist()) == {1, 3}


# A toy step function: a Markov chain over 3 ids where greedy choice is a trap.
# From 0: to 1 (p .6) or 2 (p .4). From 1 everything is flat (1/3 each);
# from 2 the chain goes to 2 again with p .99. Best 2-step path: 0 -> 2 -> 2 (.396)
# beats the greedy 0 -> 1 -> x (.6 / 3 = .2).
TABLE = torch.log(torch.tensor([[1e-9, 0.6, 0.4],
                                [1 / 3, 1 / 3, 1 / 3],
                                [0.005, 0.005, 0.99]]))


def toy_step(last, state):
    return TABLE[last], state + 1


def toy_reorder(state, index):
    return state[index] if state.dim() else state.expand(index.shape[0])[index]


def test_beam_search_finds_the_better_path_greedy_misses():
    greedy, _ = beam_search(toy_step, toy_reorder, torch.tensor(0), torch.tensor(0), 2, 1)
    beam, scores = beam_search(toy_step, toy_reorder, torch.tensor(0), torch.tensor(0), 2, 2)
    assert greedy.tolist()[0][0] == 1
    assert beam[0].tolist() == [2, 2]
    assert float(scores[0]) == pytest.approx(math.log(0.4 * 0.99), rel=1e-6)
    # the second-best path, by hand: 0 -> 1 (.6) -> any of three (1/3) = .2
    assert float(scores[1]) == pytest.approx(math.log(0.6 / 3), rel=1e-6)
    assert beam[1].tolist()[0] == 1 and beam[0].tolist() != beam[1].tolist()


def test_stochastic_beam_search_keeps_the_likeliest_branches():
    g = torch.Generator().manual_seed(0)

    def sample(logp):
        return torch.multinomial(logp.exp(), 1, generator=g).squeeze(1)

    seq, score = stochastic_beam_search(toy_step, toy_reorder, torch.tensor(0), torch.tensor(0),
                                        steps=6, beam_size=2, branch_factor=8,
                                        steps_per_iteration=2, sample=sample)
    assert len(seq) == 6
    # with 16 sampled branches per iteration, the near-certain 2 -> 2 chain wins
    assert seq.tolist() == [2, 2, 2, 2, 2, 2]
    assert score > math.log(0.4) + 5 * math.log(0.99) - 1e-6


def test_incremental_phrase_counts_equal_counting_every_window():
    """The phrase limit's counts, kept up id by id in O(T), equal a brute-force count over
    every window of the sequence so far (ids drawn from a small alphabet: many repeats)."""
    from melodyrnn.core.continuation import extend_matches, next_counts, plays_of_next, suffix_matches

    def brute(tokens, n, vocab):
        counts = np.zeros((tokens.shape[0], vocab), np.int64)
        for r in range(tokens.shape[0]):
            t = tokens[r].tolist()
            for i in range(len(t) - n + 1):
                if t[i:i + n - 1] == t[len(t) - n + 1:]:
                    counts[r, t[i + n - 1]] += 1
        return counts

    g = np.random.default_rng(0)
    tokens = g.integers(0, 3, (4, 5))
    match = suffix_matches(tokens)
    for _ in range(60):
        for n in (2, 3, 5, 8):
            assert np.array_equal(next_counts(tokens, match, n, 3), brute(tokens, n, 3))
            assert np.array_equal(plays_of_next(tokens, n, 3), brute(tokens, n, 3))
        tokens, match = extend_matches(tokens, match, g.integers(0, 3, 4))
    assert np.array_equal(match, suffix_matches(tokens))
