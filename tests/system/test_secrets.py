"""A hub that echoes the gateway's credentials back leaks them nowhere (SYS-NFR-001).

The gateway runs as an operator runs it (`pluggably run`: server and Envoy, the Hugging Face token in the
environment, logging at DEBUG). A fake hub answers its downloads by sending the `Authorization` header back in every
way a careless proxy or mirror does: an error header, a JSON body, a fragment of the token, a redirect's URL, on the
metadata API and on a file. Then every place a secret could land is searched for the token and for every 12-character
piece of it: the log, the REST API through Envoy (the list and each operation), the CLI's output (`models pull`,
`operations list --json`), the database files, and Envoy's environment.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from pathlib import Path
from urllib.parse import unquote

import httpx

from tests.support.fake_hf_hub import FakeHub
from tests.support.file_server import Fault
from tests.support.processes import child_pids, cli, cli_env, pluggably_run, serving, wait_for

TOKEN = "hf_" + secrets.token_urlsafe(24)
BOTH = frozenset({"GET", "HEAD"})
# repo -> (fault key, fault): the metadata API (key: the repo) or one file's bytes (key: repo/file).
ECHOES = {
    "org/api-header": ("org/api-header", Fault(status=403, echo="header", methods=BOTH)),
    "org/api-body": ("org/api-body", Fault(status=400, echo="body", methods=BOTH)),
    "org/api-fragment": ("org/api-fragment", Fault(status=403, echo="fragment", methods=BOTH)),
    "org/api-redirect": ("org/api-redirect", Fault(status=302, echo="redirect", methods=BOTH)),
    "org/file-header": ("org/file-header/config.json", Fault(status=403, echo="header")),
    "org/file-redirect": ("org/file-redirect/config.json", Fault(status=302, echo="redirect")),
}


def leaks(text: str, secret: str = TOKEN, length: int = 12) -> list[str]:
    """Every piece of `secret` (`length` characters or the whole) found in `text`."""
    return [secret[i : i + length] for i in range(len(secret) - length + 1) if secret[i : i + length] in text]


def read_everything(folder: Path) -> str:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()).decode(errors="replace")


async def test_sys_nfr_001_echoed_credentials_reach_no_log_api_cli_database_or_envoy(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    seen: dict[str, str] = {}
    log_file = tmp_path / "gateway.log"
    with FakeHub(tokens=[TOKEN]) as hub:
        for repo, (key, fault) in ECHOES.items():
            hub.add_repo(repo, {"config.json": b"{}"})
            hub.set_fault(key, fault)
        with (
            log_file.open("wb") as stderr,
            pluggably_run(
                tmp_path,
                tiny_models_dir,
                cli_env(PLUGGABLY_DOWNLOADS__HF_TOKEN=TOKEN),
                stderr=stderr,
                downloads={"hf_endpoint": hub.endpoint},
                logging={"level": "DEBUG"},
            ) as (gateway, settings),
        ):
            rest = f"http://127.0.0.1:{settings['envoy']['http_port']}"
            await asyncio.to_thread(wait_for, lambda: serving(f"{rest}/healthz"), 60, "/healthz to turn 200")
            config = ["--config", settings["config_file"]]
            for repo in ECHOES:
                pulled = await cli(*config, "models", "pull", f"hf:{repo}")
                assert pulled.code == 1, pulled  # the download failed, as the hub refused it
                seen[f"pull {repo}"] = pulled.stdout + pulled.stderr
            listed = await cli(*config, "operations", "list", "--json")
            assert listed.code == 0, listed
            seen["operations list --json"] = listed.stdout + listed.stderr
            async with httpx.AsyncClient(base_url=rest) as client:
                operations = (await client.get("/v1/operations")).json()["operations"]
                seen["GET /v1/operations"] = json.dumps(operations)
                for operation in operations:
                    seen[f"GET /v1/{operation['name']}"] = (await client.get(f"/v1/{operation['name']}")).text
            (envoy,) = child_pids(gateway.pid)
            environ = await asyncio.to_thread(Path(f"/proc/{envoy}/environ").read_bytes)
            seen["envoy environment"] = environ.decode(errors="replace")
            gateway.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(gateway.wait, 30) == 0
        # The gateway did send the token, and each echo came back to it.
        asked_with_token = {
            repo for repo in ECHOES for r in hub.requests if r.authorization and repo in unquote(r.path)
        }
        assert asked_with_token == set(ECHOES)
        assert all(r.authorization == f"Bearer {TOKEN}" for r in hub.requests if r.authorization)
    seen["gateway log"] = log_file.read_text()
    seen["database"] = read_everything(Path(settings["data_dir"]))

    assert len(operations) == len(ECHOES)
    errors = " ".join(o["error"]["message"] for o in operations)
    assert errors.count("[REDACTED]") >= 4, errors  # header, body, fragment and the api redirect's URL
    assert seen["envoy environment"] == ""
    assert {where: leaks(text) for where, text in seen.items() if leaks(text)} == {}
