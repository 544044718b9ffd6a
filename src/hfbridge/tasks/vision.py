"""Vision tasks on an input image: classification, image-to-text, object detection, segmentation, visual and
document question answering.

Wire shapes, from huggingface_hub 2.4 (``InferenceClient`` methods of the same names, ``_providers/hf_inference.py``),
on hf-inference:

* image-classification, image-to-text, object-detection, image-segmentation (``HFInferenceBinaryInputTask``): the
  image file's bytes are the body (content-type: the file's mime type when the client knows it from a path, none
  for raw bytes); with a parameter (``top_k``, ``threshold``, ``subtask``...) the body is JSON ``{"inputs":
  "<base64 image>", "parameters": {...}}``.
* visual-question-answering (``HFInferenceBinaryInputTask`` with an extra payload): always JSON ``{"inputs":
  "<base64 image>", "parameters": {...}, "question": "...", "image": "<base64 image>"}``.
* document-question-answering (``HFInferenceTask``): JSON ``{"inputs": {"question": "...", "image": "<base64>"},
  "parameters": {...}}``.

Answers (JSON): ``[{"label", "score"}]``; ``[{"generated_text"}]`` (the client returns the first);
``[{"label", "score", "box": {"xmin", "ymin", "xmax", "ymax"}}]``; ``[{"label", "score" (null for semantic
segmentation), "mask": "<base64 PNG>"}]`` (the client opens each mask as a PIL image); ``[{"answer", "score"}]``;
``[{"answer", "score", "start", "end"}]``.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from .. import _validation as check
from ..errors import APIError, InvalidInputError
from ..types import (
    BoundingBox,
    ClassificationLabel,
    DetectedObject,
    DocumentAnswer,
    ImageCaption,
    ImageSegment,
    ImageSource,
    Results,
    VisualAnswer,
)
from . import _media as media
from ._spec import CacheCodec, HubCall, Limits, Serving, Task, ToolInfo

__all__ = [
    "IMAGE_CLASSIFICATION", "IMAGE_TO_TEXT", "OBJECT_DETECTION", "IMAGE_SEGMENTATION", "VISUAL_QUESTION_ANSWERING",
    "DOCUMENT_QUESTION_ANSWERING", "ImageClassificationRequest", "ImageToTextRequest", "ObjectDetectionRequest",
    "ImageSegmentationRequest", "VisualQuestionRequest", "DocumentQuestionRequest",
]  # fmt: skip


class ImageFileInput(BaseModel):
    image: str = Field(min_length=1, description="The image: a local file path or an http(s) URL.")


class ImageQuestionInput(ImageFileInput):
    question: str = Field(min_length=1, description="The question to answer from the image.")


def _dump_list(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def _json_list(items: list[Any]) -> tuple[bytes, str]:
    return media.dump_json(_dump_list(items))


def _rows(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TypeError(f"a cached result must be a list, got {type(raw).__name__}")
    return raw


def _model(cls: type[BaseModel]) -> Any:
    return lambda raw: Results(cls.model_validate(item) for item in _rows(raw))


def _image_key(request: Any) -> str:
    return media.content_key(request.image)


# ========================================================================================== image classification
@dataclass(slots=True)
class ImageClassificationRequest:
    image: ImageSource
    top_k: int | None = None
    model: str | None = None


def _validate_image_only(request: Any, limits: Limits) -> Any:
    request.image = media.check_image(request.image)
    if hasattr(request, "top_k"):
        request.top_k = check.optional_int(request.top_k, "top_k")
    return request


def parse_labels(output: Any, request: Any = None) -> Results[ClassificationLabel]:
    labels = [
        ClassificationLabel(label=media.text_field(item, "label", f"labels[{index}]"),
                            score=media.score_field(item, "score", f"labels[{index}]"))  # type: ignore[arg-type]
        for index, item in enumerate(media.items(output, "labels"))
    ]  # fmt: skip
    return Results(sorted(labels, key=lambda label: label.score, reverse=True))


def _read_image(body: bytes, content_type: str | None) -> tuple[bytes, dict[str, Any]]:
    return media.read_binary_body(body, content_type)


def _read_classification(body: bytes, content_type: str | None) -> ImageClassificationRequest:
    data, parameters = _read_image(body, content_type)
    return ImageClassificationRequest(image=data, top_k=parameters.get("top_k"))


IMAGE_CLASSIFICATION: Task[ImageClassificationRequest, Results[ClassificationLabel]] = Task(
    name="image_classification",
    pipeline_tag="image-classification",
    hub_model="google/vit-base-patch16-224",
    request=ImageClassificationRequest,
    result="Results[ClassificationLabel]",
    doc="""Labels for ``image`` with scores, best first. ``image``: bytes of an image file, a path, an http(s)
        URL or a PIL image.""",
    validate=_validate_image_only,
    hub=HubCall(
        send=lambda client, request, target: client.image_classification(
            request.image, top_k=request.top_k, model=target.task_model(request.model, "image-classification")
        ),
        parse=parse_labels,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {"top_k": r.top_k, "model": r.model},
        value=_image_key,
        dump=_dump_list,
        load=_model(ClassificationLabel),
    ),
    serving=Serving(read=_read_classification, write=_json_list),
    tool=ToolInfo(
        name="image_classification",
        description="Say what an image shows: labels with scores. Input: the image's local file path or http(s) "
        "URL. Output: JSON list of {label, score}, best first.",
        args=ImageFileInput,
    ),
)


# ================================================================================================= image to text
@dataclass(slots=True)
class ImageToTextRequest:
    image: ImageSource
    model: str | None = None


def parse_caption(output: Any, request: Any = None) -> ImageCaption:
    media.error_in(output)
    if isinstance(output, list):  # the raw hf-inference answer: the client itself takes its first element
        output = media.items(output, "captions")
        if not output:
            raise APIError("expected a list with one caption, got an empty list")
        output = output[0]
    if not hasattr(output, "get"):
        raise APIError(f"expected a JSON object with generated_text, got {type(output).__name__}")
    return ImageCaption(generated_text=media.text_field(output, "generated_text", "caption"))


IMAGE_TO_TEXT: Task[ImageToTextRequest, ImageCaption] = Task(
    name="image_to_text",
    pipeline_tag="image-to-text",
    hub_model="Salesforce/blip-image-captioning-large",
    request=ImageToTextRequest,
    result="ImageCaption",
    doc="""Text for ``image``: a caption, or the text in it (OCR models); ``image`` as in
        :meth:`image_classification`.""",
    validate=_validate_image_only,
    hub=HubCall(
        send=lambda client, request, target: client.image_to_text(
            request.image, model=target.task_model(request.model, "image-to-text")
        ),
        parse=parse_caption,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {"model": r.model},
        value=_image_key,
        dump=lambda caption: caption.model_dump(),
        load=lambda raw: ImageCaption.model_validate(raw),
    ),
    serving=Serving(
        read=lambda body, ct: ImageToTextRequest(image=_read_image(body, ct)[0]),
        write=lambda caption: media.dump_json([caption.model_dump()]),
    ),
    tool=ToolInfo(
        name="image_to_text",
        description="Describe an image in words, or read the text in it. Input: the image's local file path or "
        "http(s) URL. Output: the text.",
        args=ImageFileInput,
    ),
)


# ============================================================================================== object detection
@dataclass(slots=True)
class ObjectDetectionRequest:
    image: ImageSource
    threshold: float | None = None
    model: str | None = None


def _validate_detection(request: ObjectDetectionRequest, limits: Limits) -> ObjectDetectionRequest:
    request.image = media.check_image(request.image)
    request.threshold = check.optional_number(request.threshold, "threshold", minimum=0.0, maximum=1.0)
    return request


def parse_objects(output: Any, request: Any = None) -> Results[DetectedObject]:
    found = []
    for index, item in enumerate(media.items(output, "objects")):
        what = f"objects[{index}]"
        box = media.field(item, "box")
        if not hasattr(box, "get"):
            raise APIError(f"{what}.box must be a JSON object, got {type(box).__name__}")
        corners = {key: media.int_field(box, key, f"{what}.box") for key in ("xmin", "ymin", "xmax", "ymax")}
        found.append(DetectedObject(label=media.text_field(item, "label", what),
                                    score=media.score_field(item, "score", what),  # type: ignore[arg-type]
                                    box=BoundingBox(**corners)))  # type: ignore[arg-type]  # fmt: skip
    return Results(found)


def _read_detection(body: bytes, content_type: str | None) -> ObjectDetectionRequest:
    data, parameters = _read_image(body, content_type)
    return ObjectDetectionRequest(image=data, threshold=parameters.get("threshold"))


OBJECT_DETECTION: Task[ObjectDetectionRequest, Results[DetectedObject]] = Task(
    name="object_detection",
    pipeline_tag="object-detection",
    hub_model="facebook/detr-resnet-50",
    request=ObjectDetectionRequest,
    result="Results[DetectedObject]",
    doc="""Objects in ``image``: label, score and pixel box; ``threshold`` (0-1) drops less certain ones.
        ``image`` as in :meth:`image_classification`.""",
    validate=_validate_detection,
    hub=HubCall(
        send=lambda client, request, target: client.object_detection(
            request.image, threshold=request.threshold, model=target.task_model(request.model, "object-detection")
        ),
        parse=parse_objects,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {"threshold": r.threshold, "model": r.model},
        value=_image_key,
        dump=_dump_list,
        load=_model(DetectedObject),
    ),
    serving=Serving(read=_read_detection, write=_json_list),
    tool=ToolInfo(
        name="object_detection",
        description="Find objects in an image. Input: the image's local file path or http(s) URL. Output: JSON "
        "list of {label, score, box: {xmin, ymin, xmax, ymax}} in pixels.",
        args=ImageFileInput,
    ),
)


# ============================================================================================ image segmentation
@dataclass(slots=True)
class ImageSegmentationRequest:
    image: ImageSource
    subtask: Literal["instance", "panoptic", "semantic"] | None = None
    threshold: float | None = None
    mask_threshold: float | None = None
    overlap_mask_area_threshold: float | None = None
    model: str | None = None


def _validate_segmentation(request: ImageSegmentationRequest, limits: Limits) -> ImageSegmentationRequest:
    request.image = media.check_image(request.image)
    if request.subtask not in (None, "instance", "panoptic", "semantic"):
        raise InvalidInputError(f"subtask must be 'instance', 'panoptic' or 'semantic', got {request.subtask!r}")
    for name in ("threshold", "mask_threshold", "overlap_mask_area_threshold"):
        setattr(request, name, check.optional_number(getattr(request, name), name, minimum=0.0, maximum=1.0))
    return request


def _mask(value: Any, what: str) -> Any:
    """A segment's mask as a loaded PIL image of mode ``L``: the client's opened image, or base64 PNG."""
    from PIL import Image, UnidentifiedImageError

    try:
        if isinstance(value, str):
            value = Image.open(io.BytesIO(base64.b64decode(value, validate=True)))
        if not isinstance(value, Image.Image):
            raise APIError(f"{what}.mask must be a base64 PNG, got {type(value).__name__}")
        value.load()  # the client opens masks lazily: a truncated PNG fails here, not in the caller's hands
        return value if value.mode == "L" else value.convert("L")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise APIError(f"{what}.mask is not an image: {exc}") from None


def parse_segments(output: Any, request: Any = None) -> Results[ImageSegment]:
    return Results(
        ImageSegment(
            label=media.text_field(item, "label", f"segments[{index}]"),
            score=media.score_field(item, "score", f"segments[{index}]", optional=True),
            mask=_mask(media.field(item, "mask"), f"segments[{index}]"),
        )
        for index, item in enumerate(media.items(output, "segments"))
    )


def _png_b64(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _dump_segments(segments: list[ImageSegment]) -> list[dict[str, Any]]:
    return [{"label": s.label, "score": s.score, "mask": _png_b64(s.mask)} for s in segments]


def _read_segmentation(body: bytes, content_type: str | None) -> ImageSegmentationRequest:
    data, parameters = _read_image(body, content_type)
    return ImageSegmentationRequest(image=data, **{key: parameters.get(key) for key in (
        "subtask", "threshold", "mask_threshold", "overlap_mask_area_threshold")})  # fmt: skip


IMAGE_SEGMENTATION: Task[ImageSegmentationRequest, Results[ImageSegment]] = Task(
    name="image_segmentation",
    pipeline_tag="image-segmentation",
    hub_model="nvidia/segformer-b0-finetuned-ade-512-512",
    request=ImageSegmentationRequest,
    result="Results[ImageSegment]",
    doc="""Segments of ``image``: label, score and a mask (a PIL image of mode ``L``, the input's size).
        ``image`` as in :meth:`image_classification`; thresholds are between 0 and 1.""",
    validate=_validate_segmentation,
    hub=HubCall(
        send=lambda client, request, target: client.image_segmentation(
            request.image,
            subtask=request.subtask,
            threshold=request.threshold,
            mask_threshold=request.mask_threshold,
            overlap_mask_area_threshold=request.overlap_mask_area_threshold,
            model=target.task_model(request.model, "image-segmentation"),
        ),
        parse=parse_segments,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {
            "subtask": r.subtask,
            "threshold": r.threshold,
            "mask_threshold": r.mask_threshold,
            "overlap": r.overlap_mask_area_threshold,
            "model": r.model,
        },
        value=_image_key,
        dump=_dump_segments,
        load=lambda raw: parse_segments(_rows(raw)),
    ),
    serving=Serving(read=_read_segmentation, write=lambda segments: media.dump_json(_dump_segments(segments))),
    tool=ToolInfo(
        name="image_segmentation",
        description="Split an image into labelled regions. Input: the image's local file path or http(s) URL. "
        "Output: JSON list of {label, score}, one per region.",
        args=ImageFileInput,
    ),
)


# ================================================================================ visual / document question answering
@dataclass(slots=True)
class VisualQuestionRequest:
    image: ImageSource
    question: str
    top_k: int | None = None
    model: str | None = None


@dataclass(slots=True)
class DocumentQuestionRequest:
    image: ImageSource
    question: str
    top_k: int | None = None
    model: str | None = None


def _validate_question(request: Any, limits: Limits) -> Any:
    request.image = media.check_image(request.image)
    request.question = check.check_text(request.question, "question", max_chars=limits.max_input_chars)
    request.top_k = check.optional_int(request.top_k, "top_k")
    return request


def parse_visual_answers(output: Any, request: Any = None) -> Results[VisualAnswer]:
    return Results(
        VisualAnswer(answer=media.text_field(item, "answer", f"answers[{index}]"),
                     score=media.score_field(item, "score", f"answers[{index}]"))  # type: ignore[arg-type]
        for index, item in enumerate(media.items(output, "answers"))
    )  # fmt: skip


def parse_document_answers(output: Any, request: Any = None) -> Results[DocumentAnswer]:
    return Results(
        DocumentAnswer(answer=media.text_field(item, "answer", f"answers[{index}]"),
                       score=media.score_field(item, "score", f"answers[{index}]"),  # type: ignore[arg-type]
                       start=media.int_field(item, "start", f"answers[{index}]", optional=True),
                       end=media.int_field(item, "end", f"answers[{index}]", optional=True))
        for index, item in enumerate(media.items(output, "answers"))
    )  # fmt: skip


def _read_visual(body: bytes, content_type: str | None) -> VisualQuestionRequest:
    payload = media.json_body(body)
    inputs = payload.get("inputs")
    nested = inputs if isinstance(inputs, dict) else {}
    image = payload.get("image") or nested.get("image") or inputs
    parameters = payload.get("parameters") or {}
    return VisualQuestionRequest(image=media.decode_b64(image, "image"),
                                 question=payload.get("question") or nested.get("question"),  # type: ignore[arg-type]
                                 top_k=parameters.get("top_k") if isinstance(parameters, dict) else None)  # fmt: skip


def _read_document(body: bytes, content_type: str | None) -> DocumentQuestionRequest:
    payload = media.json_body(body)
    inputs = payload.get("inputs")
    if not isinstance(inputs, dict):
        raise InvalidInputError('inputs must be {"question": ..., "image": "<base64>"}')
    parameters = payload.get("parameters") or {}
    return DocumentQuestionRequest(image=media.decode_b64(inputs.get("image"), "inputs.image"),
                                   question=inputs.get("question"),  # type: ignore[arg-type]
                                   top_k=parameters.get("top_k") if isinstance(parameters, dict) else None)  # fmt: skip


VISUAL_QUESTION_ANSWERING: Task[VisualQuestionRequest, Results[VisualAnswer]] = Task(
    name="visual_question_answering",
    pipeline_tag="visual-question-answering",
    hub_model="dandelin/vilt-b32-finetuned-vqa",
    request=VisualQuestionRequest,
    result="Results[VisualAnswer]",
    doc="""Answers to ``question`` about ``image``, with scores. ``image`` as in :meth:`image_classification`.""",
    inputs=2,
    validate=_validate_question,
    hub=HubCall(
        send=lambda client, request, target: client.visual_question_answering(
            image=request.image,
            question=request.question,
            top_k=request.top_k,
            model=target.task_model(request.model, "visual-question-answering"),
        ),
        parse=parse_visual_answers,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {"question": r.question, "top_k": r.top_k, "model": r.model},
        value=_image_key,
        dump=_dump_list,
        load=_model(VisualAnswer),
    ),
    serving=Serving(aliases=("vqa",), read=_read_visual, write=_json_list),
    tool=ToolInfo(
        name="visual_question_answering",
        description="Answer a question about a picture. Input: the image's local file path or http(s) URL, and "
        "the question. Output: JSON list of {answer, score}, best first.",
        args=ImageQuestionInput,
    ),
)

DOCUMENT_QUESTION_ANSWERING: Task[DocumentQuestionRequest, Results[DocumentAnswer]] = Task(
    name="document_question_answering",
    pipeline_tag="document-question-answering",
    hub_model="impira/layoutlm-document-qa",
    request=DocumentQuestionRequest,
    result="Results[DocumentAnswer]",
    doc="""Answers to ``question`` read from a document ``image`` (an invoice, a form, a scanned page), with
        scores. ``image`` as in :meth:`image_classification`.""",
    inputs=2,
    validate=_validate_question,
    hub=HubCall(
        send=lambda client, request, target: client.document_question_answering(
            image=request.image,
            question=request.question,
            top_k=request.top_k,
            model=target.task_model(request.model, "document-question-answering"),
        ),
        parse=parse_document_answers,
    ),
    local=None,  # no packaged model (../shared/MODELS.md): LocalBackend raises UnsupportedTaskError
    cache=CacheCodec(
        params=lambda r: {"question": r.question, "top_k": r.top_k, "model": r.model},
        value=_image_key,
        dump=_dump_list,
        load=_model(DocumentAnswer),
    ),
    serving=Serving(aliases=("docqa",), read=_read_document, write=_json_list),
    tool=ToolInfo(
        name="document_question_answering",
        description="Answer a question from a document image (invoice, form, scanned page). Input: the image's "
        "local file path or http(s) URL, and the question. Output: JSON list of {answer, score}, best first.",
        args=ImageQuestionInput,
    ),
)
