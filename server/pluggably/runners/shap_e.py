"""Local text-to-3D and image-to-3D with diffusers' Shap-E (`ShapEPipeline`, `ShapEImg2ImgPipeline`), behind the
`MeshBackend` seam; meshes are written with trimesh.

Shap-E's pipeline takes no step callback, so progress and stopping hook its
scheduler's `step`, called once per denoising iteration (its Heun scheduler
runs 2 * steps - 1 of them). The pipeline always meshes on a 128^3 grid;
decoding the latents here instead lets `generation.mesh_grid_size` trade
detail for time (128: 2-3 s on 2 cores, 64: a tenth of that).
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from pluggably.core.errors import EmptyMeshError, ValidationError
from pluggably.core.generation.backends import BackendFactory, MeshDescription
from pluggably.core.generation.common import GeneratedFile, Progress, Stage
from pluggably.core.generation.meshes import MeshEvent, MeshFormat, MeshGenerated, MeshJob
from pluggably.core.models import ModelInfo
from pluggably.core.models.discovery.pipelines import PIPELINE_INDEX_FILE
from pluggably.runners.diffusion import PipelineBackend, StopGeneration, load_pipeline, torch_device

DEFAULT_STEPS = 64  # what Shap-E's authors use; the pipeline's own default (25) gives rougher shapes
MAX_STEPS = 1000
_TRIMESH_TYPES = {MeshFormat.GLB: "glb", MeshFormat.OBJ: "obj", MeshFormat.PLY: "ply"}


def describe_shap_e(model: ModelInfo) -> MeshDescription:
    index = json.loads((Path(model.path) / PIPELINE_INDEX_FILE).read_text())
    return MeshDescription(
        default_steps=DEFAULT_STEPS,
        max_steps=MAX_STEPS,
        formats=tuple(MeshFormat),
        text_input="Img2Img" not in str(index.get("_class_name", "")),
    )


def export_mesh(vertices: Any, faces: Any, colors: Any, mesh_format: MeshFormat) -> bytes:
    import trimesh

    # process=False: the vertices are kept as the model made them, so the counts reported are the file's.
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, vertex_colors=colors, process=False)
    data = mesh.export(file_type=_TRIMESH_TYPES[mesh_format])
    return data if isinstance(data, bytes) else data.encode()


def _refuse_empty_mesh(decoder: Any, inputs: Any, mesh: Any) -> None:
    """A forward hook on the renderer's marching cubes: a field without a surface gives no vertices, on which
    diffusers would fail later with an obscure error ("expected a non-empty list of Tensors")."""
    if not len(mesh.verts) or not len(mesh.faces):
        raise EmptyMeshError("the model produced no surface for this prompt and seed; try another seed or more steps")


def _open_image(data: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise ValidationError.single("image", f"not an image that can be read: {error}") from error
    return image.convert("RGB")


class ShapEMeshBackend(PipelineBackend[MeshEvent]):
    def __init__(self, pipeline: Any, device: str, executor: Executor, grid_size: int) -> None:
        super().__init__(pipeline, device, executor)
        self._grid_size = grid_size
        pipeline.shap_e_renderer.mesh_decoder.register_forward_hook(_refuse_empty_mesh)

    def stream(self, job: MeshJob) -> AsyncIterator[MeshEvent]:
        return self.run(lambda emit, stopping: self._generate(job, emit, stopping))

    def _generate(self, job: MeshJob, emit: Callable[[MeshEvent], None], stopping: threading.Event) -> None:
        import torch

        pipeline = self.pipeline
        scheduler_step = pipeline.scheduler.step
        iterations = 0

        def step(*args: Any, **kwargs: Any) -> Any:
            nonlocal iterations
            if stopping.is_set():
                raise StopGeneration
            result = scheduler_step(*args, **kwargs)
            iterations += 1
            total = len(pipeline.scheduler.timesteps)
            emit(Progress(Stage.DENOISING, math.ceil(iterations * job.steps / total), job.steps))
            return result

        arguments: dict[str, Any] = {
            **({"image": _open_image(job.image)} if job.image is not None else {"prompt": job.prompt}),
            "num_inference_steps": job.steps,
            "generator": torch.Generator("cpu").manual_seed(job.seed),
            "output_type": "latent",
        }
        if job.guidance_scale is not None:
            arguments["guidance_scale"] = job.guidance_scale
        pipeline.scheduler.step = step  # this call's only: calls on one pipeline never overlap
        try:
            latents = pipeline(**arguments).images
        except StopGeneration:
            return
        finally:
            del pipeline.scheduler.step
        emit(Progress(Stage.DECODING))
        with torch.inference_mode():
            mesh = pipeline.shap_e_renderer.decode_to_mesh(latents[0][None, :], self.device, grid_size=self._grid_size)
        vertices, faces = mesh.verts.cpu().numpy(), mesh.faces.cpu().numpy()
        colors = torch.stack([mesh.vertex_channels[c] for c in "RGB"], dim=1).cpu().numpy()
        data = export_mesh(vertices, faces, (colors.clip(0, 1) * 255).astype("uint8"), job.format)
        emit(MeshGenerated(GeneratedFile(data, job.format.value), len(vertices), len(faces)))


def shap_e_factory(device_preference: str, executor: Executor, grid_size: int) -> BackendFactory[ShapEMeshBackend]:
    def load(model: ModelInfo) -> ShapEMeshBackend:
        from diffusers import DiffusionPipeline

        device = torch_device(device_preference)
        pipeline = load_pipeline(lambda: DiffusionPipeline.from_pretrained(Path(model.path)))
        return ShapEMeshBackend(pipeline.to(device), device, executor, grid_size)

    return BackendFactory(load=load, describe=describe_shap_e)
