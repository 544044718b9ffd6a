"""Token ids of a ``tokenizers`` tokenizer turned back into the text they stand for, refusing ids that are not its own.

A client that tokenized a text with the model's own tokenizer (``tokenizer.encode(text).ids``) may send the ids
instead of the text, as text-embeddings-inference accepts them. Ids are ambiguous: every integer below the vocabulary
size is *some* token, so another tokenizer's ids decode to unrelated words without any error (OpenAI's tiktoken ids
of a short English text often all fall inside a 30,522-token BERT vocabulary: ``hello`` is 15339, BERT's
``denise``). Two checks tell them apart:

* every id is in the vocabulary (``0 <= id < vocab_size``);
* the ids carry the marks this tokenizer puts around every text it encodes (BERT: ``[CLS]`` first, ``[SEP]`` last,
  then any padding): a whole tokenization, not a run of integers that happen to be small.

The marks and the padding are dropped before decoding, so the text is then embedded as any text is (the model adds
the marks again): the ids of ``encode(text)`` give exactly the vector of ``text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...errors import InvalidInputError

__all__ = ["TokenDecoder"]

_PROBE = "a"  # any text of one token: where it lands inside encode(probe) tells the leading marks from the trailing


class TokenDecoder:
    """Decodes token ids of one model's tokenizer (a ``tokenizer.json``); thread-safe (decoding only reads)."""

    def __init__(self, tokenizer_file: Path, model: str) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        padding = tokenizer.padding
        self._pad: int | None = padding["pad_id"] if padding else tokenizer.token_to_id("[PAD]")
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tokenizer = tokenizer
        self.model = model
        self.vocab_size: int = tokenizer.get_vocab_size(with_added_tokens=True)
        framed = tokenizer.encode(_PROBE).ids
        bare = tokenizer.encode(_PROBE, add_special_tokens=False).ids
        at = next(i for i in range(len(framed) - len(bare) + 1) if framed[i : i + len(bare)] == bare)
        self._prefix = framed[:at]
        self._suffix = framed[at + len(bare) :]

    def _shown(self, ids: Sequence[int]) -> str:
        return " ".join(f"{self._tokenizer.id_to_token(i)} ({i})" for i in ids)

    def decode(self, ids: Sequence[int]) -> str:
        """The text ``ids`` stand for; :class:`~hfbridge.errors.InvalidInputError` for ids that are not this
        tokenizer's (outside its vocabulary, or without the marks it puts around every text)."""
        if isinstance(ids, str | bytes) or not all(type(i) is int for i in ids):
            raise InvalidInputError("token ids must be a list of integers")
        foreign = [i for i in ids if not 0 <= i < self.vocab_size]
        if foreign:
            shown = ", ".join(map(str, foreign[:5])) + (", ..." if len(foreign) > 5 else "")
            raise InvalidInputError(
                f"token ids outside the vocabulary of {self.model}'s tokenizer (ids 0 to {self.vocab_size - 1}): "
                f"{shown}; these ids were made by another model's tokenizer"
            )
        body = list(ids)
        while self._pad is not None and body and body[-1] == self._pad:
            body.pop()
        start, end = len(self._prefix), len(body) - len(self._suffix)
        if end < start or body[:start] != self._prefix or body[end:] != self._suffix:
            marks = f"{self._shown(self._prefix)} ... {self._shown(self._suffix)}".strip(" .")
            read = str(self._tokenizer.decode(list(ids[:12]), skip_special_tokens=False))
            raise InvalidInputError(
                f"token ids for {self.model} must be a whole tokenization by its tokenizer ({marks} around the "
                f"text), as tokenizer.encode(text).ids gives them; these lack those marks, so they are taken for "
                f"another model's tokenizer's ids, which read as other words here: {read!r}"
            )
        return str(self._tokenizer.decode(body[start:end], skip_special_tokens=False))
