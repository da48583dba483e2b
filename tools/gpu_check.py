"""What each local runtime really runs on, through the real gRPC server: run it on a GPU machine.

    python tools/gpu_check.py MODELS_DIR [--tokens N]

MODELS_DIR holds the tiny test models (tests/support/tiny_models.build_tiny_models).
For each device preference (auto, cuda) and runtime (ONNX, torch) it prints the
device the server reports in `served_by.device`, tokens per second, and whether a
cancelled stream frees its slot. It asserts nothing: it prints what it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import grpc
import onnxruntime
import torch

from pluggably.app import start_gateway
from pluggably.settings import GenerationSettings, ModelsSettings, ServerSettings, Settings
from pluggably.v1 import common_pb2, text_service_pb2, text_service_pb2_grpc

CHAT_MODEL = "tiny-llama-chat"
RUNTIMES = {"onnx": common_pb2.RUNTIME_ONNX, "torch": common_pb2.RUNTIME_TORCH}


def request(runtime: int, tokens: int) -> text_service_pb2.GenerateTextRequest:
    return text_service_pb2.GenerateTextRequest(
        model=common_pb2.ModelSelection(runtime=runtime),
        messages=[text_service_pb2.ChatMessage(role="user", content="Hello GPU")],
        max_output_tokens=tokens,
    )


async def check(models_dir: Path, device: str, tokens: int) -> dict[str, str]:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp()),
        server=ServerSettings(port=0),
        generation=GenerationSettings(device=device, max_concurrency=1),
        models=ModelsSettings(dir=models_dir, default_text_model=CHAT_MODEL, preload=()),
    )
    gateway = await start_gateway(settings)
    await gateway.preload()
    texts: dict[str, str] = {}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            stub = text_service_pb2_grpc.TextServiceStub(channel)
            for name, runtime in RUNTIMES.items():
                try:
                    await stub.GenerateText(request(runtime, 4))  # load and warm up
                    started = time.perf_counter()
                    response = await stub.GenerateText(request(runtime, tokens))
                    elapsed = time.perf_counter() - started
                except grpc.aio.AioRpcError as error:
                    print(f"device={device:5} runtime={name:6} error {error.code().name}: {error.details()}")
                    continue
                texts[name] = response.text
                print(
                    f"device={device:5} runtime={name:6} served_by.device={response.served_by.device:22} "
                    f"{response.usage.output_tokens / elapsed:8.1f} tokens/s ({response.usage.output_tokens} tokens)"
                )
                call = stub.StreamText(request(runtime, 20 * tokens))
                for _ in range(5):
                    await call.read()
                call.cancel()
                started = time.perf_counter()
                while gateway.text._admission.active:
                    if time.perf_counter() - started > 10:
                        raise RuntimeError("a cancelled stream kept its generation slot for 10 s")
                    await asyncio.sleep(0.005)
                print(f"    cancelled stream freed its slot in {1000 * (time.perf_counter() - started):.1f} ms")
    finally:
        await gateway.stop(0)
    return texts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, CUDA available: {cuda}, GPU: {torch.cuda.get_device_name(0) if cuda else '-'}")
    print(f"onnxruntime {onnxruntime.__version__}, providers: {onnxruntime.get_available_providers()}")
    for device in ("auto", "cuda", "cpu"):
        texts = await check(args.models_dir, device, args.tokens)
        if len(texts) == 2:
            print(f"    greedy text identical across runtimes: {texts['onnx'] == texts['torch']}")


if __name__ == "__main__":
    asyncio.run(main())
