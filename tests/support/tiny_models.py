"""Tiny random-weight text models of real architectures, built offline in a second.

They go through the same `prepare_text_model` as the real default model, so
tests exercise the production conversion (safetensors + ONNX export) too.
Random weights produce arbitrary text: tests assert counts, types and
behaviour, never wording.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from pluggably.model_prep import prepare_text_model

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Multi-byte text in the corpus makes the BPE split characters over several
# byte-level tokens, which the detokenizer must never emit half of.
CORPUS = [
    "The capital of France is Paris. Hello world, hello gateway!",
    "Crème brûlée, café, naïve façade: déjà vu.",
    "日本語のテキストと絵文字 🙂🚀 are here too.",
    "Once upon a time there was a tiny model that never stopped talking.",
] * 20

CHAT_MODEL_ID = "tiny-llama-chat"
PLAIN_MODEL_ID = "tiny-gpt2-plain"
CHAT_MODEL_CONTEXT = 4096
PLAIN_MODEL_CONTEXT = 64


def build_tokenizer(chat_template: str | None) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>" if chat_template else "<|endoftext|>",
        unk_token="<|endoftext|>",
        model_input_names=["input_ids", "attention_mask"],
        chat_template=chat_template,
    )


def build_chat_model(target: Path) -> Path:
    """A 2-layer Llama with a chat template that never ends on its own.

    Its end-of-sequence row of the output layer is zero, so the EOS logit is 0
    while the best of ~400 random logits is above 0: greedy decoding runs until
    the token budget or context ends. That makes long generations to cancel.
    Its ONNX export is not quantized, so both runtimes give the same tokens.
    """
    torch.manual_seed(0)
    tokenizer = build_tokenizer(CHAT_TEMPLATE)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CHAT_MODEL_CONTEXT,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=eos,
        pad_token_id=eos,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight[eos].zero_()
    return prepare_text_model(
        model, tokenizer, target, display_name="Tiny Llama (chat)", aliases=("tiny-chat",), quantize=False
    )


def build_plain_model(target: Path) -> Path:
    """A 2-layer GPT-2 without a chat template and a 64-token context, int8 ONNX."""
    torch.manual_seed(1)
    tokenizer = build_tokenizer(None)
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_positions=PLAIN_MODEL_CONTEXT,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    return prepare_text_model(
        GPT2LMHeadModel(config).eval(), tokenizer, target, display_name="Tiny GPT-2 (plain)", quantize=True
    )


def build_tiny_models(models_dir: Path) -> Path:
    build_chat_model(models_dir / CHAT_MODEL_ID)
    build_plain_model(models_dir / PLAIN_MODEL_ID)
    return models_dir


def write_tiny_gguf(path: Path, tensor_elements: int = 16, context_length: int = 2048) -> Path:
    """A real GGUF text model file (metadata, a small vocabulary, one tensor of zeros).

    `tensor_elements` sets its size (4 bytes each): large ones make downloads slow enough to watch.
    """
    import numpy as np
    from gguf import GGUFWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, "llama")
    writer.add_name("Tiny test model")
    writer.add_context_length(context_length)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(300)])
    writer.add_token_types([1] * 300)
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.zeros(tensor_elements, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
