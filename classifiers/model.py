"""The category classifier: word and character (1-3-gram) TF-IDF, LSA, lexicon priors, and a
calibrated linear SVM.

Vocabulary, IDF and the LSA space are fitted on every text available (labelled and
unlabelled alike: no labels are used there), the SVM on labelled and weakly
labelled examples only.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from classifiers import lexicon as lex
from classifiers.chargrams import CharGramVectorizer
from classifiers.text import DEFAULT_TOKENIZER, token_string

FORMAT_VERSION = 1


def _split(text: str) -> list[str]:
    return text.split()


@dataclass
class TrainingSet:
    texts: list[str]
    labels: list[str]
    weak_texts: list[str] = field(default_factory=list)
    weak_labels: list[str] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    lexicon: dict[str, list[str]] = field(default_factory=dict)
    weak_weight: float = 0.2
    # the category tree's rows (一级, 二级, 三级): the router guesses finer categories
    # from them (hub/catalogue/lookup.py); not a feature, so not in the digest
    tree: list[tuple[str, str, str]] = field(default_factory=list)

    def digest(self) -> str:
        h = hashlib.sha256()
        for part in (self.texts, self.labels, self.weak_texts, self.weak_labels, self.unlabelled):
            for item in part:
                h.update(item.encode())
                h.update(b"\x00")
        for cls, terms in sorted(self.lexicon.items()):
            h.update(cls.encode() + "|".join(terms).encode())
        return h.hexdigest()[:16]


@dataclass
class Params:
    lsa_dims: int = 200
    lexicon_weight: float = 0.5
    C: float = 1.0
    min_df: int = 2
    tokenizer: str = DEFAULT_TOKENIZER


def version_of(meta: dict[str, Any]) -> str:
    return f"{meta.get('trained_at', '?')}/{str(meta.get('data_hash', '?'))[:8]}"


class CategoryClassifier:
    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self.meta: dict[str, Any] = {}
        self.lexicon: dict[str, list[str]] = {}

    # -- features --------------------------------------------------------------------------
    def _fit_space(self, token_texts: list[str]) -> None:
        p = self.params
        min_df = p.min_df if len(token_texts) >= 50 else 1
        self.word = TfidfVectorizer(analyzer=_split, sublinear_tf=True, min_df=min_df)
        self.char = CharGramVectorizer(min_df=min_df)
        self.word.fit(token_texts)
        self.char.fit(token_texts)
        dims = min(p.lsa_dims, len(self.word.vocabulary_) - 1, len(token_texts) - 1)
        self.svd: TruncatedSVD | None = None
        if dims >= 2:
            self.svd = TruncatedSVD(dims, random_state=0).fit(self.word.transform(token_texts))

    def _features(self, raw: list[str], token_texts: list[str]) -> csr_matrix:
        words = self.word.transform(token_texts)
        parts = [words, self.char.transform(token_texts)]
        if self.svd is not None:
            parts.append(csr_matrix(normalize(self.svd.transform(words))))
        if self.lexicon:
            parts.append(csr_matrix(lex.features(raw, self.lexicon) * self.params.lexicon_weight))
        return hstack(parts).tocsr()

    # -- training and prediction -----------------------------------------------------------
    def fit(self, data: TrainingSet, token_cache: dict[str, str] | None = None
            ) -> CategoryClassifier:
        started = time.perf_counter()
        cache = token_cache if token_cache is not None else {}

        def toks(texts: list[str]) -> list[str]:
            return [cache.get(t) or cache.setdefault(t, self._tokens(t)) for t in texts]

        labelled_tok = toks(data.texts)
        weak_tok = toks(data.weak_texts)
        self._fit_space(labelled_tok + weak_tok + toks(data.unlabelled))
        self.lexicon = dict(data.lexicon)
        x = self._features(data.texts, labelled_tok)
        y = list(data.labels)
        weights = [1.0] * len(y)
        if data.weak_texts:
            x = vstack([x, self._features(data.weak_texts, weak_tok)]).tocsr()
            y += data.weak_labels
            weights += [data.weak_weight] * len(data.weak_labels)
        self._fit_model(x, y, weights)
        self.meta.update(format=FORMAT_VERSION, trained_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
                         n_labelled=len(data.texts), n_weak=len(data.weak_texts),
                         n_unlabelled=len(data.unlabelled), data_hash=data.digest(),
                         classes=self.classes, params=vars(self.params),
                         taxonomy=[list(r) for r in data.tree],
                         # the category mix it learnt from: drift is measured against it
                         class_counts={c: data.labels.count(c) for c in sorted(set(data.labels))},
                         train_seconds=round(time.perf_counter() - started, 2))
        return self

    def _fit_model(self, x: csr_matrix, y: list[str], weights: list[float]) -> None:
        counts = np.unique(y, return_counts=True)[1]
        folds = int(min(3, counts.min()))
        # seeded: liblinear shuffles the data; unseeded, two fits on the same data could
        # differ in a borderline prediction (and `hub train --jobs` would depend on N)
        svm = LinearSVC(C=self.params.C, random_state=0)
        if folds >= 2:
            self.model: Any = CalibratedClassifierCV(svm, method="sigmoid", cv=folds,
                                                ensemble=False)
        else:  # too few examples of some class to calibrate: raw SVM, softmaxed
            self.model = svm
        self.model.fit(x, y, sample_weight=np.array(weights))
        self.classes = [str(c) for c in self.model.classes_]

    def predict_proba(self, texts: list[str], tokens: list[str] | None = None) -> np.ndarray:
        """``tokens``: the texts already cut (as ``fit``'s token cache holds them)."""
        cut = tokens if tokens is not None else [self._tokens(t) for t in texts]
        return self._proba(self._features(texts, cut))

    def _tokens(self, text: str) -> str:
        # models pickled before the tokenizer was a parameter were trained with jieba
        return token_string(text, getattr(self.params, "tokenizer", "jieba"))

    def _proba(self, x: csr_matrix) -> np.ndarray:
        if hasattr(self.model, "predict_proba"):
            return np.asarray(self.model.predict_proba(x))
        scores = np.asarray(self.model.decision_function(x))
        if scores.ndim == 1:
            scores = np.column_stack([-scores, scores])
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def top(self, texts: list[str], k: int = 3, tokens: list[str] | None = None
            ) -> list[list[tuple[str, float]]]:
        probs = self.predict_proba(texts, tokens)
        out = []
        for row in probs:
            order = np.argsort(-row)[:k]
            out.append([(self.classes[i], float(row[i])) for i in order])
        return out

    @property
    def version(self) -> str:
        """Which model decided a case (kept on the case for dispatch-quality figures):
        when it was trained and from what data; a retrain is a new version."""
        return version_of(self.meta)

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        joblib.dump(self, tmp, compress=3)
        tmp.replace(path)  # atomic: a reader never sees half a model

    @staticmethod
    def load(path: Path) -> CategoryClassifier:
        model = joblib.load(path)
        if not isinstance(model, CategoryClassifier) or \
                model.meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path} is not a model this version of hub can read; retrain")
        return model
