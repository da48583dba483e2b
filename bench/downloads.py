"""Download benchmark: a model download through Pluggably against a plain copy of the same file.

    python -m bench.downloads [--size-mb 256] [--rounds 5] [--no-sha256] [--no-curl] ...

Writes one GGUF model file (`tests.support.tiny_models.write_tiny_gguf`, one big tensor of zeros) into a
temporary folder and serves it from a local HTTP server in a process of its own (`bench.file_server`: bodies
go out with sendfile(2), from the page cache). The gateway runs in a process of its own too
(`bench.serve_stack`). Then, in rounds, each path fetches the same URL once, the order rotating from round to
round so that drifting machine load falls on all of them alike:

* read and discard: stdlib `http.client`, the body read into a 1 MiB buffer and dropped. No disk: what the file
  server and loopback TCP deliver, the ceiling every other path sits under.
* plain copy: the same client, each 1 MiB written to a file (unbuffered) beside the gateway's models folder,
  on the same disk. Timed to the file's close, and again after `fsync` ("plain copy + fsync"): the same
  durability a Pluggably download has (it fsyncs the files before it moves them into place).
* curl -o: the same URL with curl, when installed (no fsync).
* Pluggably: `ModelService.DownloadModel` with the URL (and, unless `--no-sha256`, its SHA-256, which the
  gateway hashes as the bytes arrive) over gRPC to the server directly, timed from the call until
  `OperationWatchService.WatchOperation` streams the operation done: resolving (HEAD), transfer, hash check,
  fsync, reading the model's header, the move into the models folder and the registration. A fresh model id
  each round; `DeleteModel` afterwards (untimed) keeps the disk use bounded.
* with `--fetcher`, a diagnostic: the gateway's transfer loop alone (`pluggably.sources.http.HttpFetcher`:
  urllib3 in worker threads, hashing as the gateway does, no fsync) in this process: what the transfer costs without
  the operation, gRPC and the gateway's other work around it.

Reports MB/s (10^6 bytes per second) per path and round, the median of the rounds, the CPU seconds the file
server and the client (for Pluggably: the gateway process) spent, and Pluggably's median against each
baseline's: the target is at least 0.90 of a plain copy.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench.common import (
    Endpoints,
    StackProcess,
    heading,
    load_average,
    machine_facts,
    median,
    print_log_tail,
    stop_on_sigterm,
    table,
)
from bench.file_server import FileServerProcess
from pluggably.v1 import (
    model_service_pb2,
    model_service_pb2_grpc,
    operation_watch_service_pb2,
    operation_watch_service_pb2_grpc,
)

TARGET_RATIO = 0.90
TARGET = "a download through Pluggably reaches at least 90% of a plain copy's throughput"
FILE_NAME = "bench-model.gguf"
READ_BUFFER_BYTES = 1 << 20
CALL_TIMEOUT_S = 600.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

PATH_DISCARD = "read and discard (no disk)"
PATH_PLAIN = "plain copy (http.client)"
PATH_PLAIN_FSYNC = "plain copy + fsync"
PATH_CURL = "curl -o"
PATH_PLUGGABLY = "Pluggably DownloadModel"
PATH_FETCHER = "HttpFetcher in-process (diagnostic)"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (from /proc); NaN where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Sample:
    """One fetch: seconds from the start to the end, and where the time and the CPU went."""

    seconds: float
    client_cpu_s: float = float("nan")
    server_cpu_s: float = float("nan")
    transfer_s: float = float("nan")  # until the bytes were all in (Pluggably: until its VERIFYING stage)


@dataclass
class Series:
    name: str
    samples: list[Sample] = field(default_factory=list)

    def rates(self, size: int) -> list[float]:
        return [size / s.seconds / 1e6 for s in self.samples]


class Fetches:
    """The paths, each a method that fetches the file once and returns its Sample."""

    def __init__(
        self,
        url: str,
        size: int,
        sha256: str,
        copies: Path,
        endpoints: Endpoints,
        file_server_pid: int,
    ) -> None:
        self.url = url
        self.size = size
        self.sha256 = sha256
        self.copies = copies
        self.endpoints = endpoints
        self.file_server_pid = file_server_pid
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        self.channel = grpc.insecure_channel(endpoints.grpc_direct)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.watch = operation_watch_service_pb2_grpc.OperationWatchServiceStub(self.channel)
        self.downloads = 0
        self._buffer = memoryview(bytearray(READ_BUFFER_BYTES))

    def close(self) -> None:
        self.channel.close()

    def _get(self, sink: Callable[[memoryview], object]) -> int:
        """One GET on a fresh connection, the body handed to `sink` in pieces of up to 1 MiB."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=CALL_TIMEOUT_S)
        try:
            connection.request("GET", self.path, headers={"Accept-Encoding": "identity"})
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"GET {self.url}: HTTP {response.status}")
            received = 0
            while n := response.readinto(self._buffer):
                sink(self._buffer[:n])
                received += n
        finally:
            connection.close()
        if received != self.size:
            raise RuntimeError(f"GET {self.url}: {received} bytes, expected {self.size}")
        return received

    def discard(self) -> dict[str, Sample]:
        server_cpu, cpu = process_cpu_s(self.file_server_pid), time.process_time()
        started = time.perf_counter()
        self._get(lambda piece: None)
        seconds = time.perf_counter() - started
        sample = Sample(
            seconds,
            client_cpu_s=time.process_time() - cpu,
            server_cpu_s=process_cpu_s(self.file_server_pid) - server_cpu,
            transfer_s=seconds,
        )
        return {PATH_DISCARD: sample}

    def plain_copy(self) -> dict[str, Sample]:
        """One transfer, two samples: timed to the close, and to after fsync."""
        target = self.copies / FILE_NAME
        server_cpu, cpu = process_cpu_s(self.file_server_pid), time.process_time()
        started = time.perf_counter()
        try:
            with target.open("wb", buffering=0) as out:
                self._get(out.write)
                written = time.perf_counter()
                written_cpu, written_server_cpu = time.process_time(), process_cpu_s(self.file_server_pid)
                os.fsync(out.fileno())
            synced = time.perf_counter()
            synced_cpu = time.process_time()
        finally:
            target.unlink(missing_ok=True)
        plain = Sample(
            written - started,
            client_cpu_s=written_cpu - cpu,
            server_cpu_s=written_server_cpu - server_cpu,
            transfer_s=written - started,
        )
        fsynced = Sample(
            synced - started,
            client_cpu_s=synced_cpu - cpu,
            server_cpu_s=written_server_cpu - server_cpu,
            transfer_s=written - started,
        )
        return {PATH_PLAIN: plain, PATH_PLAIN_FSYNC: fsynced}

    def curl(self) -> dict[str, Sample]:
        target = self.copies / FILE_NAME
        server_cpu, cpu = process_cpu_s(self.file_server_pid), children_cpu_s()
        started = time.perf_counter()
        try:
            subprocess.run(
                ["curl", "--silent", "--show-error", "--fail", "--output", str(target), self.url],
                check=True,
                timeout=CALL_TIMEOUT_S,
            )
            seconds = time.perf_counter() - started
            if target.stat().st_size != self.size:
                raise RuntimeError(f"curl wrote {target.stat().st_size} bytes, expected {self.size}")
        finally:
            target.unlink(missing_ok=True)
        sample = Sample(
            seconds,
            client_cpu_s=children_cpu_s() - cpu,
            server_cpu_s=process_cpu_s(self.file_server_pid) - server_cpu,
            transfer_s=seconds,
        )
        return {PATH_CURL: sample}

    def fetcher(self) -> dict[str, Sample]:
        """The gateway's transfer loop alone, in this process: `HttpFetcher.fetch` hashing as the gateway does."""
        import asyncio

        from pluggably.core.models.ports import RemoteFile
        from pluggably.sources.http import HttpFetcher

        target = self.copies / (FILE_NAME + ".part")
        hasher = hashlib.sha256() if self.sha256 else None

        async def fetch() -> None:
            file = RemoteFile(path=FILE_NAME, size=self.size, url=self.url)
            await HttpFetcher().fetch(file, target, 0, hasher.update if hasher else lambda chunk: None)

        server_cpu, cpu = process_cpu_s(self.file_server_pid), time.process_time()
        started = time.perf_counter()
        try:
            asyncio.run(fetch())
            seconds = time.perf_counter() - started
            if target.stat().st_size != self.size or (hasher and hasher.hexdigest() != self.sha256):
                raise RuntimeError(f"HttpFetcher wrote {target.stat().st_size} bytes or a wrong hash")
        finally:
            target.unlink(missing_ok=True)
        sample = Sample(
            seconds,
            client_cpu_s=time.process_time() - cpu,
            server_cpu_s=process_cpu_s(self.file_server_pid) - server_cpu,
            transfer_s=seconds,
        )
        return {PATH_FETCHER: sample}

    def pluggably(self) -> dict[str, Sample]:
        self.downloads += 1
        model_id = f"bench-download-{self.downloads}"
        request = model_service_pb2.DownloadModelRequest(
            source=model_service_pb2.ModelSource(url=self.url), model_id=model_id, sha256=self.sha256
        )
        gateway_cpu, server_cpu = process_cpu_s(self.endpoints.pid), process_cpu_s(self.file_server_pid)
        started = time.perf_counter()
        transfer_s = float("nan")
        try:
            operation = self.models.DownloadModel(request, timeout=CALL_TIMEOUT_S)
            watch = operation_watch_service_pb2.WatchOperationRequest(name=operation.name)
            metadata = model_service_pb2.DownloadModelMetadata()
            for snapshot in self.watch.WatchOperation(watch, timeout=CALL_TIMEOUT_S):
                snapshot.metadata.Unpack(metadata)
                if math.isnan(transfer_s) and metadata.stage >= metadata.VERIFYING:
                    transfer_s = time.perf_counter() - started
                operation = snapshot
            seconds = time.perf_counter() - started
            gateway_cpu = process_cpu_s(self.endpoints.pid) - gateway_cpu
            server_cpu = process_cpu_s(self.file_server_pid) - server_cpu
            if not operation.done or operation.HasField("error"):
                raise RuntimeError(f"download {operation.name} failed: {operation.error.message or 'not done'}")
            model = model_service_pb2.Model()
            operation.response.Unpack(model)
            if model.size_bytes < self.size:
                raise RuntimeError(f"{model.name}: size_bytes {model.size_bytes}, expected at least {self.size}")
        finally:
            with contextlib.suppress(grpc.RpcError):
                self.models.DeleteModel(model_service_pb2.DeleteModelRequest(name=f"models/{model_id}"), timeout=60)
        return {PATH_PLUGGABLY: Sample(seconds, gateway_cpu, server_cpu, transfer_s)}


def fmt(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def report(series: dict[str, Series], size: int, rounds: int) -> None:
    names = list(series)
    print(heading(f"MB/s per round ({size / 1e6:.0f} MB file)"))
    rows = [[f"round {i + 1}", *(fmt(series[n].rates(size)[i], 0) for n in names)] for i in range(rounds)]
    print(table(["", *names], rows))

    print(heading("Median of the rounds"))
    plain = median(series[PATH_PLAIN].rates(size))
    rows = []
    for name in names:
        samples = series[name].samples
        rates = series[name].rates(size)
        mb_s = median(rates)
        cpu_label = "gateway" if name == PATH_PLUGGABLY else "client"
        rows.append(
            [
                name,
                fmt(mb_s, 0),
                f"{min(rates):.0f}-{max(rates):.0f}",
                fmt(median([s.seconds for s in samples]), 3),
                fmt(median([s.transfer_s for s in samples]), 3),
                fmt(mb_s / plain),
                f"{cpu_label} {fmt(median([s.client_cpu_s for s in samples]))}",
                fmt(median([s.server_cpu_s for s in samples])),
            ]
        )
    headers = ["path", "MB/s", "range", "seconds", "transfer s", "/ plain copy", "CPU s", "file server CPU s"]
    print(table(headers, rows))
    print(
        "seconds: start to end (Pluggably: DownloadModel called to operation done); transfer s: until the last byte\n"
        "was written (Pluggably: until the VERIFYING stage was seen). CPU s: of the client process (curl's own),\n"
        "or of the gateway process for Pluggably; file server CPU s: bench.file_server, sendfile included."
    )

    print(heading(f"Summary against the target: {TARGET}"))
    pluggably = median(series[PATH_PLUGGABLY].rates(size))
    rows = []
    for name in names:
        if name in (PATH_PLUGGABLY, PATH_DISCARD, PATH_FETCHER):
            continue
        baseline = median(series[name].rates(size))
        ratio = pluggably / baseline
        rows.append([name, fmt(baseline, 0), fmt(pluggably, 0), fmt(ratio), "yes" if ratio >= TARGET_RATIO else "NO"])
    print(table(["baseline", "baseline MB/s", "Pluggably MB/s", "ratio", f">= {TARGET_RATIO:.2f}"], rows))
    ceiling = median(series[PATH_DISCARD].rates(size))
    fastest = max(median(series[n].rates(size)) for n in names if n != PATH_DISCARD)
    print(
        f"Does the file server limit the figures? Read and discard (no disk) reaches {ceiling:.0f} MB/s, "
        f"{ceiling / fastest:.1f}x the\n"
        "fastest copy to disk; it, the clients and the gateway share this machine's CPUs. "
        f"Load average now {load_average()}."
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.downloads", description=__doc__.split("\n\n")[0], epilog=f"Target: {TARGET}."
    )
    parser.add_argument("--size-mb", type=int, default=256, help="size of the served model file, MB (10^6 bytes)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (each path fetches once a round)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument(
        "--no-sha256", dest="sha256", action="store_false", help="download without an expected hash (no hashing)"
    )
    parser.add_argument("--no-curl", dest="curl", action="store_false", help="leave the curl baseline out")
    parser.add_argument(
        "--fetcher",
        action="store_true",
        help="also time the gateway's transfer loop alone (pluggably.sources.http.HttpFetcher) in this process",
    )
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds to wait for the server")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's logs and data folder")
    args = parser.parse_args(argv)
    if args.size_mb < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--size-mb and --rounds must be at least 1, --warmup at least 0")
    if args.curl and shutil.which("curl") is None:
        print("curl not found: its baseline is left out", file=sys.stderr)
        args.curl = False
    return args


def write_model_file(folder: Path, size_bytes: int) -> tuple[Path, str]:
    """A GGUF model file of about `size_bytes`, and its SHA-256."""
    from tests.support.tiny_models import write_tiny_gguf

    path = write_tiny_gguf(folder / FILE_NAME, tensor_elements=max(16, size_bytes // 4))
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return path, digest.hexdigest()


def measure(args: argparse.Namespace, fetches: Fetches) -> dict[str, Series]:
    paths: list[Callable[[], dict[str, Sample]]] = [fetches.discard, fetches.plain_copy]
    if args.curl:
        paths.append(fetches.curl)
    if args.fetcher:
        paths.append(fetches.fetcher)
    paths.append(fetches.pluggably)
    series: dict[str, Series] = {}
    for turn in range(args.warmup + args.rounds):
        # Rotate the order so that no path always runs first or last in a round.
        shift = turn % len(paths)
        for fetch in paths[shift:] + paths[:shift]:
            for name, sample in fetch().items():
                if turn >= args.warmup:
                    series.setdefault(name, Series(name)).samples.append(sample)
        label = "warm-up" if turn < args.warmup else f"round {turn - args.warmup + 1} of {args.rounds}"
        print(f"  {label} done ({time.perf_counter() - STARTED:.0f} s)", flush=True)
    order = [PATH_DISCARD, PATH_PLAIN, PATH_PLAIN_FSYNC, PATH_CURL, PATH_FETCHER, PATH_PLUGGABLY]
    return {name: series[name] for name in order if name in series}


STARTED = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    print("Pluggably download benchmark")
    print(machine_facts())
    curl_version = ""
    if args.curl:
        curl_version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(
        "server:    bench.file_server (Python ThreadingHTTPServer, bodies by sendfile) and the gateway "
        "(bench.serve_stack), each in a process of its own; gRPC direct to the gateway"
    )
    print(f"clients:   stdlib http.client (1 MiB reads){'; ' + curl_version if args.curl else ''}")
    print(
        f"file:      {args.size_mb} MB GGUF, sha256 {'sent' if args.sha256 else 'not sent (no hashing)'}; "
        f"{args.rounds} rounds after {args.warmup} warm-up"
    )
    print(f"target:    {TARGET} (baselines measured in the same run)")
    sys.stdout.flush()

    work = Path(tempfile.mkdtemp(prefix="pluggably-bench-downloads-"))
    try:
        served, sha256 = write_model_file(work / "served", args.size_mb * 1_000_000)
        size = served.stat().st_size
        print(f"wrote {size} bytes in {time.perf_counter() - STARTED:.1f} s")
        stack = StackProcess(["--default-model", "none"], args.start_timeout, args.keep_logs)
        with FileServerProcess(served.parent) as files, stack as endpoints:
            print(f"servers ready in {time.perf_counter() - STARTED:.1f} s", flush=True)
            copies = stack.work_dir / "copies"  # beside the gateway's models folder: the same disk
            copies.mkdir()
            url = f"{files.base_url}/{FILE_NAME}"
            fetches = Fetches(url, size, sha256 if args.sha256 else "", copies, endpoints, files.pid)
            try:
                series = measure(args, fetches)
            except Exception:
                print_log_tail(stack.log_file)
                raise
            finally:
                fetches.close()
        report(series, size, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - STARTED:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
