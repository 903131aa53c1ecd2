"""Routing: rules, counties, urgency, the seed model, and accuracy on real data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from classifiers.router import Router, load_router
from hub.config import load_config
from hub.settings import REPO_ROOT


@pytest.fixture(scope="module")
def router(seed_model) -> Router:  # type: ignore[no-untyped-def]
    from classifiers.model import CategoryClassifier

    config = load_config(REPO_ROOT / "config")
    codes = {u.code for u in config.units}
    return Router(config, CategoryClassifier.load(seed_model), codes)


def test_misconduct_goes_to_discipline_body_of_the_county_with_identity_hidden(router) -> None:  # type: ignore[no-untyped-def]
    d = router.route("举报A5区某街道办事员吃拿卡要，办证要收好处费")
    assert d.unit_code == "A5-jiwei" and d.hide_identity and d.rule == "misconduct"
    assert not d.needs_triage


def test_county_from_a_town_name_picks_the_county_department(router) -> None:  # type: ignore[no-untyped-def]
    d = router.route("星沙街道某小学强制学生购买教辅资料，老师不买就点名批评，请教育局查处")
    assert d.county_code == "A7"
    assert d.category == "教育文体"
    assert d.suggestions[0]["unit"] == "A7-jiaoyu"


def test_urgent_words_are_flagged_and_listed(router) -> None:  # type: ignore[no-untyped-def]
    d = router.route("A1区某小区燃气泄漏，味道很大，物业不管")
    assert d.urgent and "燃气泄漏" in d.urgent_terms
    calm = router.route("A1区某小区组织消防演练，噪音很大")
    assert not calm.urgent


def test_nonsense_goes_to_triage_with_suggestions(router) -> None:  # type: ignore[no-untyped-def]
    d = router.route("你好")
    assert d.needs_triage and len(d.suggestions) == 3


def test_load_router_trains_the_seed_model_when_none_exists(hub, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hub.settings = hub.settings.with_overrides(model_path=tmp_path / "new" / "m.joblib")
    r = load_router(hub)
    assert r.model is not None and r.model.meta.get("seed")
    assert (tmp_path / "new" / "m.joblib").exists()


def test_char_grams_are_scikit_learns_char_wb_features() -> None:
    """The NumPy char-gram TF-IDF has the n-grams of sklearn's ``char_wb`` analyzer;
    weights differ only where sklearn counts a space once per word edge, not per gap."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifiers.chargrams import CharGramVectorizer
    from classifiers.text import token_string

    texts = [token_string(t) for t in (
        "A3区含浦街道某小区路灯坏了一个月，晚上出行很不安全",
        "请问离职后住房公积金如何提取，需要哪些材料？",
        "A7县星沙镇的垃圾站臭气熏天 严重影响居民生活 ABC", "路", "")]
    ours = CharGramVectorizer().fit(texts)
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True).fit(texts)

    def code(gram: str) -> int:
        value = 0
        for ch in gram:
            value = (value << 21) | ord(ch)
        return value

    position = {int(c): i for i, c in enumerate(ours.vocabulary_)}
    assert sorted(position) == sorted(code(g) for g in theirs.vocabulary_)
    columns = [position[code(g)] for g, _ in sorted(theirs.vocabulary_.items(),
                                                    key=lambda kv: kv[1])]
    x, y = ours.transform(texts).toarray()[:, columns], theirs.transform(texts).toarray()
    assert ((x > 0) == (y > 0)).all()
    assert np.abs(x - y).max() < 0.05
    assert np.allclose(np.linalg.norm(x[:4], axis=1), 1.0)


def test_both_segmenters_know_the_citys_names_and_an_unknown_one_is_refused() -> None:
    from classifiers.text import add_words, tokens

    add_words(["星沙街道"])
    for name in ("rjieba", "jieba"):
        assert "星沙街道" in tokens("A7县星沙街道的路灯坏了", name)
    with pytest.raises(ValueError, match="unknown tokenizer"):
        tokens("路灯", "pkuseg")


def test_a_model_trained_with_rjieba_still_routes_where_rjieba_is_missing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """rjieba is a binary wheel; where it cannot be installed the Python jieba, with
    the same dictionary, tokenises instead of the model failing."""
    import jieba

    import classifiers.text as text

    monkeypatch.setattr(text, "rjieba", None)
    sentence = "A3区某小区路灯坏了一个月"
    assert text.tokens(sentence, "rjieba") == text.tokens(sentence, "jieba")
    assert text.cutter("rjieba") is jieba.lcut


def test_routing_with_rjieba_never_loads_the_python_jiebas_dictionary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Teaching the Python jieba the city's names loaded its ~50 MiB dictionary in
    every process though rjieba cut every text; it now learns them when first used."""
    script = (
        "import sys, jieba\n"
        "from pathlib import Path\n"
        "from classifiers.router import train_seed_model\n"
        "from classifiers.text import add_words, tokens\n"
        "train_seed_model(Path(sys.argv[1]))\n"
        "add_words(['星沙街道'])\n"
        "assert '星沙街道' in tokens('A7县星沙街道的路灯坏了')\n"
        "print(jieba.dt.initialized)\n"
        "assert '星沙街道' in tokens('A7县星沙街道的路灯坏了', 'jieba')\n"
        "print(jieba.dt.initialized)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.joblib")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"]


def test_freed_memory_can_be_handed_back_on_glibc() -> None:
    from hub import memory

    if memory._glibc() is None:
        pytest.skip("not glibc")
    assert memory.limit_arenas() is True  # mallopt accepted the parameter
    assert isinstance(memory.trim(), bool)
