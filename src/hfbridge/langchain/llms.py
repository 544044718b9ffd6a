"""``HFLLM``: a LangChain text-completion LLM on the TGI protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import Field

from .._signatures import freeze_signatures
from ..errors import InvalidInputError
from ..types import TextGeneration
from ._config import BackendFields

__all__ = ["HFLLM"]


class HFLLM(BackendFields, BaseLLM):
    """Plain text generation (TGI ``/generate``), sync, async and streaming; ``batch`` runs prompts concurrently
    through the backend (``max_concurrency`` at a time), each retried on its own.

    >>> llm = HFLLM(base_url="http://127.0.0.1:8080", max_new_tokens=64)
    """

    max_new_tokens: int | None = Field(default=None, alias="max_tokens", description="Most tokens to generate.")
    temperature: float | None = Field(default=None, description="Sampling temperature.")
    top_p: float | None = Field(default=None, description="Nucleus sampling.")
    stop: list[str] | None = Field(default=None, description="Stop sequences.")
    seed: int | None = Field(default=None, description="Sampling seed.")

    @property
    def _llm_type(self) -> str:
        return "huggingface-hfbridge"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model or self.client.model_id, "backend": self.client.name,
                "max_new_tokens": self.max_new_tokens, "temperature": self.temperature}  # fmt: skip

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(kwargs)
        options = {
            "model": self._model_override(kwargs),
            "max_new_tokens": kwargs.pop("max_new_tokens", kwargs.pop("max_tokens", self.max_new_tokens)),
            "temperature": kwargs.pop("temperature", self.temperature),
            "top_p": kwargs.pop("top_p", self.top_p),
            "stop": stop if stop is not None else self.stop,
            "seed": kwargs.pop("seed", self.seed),
        }
        if kwargs:
            raise InvalidInputError(f"HFLLM got unexpected call options: {sorted(kwargs)}")
        return {key: value for key, value in options.items() if value is not None and value != []}

    @staticmethod
    def _result(outputs: list[TextGeneration]) -> LLMResult:
        return LLMResult(
            generations=[
                [
                    Generation(
                        text=output.generated_text,
                        generation_info={
                            "finish_reason": output.finish_reason,
                            "generated_tokens": output.generated_tokens,
                        },
                    )
                ]
                for output in outputs
            ]
        )

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        return self._result(self.client.text_generation_batch(prompts, **self._options(stop, kwargs)))

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        return self._result(await self.client.atext_generation_batch(prompts, **self._options(stop, kwargs)))

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for raw in self.client.stream_text_generation(prompt, **self._options(stop, kwargs)):
            info = {"finish_reason": raw.finish_reason} if raw.finish_reason else None
            chunk = GenerationChunk(text=raw.token.text, generation_info=info)
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        async for raw in self.client.astream_text_generation(prompt, **self._options(stop, kwargs)):
            info = {"finish_reason": raw.finish_reason} if raw.finish_reason else None
            chunk = GenerationChunk(text=raw.token.text, generation_info=info)
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


freeze_signatures(HFLLM, "_generate", "_agenerate")
