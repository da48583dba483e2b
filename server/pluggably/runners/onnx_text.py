"""Local text generation with ONNX Runtime through optimum (KV cache on)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnxruntime
from optimum.onnxruntime import ORTModelForCausalLM
from transformers import AutoTokenizer

from pluggably.core.models import ModelInfo, Runtime
from pluggably.core.models.discovery import onnx_text_export
from pluggably.runners.causal_lm import CausalLMTextGenerator

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def onnx_provider(preference: str) -> str:
    """`auto` asks for CUDA when the installed onnxruntime build offers it."""
    wants_cuda = preference == "cuda" or (
        preference == "auto" and CUDA_PROVIDER in onnxruntime.get_available_providers()
    )
    return CUDA_PROVIDER if wants_cuda else CPU_PROVIDER


def make_onnx_text_loader(device_preference: str, threads: int) -> Callable[[ModelInfo], CausalLMTextGenerator]:
    def load(model: ModelInfo) -> CausalLMTextGenerator:
        folder = Path(model.path)
        export = onnx_text_export(folder)  # `onnx/`, or model.onnx beside config.json
        if export is None:
            raise FileNotFoundError(f"{folder} holds no ONNX export")
        onnx_dir, file_name = export
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        network = ORTModelForCausalLM.from_pretrained(
            onnx_dir,
            file_name=file_name,
            provider=onnx_provider(device_preference),
            session_options=options,
            use_cache=True,
            use_io_binding=False,
        )
        # onnxruntime-gpu lists CUDA as available even where it cannot load it
        # and then falls back silently: report what the session really got.
        device = network.providers[0]  # session.get_providers()
        return CausalLMTextGenerator(
            network,
            AutoTokenizer.from_pretrained(folder),
            runtime=Runtime.ONNX,
            device=device,
            context_length=model.capabilities.context_length,
        )

    return load
