"""The bench measures variants in a fair order: no variant always runs first or last."""

from collections import Counter

from bench.reply_latency import interleaved


def test_each_variant_runs_equally_often_in_every_position() -> None:
    variants = ["charla", "floor", "same_effects", "alternative"]
    order = interleaved(variants, 8)
    assert Counter(order) == dict.fromkeys(variants, 8)
    rounds = [order[i : i + len(variants)] for i in range(0, len(order), len(variants))]
    assert all(sorted(each) == sorted(variants) for each in rounds)  # one of each per round
    for position in range(len(variants)):
        assert Counter(each[position] for each in rounds) == dict.fromkeys(variants, 2)


def test_swapping_the_variants_changes_no_variant_s_share_of_any_position() -> None:
    forward, backward = interleaved(["a", "b"], 6), interleaved(["b", "a"], 6)
    assert Counter(forward[::2]) == Counter(backward[::2]) == {"a": 3, "b": 3}


def test_a_drifting_machine_gives_the_same_ratio_whichever_variant_is_listed_first() -> None:
    """Each measurement costs one tick more than the last (a table growing, a neighbour's load):
    measured back to back, the second variant pays for the first one's run; interleaved, the
    ratio between two equal variants is 1 within one tick, in either order."""

    def ratio_of_means(order: list[str]) -> float:
        ticks: dict[str, list[int]] = {"a": [], "b": []}
        for tick, name in enumerate(order):
            ticks[name].append(100 + tick)
        return (sum(ticks["b"]) / len(ticks["b"])) / (sum(ticks["a"]) / len(ticks["a"]))

    back_to_back = ratio_of_means(["a"] * 50 + ["b"] * 50)
    assert back_to_back > 1.3  # what the old order reported for two equal variants
    for order in (interleaved(["a", "b"], 50), interleaved(["b", "a"], 50)):
        assert abs(ratio_of_means(order) - 1) < 0.01
