"""Transport benchmark: what Envoy (transcoding, SSE, TLS) adds to a call.

    python -m bench.transport [--unary-calls N] [--stream-calls N] [--concurrency 1 16] ...

Starts the gateway with the test suite's tiny models in a process of its own
(`bench.serve_stack`), then drives it from here over five paths: gRPC direct
to the server (the baseline), gRPC through Envoy, REST/JSON through Envoy, and
the two Envoy paths again over TLS. Two calls: unary `ModelService.GetModel`
(no model compute) and server-streaming `TextService.StreamText` (tiny chat
model, greedy, a few tokens, timed to the end of the stream; over REST an SSE
stream read to its end). Each at each concurrency, the paths taken in turns
(`--rounds`) so that drifting machine load falls on all of them alike.

The clients: grpc.aio for gRPC; for REST a minimal HTTP/1.1 keep-alive client
(`bench.raw_http`) whose own CPU cost per call is about grpc.aio's (or less),
so that the REST rows measure Envoy, not the client.

Reports p50/p99 latency, requests per second, and each path's p50 against the
baseline's, next to the target: Envoy adds at most 0.5 ms at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench import raw_http
from bench.common import (
    Endpoints,
    heading,
    load_average,
    machine_facts,
    percentile,
    running_stack,
    stop_on_sigterm,
    table,
)
from pluggably.v1 import (
    common_pb2,
    model_service_pb2,
    model_service_pb2_grpc,
    text_service_pb2,
    text_service_pb2_grpc,
)

# The test suite's tiny chat model (tests/support/tiny_models.py): it never
# stops on its own, so every stream runs to max_output_tokens.
CHAT_MODEL_ID = "tiny-llama-chat"
ENVOY_ADDED_P50_TARGET_MS = 0.5
ENVOY_TARGET = "Envoy adds at most 0.5 ms at p50"
PROMPT = "Tell me about the gateway."
CALL_TIMEOUT_S = 60.0
GET_MODEL_PATH = f"/v1/models/{CHAT_MODEL_ID}"
STREAM_PATH = "/v1/text:stream"

Call = Callable[[], Awaitable[None]]


class CallFailed(Exception):
    pass


@dataclass
class Route:
    """One way to reach the server."""

    name: str
    protocol: str  # "grpc" or "rest"
    address: str  # host:port
    tls: bool
    baseline: bool = False


@dataclass
class Result:
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    calls: int = 0
    errors: int = 0
    first_error: str = ""

    def add(self, other: Result) -> None:
        self.latencies_s += other.latencies_s
        self.elapsed_s += other.elapsed_s
        self.client_cpu_s += other.client_cpu_s
        self.calls += other.calls
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error


def paths(endpoints: Endpoints) -> list[Route]:
    return [
        Route("gRPC direct", "grpc", endpoints.grpc_direct, tls=False, baseline=True),
        Route("gRPC via Envoy", "grpc", endpoints.envoy_plain, tls=False),
        Route("REST via Envoy", "rest", endpoints.envoy_plain, tls=False),
        Route("gRPC via Envoy, TLS", "grpc", endpoints.envoy_tls, tls=True),
        Route("REST via Envoy, TLS", "rest", endpoints.envoy_tls, tls=True),
    ]


def stream_request(max_output_tokens: int) -> text_service_pb2.GenerateTextRequest:
    return text_service_pb2.GenerateTextRequest(
        model=common_pb2.ModelSelection(id=CHAT_MODEL_ID),
        messages=[text_service_pb2.ChatMessage(role="user", content=PROMPT)],
        max_output_tokens=max_output_tokens,
        temperature=0.0,
    )


def stream_body(max_output_tokens: int) -> dict[str, object]:
    return {
        "model": {"id": CHAT_MODEL_ID},
        "messages": [{"role": "user", "content": PROMPT}],
        "maxOutputTokens": max_output_tokens,
        "temperature": 0,
    }


class Clients:
    """The open client of one path (one gRPC channel, or one pool of HTTP/1.1 connections) and its two calls."""

    def __init__(self, path: Route, cert: bytes, cert_file: Path, max_output_tokens: int) -> None:
        self.path = path
        self._max_output_tokens = max_output_tokens
        self._channel: grpc.aio.Channel | None = None
        self._http: raw_http.Pool | None = None
        if path.protocol == "grpc":
            if path.tls:
                credentials = grpc.ssl_channel_credentials(root_certificates=cert)
                self._channel = grpc.aio.secure_channel(path.address, credentials)
            else:
                self._channel = grpc.aio.insecure_channel(path.address)
            self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)
            self._text = text_service_pb2_grpc.TextServiceStub(self._channel)
            self._get_model = model_service_pb2.GetModelRequest(name=f"models/{CHAT_MODEL_ID}")
            self._stream_request = stream_request(max_output_tokens)
        else:
            # One connection per concurrent call (the pool opens one whenever none is idle).
            host, port = path.address.rsplit(":", 1)
            context = ssl.create_default_context(cafile=str(cert_file)) if path.tls else None
            self._http = raw_http.Pool(host, int(port), context, server_hostname="localhost")
            self._get_model_http = raw_http.encode_request("GET", GET_MODEL_PATH, self._http.host_header)
            body = json.dumps(stream_body(max_output_tokens)).encode()
            self._stream_http = raw_http.encode_request("POST", STREAM_PATH, self._http.host_header, body)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        if self._http is not None:
            await self._http.close()

    def call(self, kind: str) -> Call:
        if kind == "unary":
            return self._grpc_unary if self._channel is not None else self._rest_unary
        return self._grpc_stream if self._channel is not None else self._rest_stream

    async def _grpc_unary(self) -> None:
        model = await self._models.GetModel(self._get_model, timeout=CALL_TIMEOUT_S)
        if not model.name:
            raise CallFailed("GetModel returned no name")

    async def _rest_unary(self) -> None:
        assert self._http is not None
        async with asyncio.timeout(CALL_TIMEOUT_S), self._http.connection() as connection:
            response = await connection.request(self._get_model_http)
        if response.status != 200:
            raise CallFailed(f"GET {GET_MODEL_PATH}: HTTP {response.status} {response.body[:200]!r}")
        if not json.loads(response.body).get("name"):
            raise CallFailed("GetModel returned no name")

    async def _grpc_stream(self) -> None:
        last = None
        async for message in self._text.StreamText(self._stream_request, timeout=CALL_TIMEOUT_S):
            last = message
        self._check_end(last is not None and last.usage.output_tokens, last is not None and last.finish_reason)

    async def _rest_stream(self) -> None:
        """The SSE stream read to its end (the last, empty chunk); only the last event is parsed."""
        assert self._http is not None
        events, last_data = 0, b"{}"
        async with asyncio.timeout(CALL_TIMEOUT_S), self._http.connection() as connection:
            status, headers = await connection.send(self._stream_http)
            body = connection.body(status, headers)
            if status != 200:
                text = b"".join([piece async for piece in body])[:200]
                raise CallFailed(f"POST {STREAM_PATH}: HTTP {status} {text!r}")
            async for data in raw_http.sse_events(body):
                events, last_data = events + 1, data
        last = json.loads(last_data)
        if "finishReason" not in last:
            raise CallFailed(f"the last of {events} SSE events has no finishReason: {last_data[:200]!r}")
        usage = last.get("usage")
        tokens = usage.get("outputTokens", 0) if isinstance(usage, dict) else 0
        reason = last.get("finishReason")
        self._check_end(tokens, common_pb2.FinishReason.Value(reason) if isinstance(reason, str) else 0)

    def _check_end(self, output_tokens: object, finish_reason: object) -> None:
        if finish_reason != common_pb2.FINISH_REASON_LENGTH or output_tokens != self._max_output_tokens:
            raise CallFailed(f"stream ended with finish_reason {finish_reason}, {output_tokens} output tokens")


async def run_calls(call: Call, calls: int, concurrency: int) -> Result:
    """`calls` calls from `concurrency` workers, each timed alone."""
    result = Result()
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                await call()
            except Exception as err:  # counted and reported, the benchmark goes on
                result.errors += 1
                result.first_error = result.first_error or f"{type(err).__name__}: {err}"[:300]
            else:
                result.latencies_s.append(time.perf_counter() - started)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, calls))))
    result.elapsed_s = time.perf_counter() - started
    # CPU of this (client) process, all its threads: what the client library costs per call.
    result.client_cpu_s = time.process_time() - cpu_started
    result.calls = calls
    return result


async def measure(
    endpoints: Endpoints, kind: str, concurrency: int, calls: int, warmup: int, rounds: int, max_output_tokens: int
) -> dict[str, Result]:
    """Every path, in `rounds` turns of `calls / rounds` calls each, after `warmup` calls each."""
    cert = endpoints.cert_file.read_bytes()
    clients = [Clients(p, cert, endpoints.cert_file, max_output_tokens) for p in paths(endpoints)]
    results = {c.path.name: Result() for c in clients}
    try:
        for client in clients:
            await run_calls(client.call(kind), max(warmup, min(concurrency, calls)), concurrency)
        per_round = [calls // rounds + (1 if i < calls % rounds else 0) for i in range(rounds)]
        for turn, n in enumerate(per_round):
            # Alternate the order so no path always runs first or last in a round.
            order = clients if turn % 2 == 0 else clients[::-1]
            for client in order:
                results[client.path.name].add(await run_calls(client.call(kind), n, concurrency))
    finally:
        for client in clients:
            await client.close()
    return results


def ms(value_s: float) -> str:
    return f"{value_s * 1000:.2f}"


def report(title: str, results: dict[str, Result], all_paths: list[Route]) -> list[tuple[str, float]]:
    """Prints one table; returns (path, added p50 ms) for each Envoy path."""
    baseline_name = next(p.name for p in all_paths if p.baseline)
    base_p50 = percentile(results[baseline_name].latencies_s, 50)
    rows, added = [], []
    for path in all_paths:
        result = results[path.name]
        p50 = percentile(result.latencies_s, 50)
        p99 = percentile(result.latencies_s, 99)
        rps = len(result.latencies_s) / result.elapsed_s if result.elapsed_s else float("nan")
        if path.baseline:
            ratio, plus, target, meets = "1.00", "-", "baseline", "-"
        else:
            delta_ms = (p50 - base_p50) * 1000
            added.append((path.name, delta_ms))
            ratio, plus = f"{p50 / base_p50:.2f}", f"{delta_ms:+.2f}"
            target = f"<= +{ENVOY_ADDED_P50_TARGET_MS:.2f}"
            meets = "yes" if delta_ms <= ENVOY_ADDED_P50_TARGET_MS else "NO"
        cpu = ms(result.client_cpu_s / result.calls) if result.calls else "-"
        rows.append([path.name, ms(p50), ms(p99), f"{rps:.0f}", ratio, plus, target, meets, cpu, str(result.errors)])
    print(heading(title))
    headers = [
        "path",
        "p50 ms",
        "p99 ms",
        "req/s",
        "p50 / direct",
        "added p50 ms",
        "target ms",
        "meets",
        "client CPU ms/call",
        "errors",
    ]
    print(table(headers, rows))
    for path in all_paths:
        if results[path.name].first_error:
            print(f"  first error on {path.name}: {results[path.name].first_error}")
    return added


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.transport", description=__doc__.split("\n\n")[0], epilog=f"Target: {ENVOY_TARGET}."
    )
    parser.add_argument("--unary-calls", type=int, default=1000, help="measured unary calls per path and concurrency")
    parser.add_argument("--stream-calls", type=int, default=100, help="measured streams per path and concurrency")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up unary calls per path before measuring")
    parser.add_argument("--stream-warmup", type=int, default=10, help="warm-up streams per path before measuring")
    parser.add_argument("--rounds", type=int, default=10, help="turns the paths are measured in, interleaved")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16], help="concurrent calls in flight")
    parser.add_argument("--max-output-tokens", type=int, default=16, help="tokens per stream")
    parser.add_argument("--max-concurrency", type=int, default=4, help="the server's generation.max_concurrency")
    parser.add_argument("--tiny-models-dir", type=Path, help="reuse (or build once into) this folder")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds to wait for the server")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's logs and data folder")
    args = parser.parse_args(argv)
    if min(args.unary_calls, args.stream_calls, args.rounds, *args.concurrency) < 1:
        parser.error("counts, rounds and concurrency must be at least 1")
    return args


async def run(args: argparse.Namespace, endpoints: Endpoints) -> None:
    all_paths = paths(endpoints)
    added: list[tuple[str, str, float]] = []
    plans = [
        ("unary", args.unary_calls, "unary ModelService.GetModel"),
        ("stream", args.stream_calls, f"streaming TextService.StreamText, {args.max_output_tokens} tokens, greedy"),
    ]
    for kind, calls, what in plans:
        for concurrency in args.concurrency:
            started = time.perf_counter()
            warmup = args.warmup if kind == "unary" else args.stream_warmup
            results = await measure(endpoints, kind, concurrency, calls, warmup, args.rounds, args.max_output_tokens)
            title = f"{what}; concurrency {concurrency}; {calls} calls per path"
            for name, delta in report(title, results, all_paths):
                added.append((f"{kind}, c={concurrency}", name, delta))
            print(f"({time.perf_counter() - started:.1f} s)")
            sys.stdout.flush()

    print(heading(f"Summary against the target: {ENVOY_TARGET}"))
    rows = [
        [f"{name}, {case}", f"{delta:+.2f}", "yes" if delta <= ENVOY_ADDED_P50_TARGET_MS else "NO"]
        for case, name, delta in added
    ]
    print(table(["Envoy path, call", "added p50 ms", f"<= +{ENVOY_ADDED_P50_TARGET_MS} ms"], rows))
    met = sum(1 for _, _, d in added if d <= ENVOY_ADDED_P50_TARGET_MS)
    print(f"{met} of {len(added)} Envoy paths within the target.")
    print(
        "Latencies are end to end as seen by this client process, so every row also carries its client's own\n"
        "cost: 'client CPU ms/call' shows it (grpc.aio's C core for gRPC; for REST a minimal HTTP/1.1 client,\n"
        "bench.raw_http). The clients, the server and Envoy share this machine's CPUs; load average now\n"
        f"{load_average()}."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    print("Pluggably transport benchmark")
    print(machine_facts())
    print(
        f"server:    own process, tiny model {CHAT_MODEL_ID}, generation.max_concurrency {args.max_concurrency}; "
        "clients: grpc.aio (one channel per path), bench.raw_http (HTTP/1.1 keep-alive, one connection per concurrent "
        "call)"
    )
    print(f"target:    {ENVOY_TARGET} (baseline: gRPC direct, same run)")
    sys.stdout.flush()
    serve_args = [
        "--tiny-models",
        "--default-model",
        CHAT_MODEL_ID,
        "--preload",
        CHAT_MODEL_ID,
        "--max-concurrency",
        str(args.max_concurrency),
        "--max-queue",
        "64",
    ]
    started = time.perf_counter()
    if args.tiny_models_dir:
        serve_args += ["--models-dir", str(args.tiny_models_dir.resolve())]
    with running_stack(serve_args, args.start_timeout, args.keep_logs) as endpoints:
        print(f"server ready in {time.perf_counter() - started:.1f} s")
        asyncio.run(run(args, endpoints))
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
