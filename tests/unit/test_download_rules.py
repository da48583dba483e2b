"""What downloads accept: names and sources that stay inside the models directory (SYS-REQ-013, SYS-NFR-002)."""

from __future__ import annotations

import pytest

from pluggably.core.errors import ValidationError
from pluggably.core.models import ModelSource, SourceKind
from pluggably.core.models.downloads import (
    DownloadRequest,
    check_relative_path,
    default_model_id,
    git_blob_sha1,
    same_origin,
    validate_request,
)

HUB = SourceKind.HUGGING_FACE


@pytest.mark.parametrize(
    "path", ["../evil", "a/../../b", "/etc/passwd", "~/.ssh/id_rsa", "a\\b", "", "bad\0name", "a/b/../../../c"]
)
def test_file_paths_that_escape_the_model_folder_are_refused_SYS_REQ_013(path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_relative_path(path, "source")
    assert caught.value.violations[0].field == "source"


@pytest.mark.parametrize("path", ["config.json", "onnx/model.onnx", "unet/diffusion_pytorch_model.safetensors"])
def test_ordinary_file_paths_are_kept_SYS_REQ_013(path: str) -> None:
    assert check_relative_path(path, "source") == path


@pytest.mark.parametrize(
    ("source", "model_id", "field"),
    [
        (ModelSource(HUB, "no-slash"), "m", "source.hugging_face.repo_id"),
        (ModelSource(HUB, "../x/y"), "m", "source.hugging_face.repo_id"),
        (ModelSource(HUB, "org/m", allow_patterns=("../*",)), "m", "source.hugging_face.allow_patterns[0]"),
        (ModelSource(HUB, "org/m", allow_patterns=("/etc/*",)), "m", "source.hugging_face.allow_patterns[0]"),
        (ModelSource(SourceKind.URL, "ftp://host/file"), "m", "source.url"),
        (ModelSource(SourceKind.URL, "https://"), "m", "source.url"),
        (ModelSource(SourceKind.LOCAL, "relative/dir"), "m", "source.local_path"),
        (ModelSource(HUB, "org/m"), "../m", "model_id"),
        (ModelSource(HUB, "org/m"), "Upper", "model_id"),
    ],
)
def test_bad_requests_name_the_field_SYS_NFR_002(source: ModelSource, model_id: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_request(DownloadRequest(source, model_id))
    assert field in [v.field for v in caught.value.violations]


def test_expected_hash_is_for_single_url_files_only_SYS_NFR_002() -> None:
    with pytest.raises(ValidationError):
        validate_request(DownloadRequest(ModelSource(HUB, "org/m"), "m", sha256="a" * 64))
    with pytest.raises(ValidationError):
        validate_request(DownloadRequest(ModelSource(SourceKind.URL, "https://h/f.gguf"), "m", sha256="xyz"))
    validate_request(DownloadRequest(ModelSource(SourceKind.URL, "https://h/f.gguf"), "m", sha256="a" * 64))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (ModelSource(HUB, "HuggingFaceTB/SmolLM2-135M-Instruct"), "smollm2-135m-instruct"),
        (ModelSource(SourceKind.URL, "https://h/models/tiny-llama.Q8_0.gguf?download=1"), "tiny-llama"),
        (ModelSource(SourceKind.LOCAL, "/srv/My Model/"), "my-model"),
    ],
)
def test_default_model_id_comes_from_the_source_name_SYS_REQ_013(source: ModelSource, expected: str) -> None:
    assert default_model_id(source) == expected


def test_same_origin_ignores_the_revision_SYS_REQ_010() -> None:
    main = ModelSource(HUB, "org/m", revision="main")
    assert same_origin(main, ModelSource(HUB, "org/m", revision="v2"))
    assert not same_origin(main, ModelSource(HUB, "org/other"))
    assert not same_origin(main, ModelSource(HUB, "org/m", allow_patterns=("*.json",)))
    assert not same_origin(None, main)


def test_git_blob_id_matches_git_SYS_REQ_013() -> None:
    """`git hash-object` of b"hello\\n" is ce01362503..."""
    hasher = git_blob_sha1(6)
    hasher.update(b"hello\n")
    assert hasher.hexdigest() == "ce013625030ba8dba906f756967f9e9ca394464a"
