"""Text benchmark: SmolLM2-135M-Instruct tokens per second and time to first token.

    python -m bench.text [--repeats N] [--max-output-tokens N] [--threads N] ...

Starts the gateway in a process of its own (`bench.serve_stack`) with the real
default model from data/models (converted first if missing), loaded on both
runtimes, at generation.max_concurrency 1 (what a CPU box runs). Then, with
the same chat prompts, greedy:

1. ONNX (int8) against torch, both by direct gRPC StreamText; target: ONNX
   at least 1.5x torch in tokens per second.
2. On ONNX, Envoy's REST SSE stream (POST /v1/text:stream, plain HTTP) against
   direct gRPC StreamText; target: SSE within 5% of direct.

Tokens are the final message's usage.output_tokens; time to first token (TTFT)
is the time to the first message that carries text; tokens per second is
output tokens over the whole stream's time (decode tok/s leaves out the TTFT).
Each prompt runs `--repeats` times per variant, the variants in alternating
order; the tables give medians.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

from bench.common import (
    REPO_ROOT,
    Endpoints,
    heading,
    load_average,
    machine_facts,
    median,
    running_stack,
    stop_on_sigterm,
    table,
)
from pluggably.v1 import common_pb2, text_service_pb2, text_service_pb2_grpc

MODEL_ID = "smollm2-135m-instruct"
RUNTIME_TARGET = "ONNX at least 1.5x torch"
RUNTIME_TARGET_RATIO = 1.5
SSE_TARGET = "SSE within 5% of direct"
SSE_TARGET_FRACTION = 0.05
PROMPTS = (
    "Write a short story about a robot who learns to paint.",
    "Explain, step by step, how a rainbow forms.",
    "Give five tips for staying productive when working from home, with one sentence on each.",
)


@dataclass(frozen=True)
class Sample:
    output_tokens: int
    total_s: float
    ttft_s: float
    runtime: str
    device: str

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.total_s

    @property
    def decode_tokens_per_s(self) -> float:
        decode_s = self.total_s - self.ttft_s
        return (self.output_tokens - 1) / decode_s if decode_s > 0 and self.output_tokens > 1 else float("nan")


class GenerationFailed(Exception):
    pass


Variant = Callable[[str], Sample]


class Clients:
    def __init__(self, endpoints: Endpoints, max_output_tokens: int) -> None:
        self._max_output_tokens = max_output_tokens
        self._channel = grpc.insecure_channel(endpoints.grpc_direct)
        self._text = text_service_pb2_grpc.TextServiceStub(self._channel)
        self._http = httpx.Client(base_url=f"http://{endpoints.envoy_plain}", timeout=httpx.Timeout(300.0))

    def close(self) -> None:
        self._channel.close()
        self._http.close()

    def grpc_stream(self, runtime: int) -> Variant:
        def run(prompt: str) -> Sample:
            request = text_service_pb2.GenerateTextRequest(
                model=common_pb2.ModelSelection(id=MODEL_ID, runtime=runtime),
                messages=[text_service_pb2.ChatMessage(role="user", content=prompt)],
                max_output_tokens=self._max_output_tokens,
                temperature=0.0,
            )
            started = time.perf_counter()
            ttft = None
            first = last = None
            for message in self._text.StreamText(request, timeout=300):
                if ttft is None and message.text:
                    ttft = time.perf_counter() - started
                first = first or message
                last = message
            total = time.perf_counter() - started
            if first is None or last is None or ttft is None:
                raise GenerationFailed("the stream carried no text")
            if last.finish_reason == common_pb2.FINISH_REASON_ERROR:
                raise GenerationFailed(f"generation failed: {last.error.message}")
            served = common_pb2.Runtime.Name(first.served_by.runtime)
            return Sample(last.usage.output_tokens, total, ttft, served, first.served_by.device)

        return run

    def sse_stream(self, runtime: int) -> Variant:
        def run(prompt: str) -> Sample:
            body = {
                "model": {"id": MODEL_ID, "runtime": common_pb2.Runtime.Name(runtime)},
                "messages": [{"role": "user", "content": prompt}],
                "maxOutputTokens": self._max_output_tokens,
                "temperature": 0,
            }
            started = time.perf_counter()
            ttft = None
            events: list[dict[str, object]] = []
            with self._http.stream("POST", "/v1/text:stream", json=body) as response:
                if response.status_code != 200:
                    raise GenerationFailed(f"HTTP {response.status_code}: {response.read()[:300]!r}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line[5:])
                    if ttft is None and event.get("text"):
                        ttft = time.perf_counter() - started
                    events.append(event)
            total = time.perf_counter() - started
            if not events or ttft is None:
                raise GenerationFailed("the stream carried no text")
            first, last = events[0], events[-1]
            if last.get("finishReason") == "FINISH_REASON_ERROR":
                raise GenerationFailed(f"generation failed: {last.get('error')}")
            served = first.get("servedBy")
            served = served if isinstance(served, dict) else {}
            usage = last.get("usage")
            tokens = int(usage.get("outputTokens", 0)) if isinstance(usage, dict) else 0
            return Sample(tokens, total, ttft, str(served.get("runtime")), str(served.get("device")))

        return run


def run_comparison(variants: dict[str, Variant], prompts: tuple[str, ...], repeats: int) -> dict[str, list[Sample]]:
    """Every prompt `repeats` times on every variant, the variants' order alternating."""
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(repeats):
        for index, prompt in enumerate(prompts):
            order = names if (repeat + index) % 2 == 0 else names[::-1]
            for name in order:
                sample = variants[name](prompt)
                samples[name].append(sample)
                print(
                    f"  {name:<22} repeat {repeat + 1} prompt {index + 1}: {sample.output_tokens:3d} tokens, "
                    f"{sample.tokens_per_s:6.1f} tok/s, TTFT {sample.ttft_s * 1000:7.1f} ms",
                    flush=True,
                )
    return samples


def summary_rows(samples: dict[str, list[Sample]]) -> list[list[str]]:
    rows = []
    for name, runs in samples.items():
        rates = [s.tokens_per_s for s in runs]
        ttfts = [s.ttft_s * 1000 for s in runs]
        rows.append(
            [
                name,
                f"{runs[0].runtime} / {runs[0].device}",
                str(len(runs)),
                f"{median([s.output_tokens for s in runs]):.0f}",
                f"{median(rates):.1f}",
                f"{min(rates):.1f}-{max(rates):.1f}",
                f"{median([s.decode_tokens_per_s for s in runs]):.1f}",
                f"{median(ttfts):.1f}",
                f"{min(ttfts):.1f}-{max(ttfts):.1f}",
            ]
        )
    return rows


SUMMARY_HEADERS = [
    "variant",
    "served by",
    "runs",
    "out tokens",
    "tok/s",
    "tok/s range",
    "decode tok/s",
    "TTFT ms",
    "TTFT range",
]


def warm_up(variants: dict[str, Variant], count: int) -> None:
    for name, variant in variants.items():
        for _ in range(count):
            variant(PROMPTS[0])
        print(f"  warmed up {name} ({count} run{'s' if count != 1 else ''})", flush=True)


METRICS: tuple[tuple[str, Callable[[Sample], float]], ...] = (
    ("tok/s", lambda s: s.tokens_per_s),
    ("decode tok/s", lambda s: s.decode_tokens_per_s),
    ("TTFT ms", lambda s: s.ttft_s * 1000),
)
Target = tuple[str, Callable[[float], bool]]


def print_comparison(samples: dict[str, list[Sample]], a: str, b: str, targets: dict[str, Target]) -> None:
    """Medians of `a` and `b`, their ratio, and the median of the ratios of paired runs (same prompt, back to back)."""
    rows = []
    for label, get in METRICS:
        median_a = median([get(x) for x in samples[a]])
        median_b = median([get(x) for x in samples[b]])
        ratio = median_a / median_b
        paired = median([get(x) / get(y) for x, y in zip(samples[a], samples[b], strict=True)])
        target, meets = targets.get(label, ("(information)", None))
        verdict = "-" if meets is None else ("yes" if meets(ratio) else "NO")
        rows.append([label, f"{median_a:.1f}", f"{median_b:.1f}", f"{ratio:.2f}x", f"{paired:.2f}x", target, verdict])
    print(table(["median", a, b, f"{a} / {b}", "paired runs", "target", "meets"], rows))


def compare_runtimes(clients: Clients, args: argparse.Namespace) -> None:
    onnx, torch = "ONNX", "torch"
    variants = {
        onnx: clients.grpc_stream(common_pb2.RUNTIME_ONNX),
        torch: clients.grpc_stream(common_pb2.RUNTIME_TORCH),
    }
    print(heading("1. Runtimes: ONNX (int8) vs torch, both by direct gRPC StreamText"), flush=True)
    warm_up(variants, args.warmup)
    samples = run_comparison(variants, PROMPTS[: args.prompts], args.repeats)
    print()
    print(table(SUMMARY_HEADERS, summary_rows(samples)))
    print()
    ratio = RUNTIME_TARGET_RATIO
    print_comparison(samples, onnx, torch, {"tok/s": (f">= {ratio:.2f}x", lambda r: r >= ratio)})
    print(f"target: {RUNTIME_TARGET}, in tokens per second (ratio of the medians)")


def compare_sse(clients: Clients, args: argparse.Namespace) -> None:
    direct, sse = "gRPC direct", "SSE via Envoy"
    variants = {direct: clients.grpc_stream(common_pb2.RUNTIME_ONNX), sse: clients.sse_stream(common_pb2.RUNTIME_ONNX)}
    print(heading("2. Streaming paths on ONNX: Envoy REST SSE (plain HTTP) vs direct gRPC StreamText"), flush=True)
    warm_up(variants, args.warmup)
    samples = run_comparison(variants, PROMPTS[: args.prompts], args.repeats)
    print()
    print(table(SUMMARY_HEADERS, summary_rows(samples)))
    print()
    low, high = 1 - SSE_TARGET_FRACTION, 1 + SSE_TARGET_FRACTION
    targets: dict[str, Target] = {
        "tok/s": (f">= {low:.2f}x", lambda r: r >= low),
        "TTFT ms": (f"<= {high:.2f}x", lambda r: r <= high),
    }
    print_comparison(samples, sse, direct, targets)
    print(f"target: {SSE_TARGET}, in tokens per second and TTFT (ratio of the medians)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.text",
        description=__doc__.split("\n\n")[0],
        epilog=f"Targets: {RUNTIME_TARGET}; {SSE_TARGET}.",
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs of each prompt per variant")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help=f"prompts used, 1 to {len(PROMPTS)}")
    parser.add_argument("--max-output-tokens", type=int, default=64, help="tokens per generation")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up generations per variant")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="generation.threads (0: each runtime chooses; 1 steadies figures on a loaded box)",
    )
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "data" / "models")
    parser.add_argument("--start-timeout", type=float, default=900.0, help="seconds to wait for the server")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's logs and data folder")
    parser.add_argument("--skip-runtimes", action="store_true", help="skip part 1 (ONNX vs torch)")
    parser.add_argument("--skip-sse", action="store_true", help="skip part 2 (SSE vs direct)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.max_output_tokens < 1 or args.warmup < 0 or not 1 <= args.prompts <= len(PROMPTS):
        parser.error("--repeats and --max-output-tokens must be at least 1, --prompts 1 to 3, --warmup 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    print("Pluggably text benchmark")
    print(machine_facts())
    print(
        f"server:    own process, {MODEL_ID} on onnx and torch, generation.max_concurrency 1, "
        f"threads {args.threads or 'runtime default'}; {args.max_output_tokens} output tokens, greedy; "
        f"{args.prompts} prompts x {args.repeats} repeats per variant"
    )
    print(f"targets:   {RUNTIME_TARGET}; {SSE_TARGET}")
    sys.stdout.flush()
    serve_args = [
        "--models-dir",
        str(args.models_dir.resolve()),
        "--prepare-default-model",
        "--default-model",
        MODEL_ID,
        "--preload",
        MODEL_ID,
        "--all-runtimes",
        "--max-concurrency",
        "1",
        "--max-queue",
        "8",
        "--threads",
        str(args.threads),
    ]
    started = time.perf_counter()
    with running_stack(serve_args, args.start_timeout, args.keep_logs) as endpoints:
        print(f"server ready in {time.perf_counter() - started:.1f} s (both runtimes loaded)", flush=True)
        clients = Clients(endpoints, args.max_output_tokens)
        try:
            if not args.skip_runtimes:
                compare_runtimes(clients, args)
            if not args.skip_sse:
                compare_sse(clients, args)
        finally:
            clients.close()
    print(f"\ntotal {time.perf_counter() - started:.1f} s; load average now {load_average()}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
