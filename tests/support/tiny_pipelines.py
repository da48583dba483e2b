"""Tiny random-weight diffusers pipelines of real architectures, built offline in seconds.

No package ships text-to-image or text-to-3D weights and no model hub is reachable, so the image and mesh runners
are tested with pipelines built from configs (the sizes diffusers' own fast tests use). Random weights make noise
images and, for Shap-E, a ball: tests assert shapes, types, counts and determinism, never content.

- `build_tiny_stable_diffusion`: a `StableDiffusionPipeline` (UNet2DConditionModel with block_out_channels
  (32, 64), AutoencoderKL, 2-layer CLIPTextModel, CLIPTokenizer, EulerDiscreteScheduler, no safety checker) saved
  as safetensors (~7 MB). 64x64 by default (UNet sample_size 32 times the VAE's scale 2); any width and height that
  are multiples of 8 work.
- `build_tiny_stable_diffusion_xl`: a `StableDiffusionXLPipeline` of the same sizes, with its two text encoders and
  the UNet's added time conditioning, as diffusers' own SDXL fast tests build it.
- `build_tiny_stable_diffusion_onnx`: the Stable Diffusion pipeline exported by optimum (`main_export`, task
  "text-to-image"): `model_index.json` (still naming `StableDiffusionPipeline` and a `vae`, so plain diffusers cannot
  load it) and `text_encoder`, `unet`, `vae_decoder`, `vae_encoder` folders each with `config.json` and `model.onnx`.
  `optimum.onnxruntime.ORTDiffusionPipeline.from_pretrained` loads it as an `ORTStableDiffusionPipeline`, whose
  `__call__` is diffusers' own: `callback_on_step_end` works, and an exception raised in it ends the call.
- `build_tiny_shap_e` / `build_tiny_shap_e_img2img`: `ShapEPipeline` (text to 3D) and `ShapEImg2ImgPipeline`
  (image to 3D) whose `output_type="mesh"` gives a closed, watertight ball of radius ~0.5 (about 20 k vertices at
  the default 128^3 grid). Random Shap-E weights cannot do that on their own, for two reasons:
  1. the renderer's marching cubes (`MeshDecoder`) looks triangles up in two buffers, `cases` (256, 5, 3) and
     `masks` (256, 5), that diffusers creates as zeros and only the real checkpoint fills. They are the fixed
     marching-cubes tables, not learned, so `marching_cubes_tables` computes them (in the decoder's corner and edge
     order) and they are saved with the renderer's weights like any other buffer;
  2. a random MLP gives a signed-distance field with no zero crossing, hence no surface. The renderer's MLP weights
     are projected from the latents (`params_proj`): with the projections' LayerNorm gains at zero, those weights
     are the projections' biases, which `_give_renderer_a_surface` sets so the field is a ball. A small gain left
     on three channels shifts the ball by the latents, so different seeds give different meshes.
  Where the field is exactly 0 at a grid corner, marching cubes puts several vertices on it (a handful per mesh):
  trimesh's default processing merges them on load, so compare counts with `trimesh.load(..., process=False)`.
  The Shap-E pipelines take no step callback (neither `callback_on_step_end` nor `callback`), and always decode
  meshes at grid_size 128 (2-3 s on 2 cores); `pipe.shap_e_renderer.decode_to_mesh(latents, device, grid_size=64)`
  on an `output_type="latent"` result is ~10x faster. Their HeunDiscreteScheduler runs 2 * steps - 1 iterations
  (`len(pipe.scheduler.timesteps)`), each one prior call and one `scheduler.step`.

Every builder seeds torch itself and writes only into its folder, so session fixtures get the same files each run.
Imports of diffusers, transformers and optimum (seconds each) are inside the builders, so collecting tests that
import this module stays fast.
"""

from __future__ import annotations

import json
import math
import re
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from diffusers.pipelines.shap_e import ShapERenderer
    from transformers import CLIPTokenizer

# The ids the test fixtures give these pipelines' folders (tests/conftest.py).
TINY_SD = "tiny-sd"
TINY_SD_ONNX = "tiny-sd-onnx"
TINY_SDXL = "tiny-sdxl"
TINY_SHAP_E = "tiny-shap-e"
TINY_SHAP_E_IMG2IMG = "tiny-shap-e-img2img"
CLIP_MAX_LENGTH = 77
TEXT_HIDDEN_SIZE = 32
IMAGE_SIZE = 64  # default output of the tiny Stable Diffusion: UNet sample_size 32 x VAE scale 2
IMAGE_INPUT_SIZE = 32  # what the img2img image processor resizes and crops to
# Short English words plus punctuation and non-ASCII text, so the BPE learns merges and byte-level fallbacks.
TOKENIZER_CORPUS = [
    "a photo of a cat sitting on a red chair, high quality, detailed",
    "an astronaut riding a horse on the moon, digital art",
    "a small wooden house in a snowy forest at night",
    "a shark, a chair, a teapot, a low poly tree, a spaceship",
    "Crème brûlée, café au lait; 日本語 🙂",
] * 10


def build_clip_tokenizer(folder: Path, merges: int = 300) -> CLIPTokenizer:
    """A byte-level BPE CLIP tokenizer (vocab.json + merges.txt, as real checkpoints ship it), ~650 tokens.

    `CLIPTokenizer` byte-encodes each lowercased word and adds `</w>` to its last symbol, so the vocabulary holds
    every byte symbol without and with `</w>`, then the merged symbols, then the two special tokens (CLIP's order).
    The merges are learned here rather than with `tokenizers`' BpeTrainer, whose tie-breaking between equally
    frequent pairs changes from run to run (so would the files).
    """
    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    byte_symbols = bytes_to_unicode()
    counts: dict[tuple[str, ...], int] = {}
    for text in TOKENIZER_CORPUS:
        for word in re.findall(r"\w+|[^\w\s]+", text.lower()):
            symbols = [byte_symbols[b] for b in word.encode()]
            symbols[-1] += "</w>"
            counts[tuple(symbols)] = counts.get(tuple(symbols), 0) + 1
    learned: list[tuple[str, str]] = []
    for _ in range(merges):
        pairs: dict[tuple[str, str], int] = {}
        for word, count in counts.items():
            for pair in pairwise(word):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))  # most frequent, ties by spelling
        learned.append(best)
        merged: dict[tuple[str, ...], int] = {}
        for word, count in counts.items():
            out: list[str] = []
            for symbol in word:
                if out and (out[-1], symbol) == best:
                    out[-1] += symbol
                else:
                    out.append(symbol)
            merged[tuple(out)] = count
        counts = merged
    alphabet = list(byte_symbols.values())
    tokens = [*alphabet, *(a + "</w>" for a in alphabet), *dict.fromkeys(a + b for a, b in learned)]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in learned))
    return CLIPTokenizer(
        vocab_file=str(folder / "vocab.json"),
        merges_file=str(folder / "merges.txt"),
        model_max_length=CLIP_MAX_LENGTH,
    )


def _clip_text_config(tokenizer: CLIPTokenizer, **extra: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_HIDDEN_SIZE,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=CLIP_MAX_LENGTH,
        # The pooled output is taken at the first eos_token_id, so it must be the tokenizer's.
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def _tiny_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        sample_size=IMAGE_SIZE,
    )


def _euler_scheduler(timestep_spacing: str):
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing=timestep_spacing,
        steps_offset=1,  # what SD checkpoints ship; 0 makes diffusers warn
    )


def build_tiny_stable_diffusion(folder: Path) -> Path:
    """A StableDiffusionPipeline of ~7 MB: 64x64 images, 2 steps in about 0.1 s on 2 cores."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    tokenizer = build_clip_tokenizer(folder / "tokenizer")
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=IMAGE_SIZE // 2,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_HIDDEN_SIZE,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    pipe = StableDiffusionPipeline(
        vae=_tiny_vae(),
        text_encoder=CLIPTextModel(_clip_text_config(tokenizer)),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_euler_scheduler("trailing"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_stable_diffusion_xl(folder: Path) -> Path:
    """A StableDiffusionXLPipeline of a few MB (two text encoders, the UNet's added time conditioning), as
    diffusers' own fast tests build it: 64x64 images in 2 steps in well under a second."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tokenizer = build_clip_tokenizer(folder / "tokenizer")
    tokenizer_2 = build_clip_tokenizer(folder / "tokenizer_2")
    time_embed_dim = 8
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=IMAGE_SIZE // 2,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_embed_dim,
        transformer_layers_per_block=(1, 2),
        # Six time ids (original size, crop, target size) plus the second encoder's pooled projection.
        projection_class_embeddings_input_dim=6 * time_embed_dim + TEXT_HIDDEN_SIZE,
        cross_attention_dim=2 * TEXT_HIDDEN_SIZE,  # both encoders' hidden states, side by side
        norm_num_groups=1,
    )
    pipe = StableDiffusionXLPipeline(
        vae=_tiny_vae(),
        text_encoder=CLIPTextModel(_clip_text_config(tokenizer)),
        text_encoder_2=CLIPTextModelWithProjection(_clip_text_config(tokenizer_2, projection_dim=TEXT_HIDDEN_SIZE)),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=_euler_scheduler("leading"),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_stable_diffusion_onnx(torch_folder: Path, folder: Path) -> Path:
    """`torch_folder` (from `build_tiny_stable_diffusion`) exported to ONNX by optimum in 2-5 s, plus its import."""
    from optimum.exporters.onnx import main_export

    main_export(str(torch_folder), output=folder, task="text-to-image", device="cpu", do_validation=False)
    # The configs record the source folder (a temporary path); without it every build writes the same files.
    for config in [folder / "model_index.json", *folder.glob("*/config.json")]:
        values = json.loads(config.read_text())
        if values.pop("_name_or_path", None) is not None:
            config.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    return folder


def marching_cubes_tables() -> tuple[torch.Tensor, torch.Tensor]:
    """The `cases` (256, 5, 3) and `masks` (256, 5) tables of diffusers' Shap-E `MeshDecoder`.

    In the decoder, cube corner `x + 2y + 4z` is bit `x + 2y + 4z` of a case (set: field > 0, inside), and the 12
    edges are the x edges at (y, z) = (0, 0), (1, 0), (0, 1), (1, 1), then the y edges at (x, z) and the z edges at
    (x, y) in the same order. Rather than transcribe a published 256-row table into that order, the triangles are
    derived: on each cube face the surface crosses between inside and outside corners (on a face with two diagonal
    inside corners, each inside corner is cut off on its own; the choice depends only on the face, so the two cubes
    sharing it agree and meshes are watertight). Those segments, directed the same way on every face, join into
    loops around the cube, and each loop is fanned into triangles (at most 5 per case), wound so normals point out.
    """
    edges: dict[frozenset[int], int] = {}
    for axis in range(3):
        u, v = (a for a in range(3) if a != axis)
        for k in range(4):
            start = [0, 0, 0]
            start[u], start[v] = k & 1, k >> 1
            end = list(start)
            end[axis] = 1
            edges[frozenset((_corner_index(start), _corner_index(end)))] = 4 * axis + k

    # Each face's corners, counter-clockwise seen from outside the cube.
    faces = []
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3
        for side in (0, 1):
            ring = []
            for a, b in ((0, 0), (1, 0), (1, 1), (0, 1)):
                point = [0, 0, 0]
                point[axis], point[u], point[v] = side, a, b
                ring.append(_corner_index(point))
            faces.append(ring if side else ring[::-1])

    cases = torch.zeros(256, 5, 3, dtype=torch.long)
    masks = torch.zeros(256, 5, dtype=torch.bool)
    for case in range(256):
        inside = [bool(case >> i & 1) for i in range(8)]
        following: dict[int, int] = {}  # edge where the surface enters a face -> edge where it leaves it
        for ring in faces:
            for j in range(4):
                if inside[ring[j]] and not inside[ring[j - 1]]:
                    k = j
                    while inside[ring[(k + 1) % 4]]:
                        k += 1
                    following[edges[frozenset((ring[j - 1], ring[j]))]] = edges[
                        frozenset((ring[k % 4], ring[(k + 1) % 4]))
                    ]
        triangles: list[tuple[int, int, int]] = []
        while following:
            loop = [next(iter(following))]
            while (edge := following.pop(loop[-1])) != loop[0]:
                loop.append(edge)
            triangles += [(loop[0], loop[i], loop[i + 1]) for i in range(1, len(loop) - 1)]
        for t, triangle in enumerate(triangles):
            cases[case, t] = torch.tensor(triangle)
            masks[case, t] = True
    return cases, masks


def _corner_index(point: list[int]) -> int:
    return point[0] + 2 * point[1] + 4 * point[2]


# The ball: inside where cos x + cos y + cos z > 2 + cos(radius), about a sphere of that radius (cos t ~ 1 - t^2/2).
BLOB_RADIUS = 0.5
BLOB_SHIFT = 0.1  # how far (about) the latents move it: a seed changes the mesh, never empties it
# Small, so every SiLU works near 0, where SiLU(2h) ~ h: the field stays about proportional to the first layer's
# value and marching cubes interpolates vertices onto the ball (a large gain squashes the outside values to ~0).
_SDF_GAIN = 0.1
_COS_FEATURES = slice(48, 51)  # cos(x), cos(y), cos(z) in Shap-E's 93-wide position encoding
_XYZ_FEATURES = slice(0, 3)  # x, y, z themselves, at its start


def _give_renderer_a_surface(renderer: ShapERenderer) -> None:
    """Makes the renderer's signed-distance field a ball in the middle of its [-1, 1]^3 volume.

    The MLP's hidden unit 0 carries `0.1 * (cos x + cos y + cos z - 2 - cos(radius))`, its sign kept through every
    layer (zero biases, positive weights, SiLU), to output 0 (the SDF, inside > 0); all other units are zero. Layers
    0-3 get their weights from `params_proj`, whose projections' LayerNorm gains are zeroed so the weights are the
    projections' biases, except a gain on x, y, z in layer 0, which lets the latents move the ball by ~BLOB_SHIFT.
    Density (for `decode_to_image`) follows unit 0 and colours are constant.
    """
    mlp = renderer.mlp.mlp
    with torch.no_grad():
        for layer in mlp:
            layer.weight.zero_()
            layer.bias.zero_()
            layer.weight[0, 0] = 2.0  # SiLU(2h) ~ h near 0, so values near the surface keep their scale
        mlp[0].weight[0, 0] = 0.0
        mlp[0].weight[0, _COS_FEATURES] = _SDF_GAIN
        mlp[0].bias[0] = -_SDF_GAIN * (2.0 + math.cos(BLOB_RADIUS))
        out = mlp[-1]  # rows: sdf, density (coarse, fine), stf rgb, nerf coarse rgb, nerf fine rgb
        out.weight[1:3, 0] = 1000.0
        out.bias[3:] = torch.tensor([1.0, 0.2, -1.0]).repeat(3)  # orange
        for name, projection in zip(
            renderer.config.param_names, renderer.params_proj.projections.values(), strict=True
        ):
            layer = mlp[int(name.split(".")[2])]  # "nerstf.mlp.0.weight"
            projection.norm.weight.zero_()
            projection.norm.bias.zero_()
            projection.proj.bias.copy_(layer.weight.flatten())
            if layer is mlp[0]:
                projection.norm.weight[_XYZ_FEATURES] = _SDF_GAIN * BLOB_SHIFT


def _shap_e_prior_and_renderer(surface: bool = True):
    """The prior and renderer of diffusers' Shap-E fast tests: 32 latent vectors of 32, an MLP 8 wide.

    Without `surface`, the field is outside everywhere: the mesh is empty whatever the latents, as a real model
    can make one for an odd prompt.
    """
    from diffusers import PriorTransformer
    from diffusers.pipelines.shap_e import ShapERenderer

    prior = PriorTransformer(
        num_attention_heads=2,
        attention_head_dim=16,
        embedding_dim=32,
        num_embeddings=32,
        embedding_proj_dim=TEXT_HIDDEN_SIZE,
        time_embed_dim=128,
        num_layers=1,
        clip_embed_dim=64,
        additional_embeddings=0,
        time_embed_act_fn="gelu",
        norm_in_type="layer",
        embedding_proj_norm_type="layer",
        encoder_hid_proj_type=None,
        added_emb_type=None,
    )
    # The params shapes are (out, in) of MLP layers 0-3 (93 = the position encoding); their first dimensions
    # add up to the prior's num_embeddings and d_latent is its embedding_dim.
    renderer = ShapERenderer(param_shapes=((8, 93), (8, 8), (8, 8), (8, 8)), d_latent=32, d_hidden=8, n_output=12)
    _give_renderer_a_surface(renderer)
    if not surface:
        with torch.no_grad():
            renderer.mlp.mlp[-1].bias[0] = -100.0  # the signed distance: inside > 0
    cases, masks = marching_cubes_tables()
    renderer.mesh_decoder.cases.copy_(cases)
    renderer.mesh_decoder.masks.copy_(masks)
    return prior, renderer


def _shap_e_scheduler():
    from diffusers import HeunDiscreteScheduler

    # The real Shap-E scheduler config. Heun evaluates the prior twice per step but the last.
    return HeunDiscreteScheduler(
        beta_schedule="exp",
        num_train_timesteps=1024,
        prediction_type="sample",
        use_karras_sigmas=True,
        clip_sample=True,
        clip_sample_range=1.0,
    )


def build_tiny_shap_e(folder: Path, surface: bool = True) -> Path:
    """A ShapEPipeline (text to 3D) of ~0.5 MB whose meshes are a watertight ball (without `surface`: empty);
    2 steps + mesh in 2-3 s."""
    from diffusers import ShapEPipeline
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(0)
    tokenizer = build_clip_tokenizer(folder / "tokenizer")
    text_encoder = CLIPTextModelWithProjection(_clip_text_config(tokenizer, projection_dim=TEXT_HIDDEN_SIZE))
    prior, renderer = _shap_e_prior_and_renderer(surface)
    pipe = ShapEPipeline(
        prior=prior,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=_shap_e_scheduler(),
        shap_e_renderer=renderer,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_shap_e_img2img(folder: Path) -> Path:
    """A ShapEImg2ImgPipeline (image to 3D): the same prior and renderer, a CLIP vision model on 32x32 inputs.

    Its image processor resizes and crops any PIL image to 32x32; the vision model's 4x4 patches give the prior 64
    conditioning tokens (the real one: 256 of 1024).
    """
    from diffusers import ShapEImg2ImgPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=TEXT_HIDDEN_SIZE,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=IMAGE_INPUT_SIZE,
            patch_size=4,
            projection_dim=TEXT_HIDDEN_SIZE,
        )
    )
    # CLIP's own normalisation; sizes as the vision model expects.
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_INPUT_SIZE},
        crop_size={"height": IMAGE_INPUT_SIZE, "width": IMAGE_INPUT_SIZE},
        do_center_crop=True,
        do_normalize=True,
        do_resize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
        resample=3,
    )
    prior, renderer = _shap_e_prior_and_renderer()
    pipe = ShapEImg2ImgPipeline(
        prior=prior,
        image_encoder=image_encoder,
        image_processor=image_processor,
        scheduler=_shap_e_scheduler(),
        shap_e_renderer=renderer,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
