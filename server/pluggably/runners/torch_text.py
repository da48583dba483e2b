"""Local text generation with PyTorch through transformers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pluggably.core.models import ModelInfo, Runtime
from pluggably.runners.causal_lm import CausalLMTextGenerator


def torch_device(preference: str) -> torch.device:
    """`auto` takes CUDA when torch can see a GPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def make_torch_text_loader(device_preference: str, threads: int) -> Callable[[ModelInfo], CausalLMTextGenerator]:
    def load(model: ModelInfo) -> CausalLMTextGenerator:
        if threads:
            torch.set_num_threads(threads)
        device = torch_device(device_preference)
        folder = Path(model.path)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        network = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        network.to(device).eval()
        return CausalLMTextGenerator(
            network,
            tokenizer,
            runtime=Runtime.TORCH,
            device=str(device),
            context_length=model.capabilities.context_length,
            tensor_device=device,
        )

    return load
