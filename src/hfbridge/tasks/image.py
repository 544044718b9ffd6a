"""Image tasks: text-to-image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from .. import _validation as check
from ._parse import malformed
from ._spec import HubCall, Limits, Serving, Task, ToolInfo
from .generation import MAX_SEED

__all__ = ["TEXT_TO_IMAGE", "ImageRequest"]

#: The widest / tallest image asked for (more than any diffusion model makes; a typo otherwise costs a long job).
MAX_SIDE = 8192


@dataclass(slots=True)
class ImageRequest:
    prompt: str
    model: str | None = None
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    extra: dict[str, Any] | None = None


def _validate_image(request: ImageRequest, limits: Limits) -> ImageRequest:
    check.check_text(request.prompt, "prompt", max_chars=limits.max_input_chars)
    request.model = check.check_model(request.model)
    request.negative_prompt = check.optional_text(request.negative_prompt, "negative_prompt")
    request.width = check.optional_int(request.width, "width", maximum=MAX_SIDE)
    request.height = check.optional_int(request.height, "height", maximum=MAX_SIDE)
    request.num_inference_steps = check.optional_int(request.num_inference_steps, "num_inference_steps")
    request.guidance_scale = check.optional_number(request.guidance_scale, "guidance_scale", minimum=0.0)
    request.seed = check.optional_int(request.seed, "seed", minimum=0, maximum=MAX_SEED)
    if request.extra is not None:
        request.extra = check.check_json_object(request.extra, "extra")
    return request


def _image_kwargs(request: ImageRequest, target: Any) -> dict[str, Any]:
    return {
        "negative_prompt": request.negative_prompt,
        "width": request.width,
        "height": request.height,
        "num_inference_steps": request.num_inference_steps,
        "guidance_scale": request.guidance_scale,
        "seed": request.seed,
        "model": target.task_model(request.model, "text-to-image"),
        **({"extra_body": request.extra} if request.extra else {}),
    }


def _image(output: Any) -> Any:
    from PIL.Image import Image

    if not isinstance(output, Image):
        raise malformed("the answer must be an image", output)
    return output


class ImageInput(BaseModel):
    prompt: str = Field(min_length=1, description="What the image should show.")
    width: int | None = Field(default=None, ge=64, le=2048, description="Width in pixels.")
    height: int | None = Field(default=None, ge=64, le=2048, description="Height in pixels.")


TEXT_TO_IMAGE: Task[ImageRequest, Any] = Task(
    name="text_to_image",
    pipeline_tag="text-to-image",
    request=ImageRequest,
    result="Image",
    doc="""A PIL image for ``prompt``; ``extra`` is sent as provider parameters.""",
    validate=_validate_image,
    hub=HubCall(
        send=lambda client, request, target: client.text_to_image(request.prompt, **_image_kwargs(request, target)),
        parse=lambda image, request: _image(image),
    ),
    local="_text_to_image",
    serving=Serving(aliases=("image",)),
    tool=ToolInfo(
        name="text_to_image",
        description="Generate an image from a text prompt. Returns the path of the saved PNG file.",
        args=ImageInput,
        example={"prompt": "a red fox in the snow", "width": 256, "height": 256},
    ),
)
