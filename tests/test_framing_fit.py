"""Learning a server's chat framing from its reports: a fixed part and a part per
message, exact once two turns of different sizes have been seen, and kept per provider
and model across restarts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core.framing_fit import MAX_SAMPLES, add_sample, fit
from desktop_app.services.windows import WindowResolver


@given(fixed=st.integers(-50, 200), per_message=st.integers(-5, 12),
       sizes=st.lists(st.integers(1, 400), min_size=2, max_size=12))
def test_two_turns_of_different_sizes_give_the_exact_framing(fixed, per_message, sizes):
    samples: list[tuple[int, int]] = []
    for n in sizes:
        samples = add_sample(samples, n, fixed + per_message * n)
    learned = fit(samples)
    recent = {n for n, _ in samples}
    if len(recent) > 1:
        assert (learned.fixed, learned.per_message, learned.exact) == (fixed, per_message, True)
        assert learned.tokens(1000) == fixed + per_message * 1000
    else:  # one size seen: the whole difference is taken as fixed
        assert learned.tokens(sizes[-1]) == fixed + per_message * sizes[-1]
    assert learned.samples == len(samples) <= MAX_SAMPLES


def test_no_reports_no_correction_and_noisy_reports_are_not_exact():
    assert fit([]).tokens(10) == 0 and not fit([]).exact
    noisy = fit([(2, 10), (4, 13), (6, 20)])
    assert not noisy.exact


def test_the_resolver_keeps_what_it_learned_across_restarts(tmp_path):
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.store import open_database

    db = open_database(tmp_path / "data")
    try:
        provider = ProviderConfig(name="box", preset="llamacpp", base_url="http://127.0.0.1:1/v1")
        resolver = WindowResolver.from_store(db)
        resolver.learn(provider.name, "my-finetune", 8192)
        resolver.learn_counting(provider.name, "my-finetune", "llama3", "{{ messages }}")
        assert resolver.learn_framing(provider.name, "my-finetune", 1, 15)
        assert resolver.learn_framing(provider.name, "my-finetune", 3, 35)
        resolver.save(db)
        again = WindowResolver.from_store(db)
        info, window = again.model("my-finetune", provider)
        assert window.tokens == 8192 and info.encoding == "llama3" and info.exact
        assert info.template is not None and info.template.startswith("sha256:")
        assert (info.learned_framing.fixed, info.learned_framing.per_message) == (5, 10)
        assert info.chat_exact
        # a provider that changed forgets all of it
        again.forget(provider.name)
        info, _ = again.model("my-finetune", provider)
        assert not info.exact and info.learned_framing.samples == 0
    finally:
        db.close()
