"""The token loop shared by every local causal language model runtime.

Both optimum's `ORTModelForCausalLM` and transformers' `AutoModelForCausalLM`
take `input_ids`, `attention_mask` and `past_key_values` and return logits plus
the updated KV cache, so one loop serves both. It is written out here instead
of calling `generate()` so that each request samples with its own seeded
`torch.Generator` (reproducible under concurrency), and so the caller decides
after every token whether to go on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from pluggably.core.errors import FeatureNotSupportedError
from pluggably.core.generation.text import ChatMessage
from pluggably.core.models import Runtime
from pluggably.runners.detokenizer import IncrementalDetokenizer
from pluggably.runners.local_text import DecodingConfig, GeneratedToken


def _end_of_sequence_ids(model_config: Any, generation_config: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for source in (generation_config, model_config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return frozenset(ids)


def _sampling_warpers(config: DecodingConfig) -> LogitsProcessorList:
    warpers = LogitsProcessorList([TemperatureLogitsWarper(config.temperature)])
    if config.top_k > 0:
        warpers.append(TopKLogitsWarper(config.top_k))
    if config.top_p < 1.0:
        warpers.append(TopPLogitsWarper(config.top_p))
    return warpers


class CausalLMTextGenerator:
    """A `TokenGenerator` over any model with the transformers causal-LM call signature."""

    def __init__(
        self,
        model: Any,
        tokenizer: PreTrainedTokenizerBase,
        *,
        runtime: Runtime,
        device: str,
        context_length: int,
        tensor_device: torch.device | None = None,
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._runtime = runtime
        self._device = device
        self._context_length = context_length
        self._tensor_device = tensor_device or torch.device("cpu")
        self._eos_ids = _end_of_sequence_ids(model.config, getattr(model, "generation_config", None), tokenizer)

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    @property
    def device(self) -> str:
        return self._device

    @property
    def context_length(self) -> int:
        return self._context_length

    def encode(self, messages: Sequence[ChatMessage], prompt: str) -> list[int]:
        if messages:
            if not self._tokenizer.chat_template:
                raise FeatureNotSupportedError("this model has no chat template: send `prompt` instead of `messages`")
            # Tokenize through the template in one step: tokenizing the rendered
            # string again would add a second BOS token.
            encoded = self._tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                return_dict=True,
            )
            return list(encoded["input_ids"])
        return list(self._tokenizer(prompt)["input_ids"])

    def generate(self, input_ids: Sequence[int], config: DecodingConfig) -> Iterator[GeneratedToken]:
        rng = torch.Generator(device="cpu").manual_seed(config.seed)
        warpers = None if config.greedy else _sampling_warpers(config)
        detokenizer = IncrementalDetokenizer(self._tokenizer)
        all_ids = torch.tensor([list(input_ids)], dtype=torch.long, device=self._tensor_device)
        next_input = all_ids
        attention_mask = torch.ones_like(all_ids)
        past_key_values = None
        with torch.inference_mode():
            while all_ids.shape[1] < self._context_length:
                output = self._model(
                    input_ids=next_input,
                    attention_mask=attention_mask,
                    past_key_values=past_key_values,
                    use_cache=True,
                )
                past_key_values = output.past_key_values
                logits = output.logits[:, -1, :].float()
                if warpers is None:
                    token = int(torch.argmax(logits, dim=-1).item())
                else:
                    scores = warpers(all_ids, logits)
                    probs = torch.softmax(scores, dim=-1).cpu()
                    token = int(torch.multinomial(probs, num_samples=1, generator=rng).item())
                if token in self._eos_ids:
                    yield GeneratedToken("", is_end_of_sequence=True)
                    return
                yield GeneratedToken(detokenizer.push(token))
                next_input = torch.tensor([[token]], dtype=torch.long, device=self._tensor_device)
                all_ids = torch.cat([all_ids, next_input], dim=1)
                attention_mask = torch.cat([attention_mask, torch.ones_like(next_input)], dim=1)
