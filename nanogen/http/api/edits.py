"""POST /api/v1/images/{id}/edit (edit by instruction: a new version) and GET /api/v1/images/{id}/versions."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from nanogen.errors import InvalidInput
from nanogen.http.api.common import BY_ID, IdPath, base, ok
from nanogen.http.api.models import (
    Envelope,
    ModelLiteral,
    PromptOut,
    RatioLiteral,
    ResolutionLiteral,
    SizeLiteral,
    prompt_out,
)
from nanogen.images.references import MAX_UPLOAD_BYTES

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


class EditIn(BaseModel):
    """An instruction for an image you may see; the result is a new version linked to it (the original stays)."""

    model_config = ConfigDict(extra='forbid', strict=True, json_schema_extra={'example': {
        'instruction': 'make the sky stormy', 'reference_image_ids': [], 'model': 'nanobanana-2'}})
    instruction: str = Field(min_length=1, max_length=20_000, description='What to change.')
    reference_image_ids: list[int] = Field(default_factory=list, max_length=13,
                                           description="More images you may see, used without downloading them (the "
                                                       "image plus these stay within the model's reference limit).")
    model: ModelLiteral | None = None
    resolution: ResolutionLiteral | None = None
    size: SizeLiteral | None = None
    aspect_ratio: RatioLiteral | None = Field(None, description="Default: auto where the model has it, else the "
                                              "source's ratio.")


class VersionOut(BaseModel):
    image_id: int
    parent_image_id: int | None
    prompt_id: int
    instruction: str
    created_at: str


class VersionsOut(BaseModel):
    image_id: int
    root_id: int
    chain: list[int] = Field(description='Root first, ending with this image: its parent chain.')
    children: list[int] = Field(description='Direct edits of this image.')
    versions: list[VersionOut] = Field(description='Every version under the root, oldest first.')


def build_edits_router(services: 'Services', Who: Any) -> APIRouter:
    """Long because: three routes whose parameters (one a line, each with its description) are their documentation."""
    router = APIRouter(tags=['images'])

    @router.post('/images/{image_id}/edit', response_model=Envelope[PromptOut], status_code=202, responses=BY_ID,
                 summary='Edit an image by instruction (a new version)')
    async def edit_image(image_id: IdPath, body: EditIn, request: Request, who: Who) -> JSONResponse:
        """Starts a generation whose source is this image; follow it at `status_url`. Its images are versions of
        this one (`GET /images/{id}/versions`)."""
        prompt = await services.edits.edit(who.id, image_id, body.instruction,
                                           reference_image_ids=body.reference_image_ids, model=body.model,
                                           resolution=body.resolution, size=body.size, aspect_ratio=body.aspect_ratio)
        return ok(prompt_out(base(request), prompt), 202, {'Location': f'/api/v1/prompts/{prompt.id}'})

    @router.post('/images/{image_id}/edit/upload', response_model=Envelope[PromptOut], status_code=202,
                 responses=BY_ID, summary='Edit an image by instruction, with uploaded reference images (multipart)')
    async def edit_image_upload(image_id: IdPath, request: Request, who: Who,
                                instruction: Annotated[str, Form(min_length=1, max_length=20_000)],
                                reference_images: Annotated[list[UploadFile], File(
                                    description='1 or more PNG, JPEG or WebP images (10 MiB each at most): with the '
                                                "image itself, within the model's reference limit.")],
                                model: Annotated[ModelLiteral | None, Form()] = None,
                                resolution: Annotated[ResolutionLiteral | None, Form()] = None,
                                aspect_ratio: Annotated[RatioLiteral | None, Form()] = None) -> JSONResponse:
        """Like `/images/{id}/edit`, with the extra references sent as files: each is checked (a real image, not
        too large), stored privately, and handed to the provider as a short-lived URL."""
        if not reference_images:
            raise InvalidInput('Send at least one reference image (or use /edit without files).',
                               field='reference_images')
        uploads = [await f.read(MAX_UPLOAD_BYTES + 1) for f in reference_images]
        prompt = await services.edits.edit(who.id, image_id, instruction, uploads=uploads, model=model,
                                           resolution=resolution, aspect_ratio=aspect_ratio)
        return ok(prompt_out(base(request), prompt), 202, {'Location': f'/api/v1/prompts/{prompt.id}'})

    @router.get('/images/{image_id}/versions', response_model=Envelope[VersionsOut], responses=BY_ID,
                summary="An image's versions")
    async def versions(image_id: IdPath, who: Who) -> JSONResponse:
        lineage = await services.edits.lineage(who.id, image_id)
        return ok(VersionsOut(image_id=lineage.image_id, root_id=lineage.root_id, chain=lineage.chain,
                              children=lineage.children,
                              versions=[VersionOut(image_id=v.image_id, parent_image_id=v.parent_image_id,
                                                   prompt_id=v.prompt_id, instruction=v.instruction,
                                                   created_at=v.created_at_iso) for v in lineage.versions]))

    return router
