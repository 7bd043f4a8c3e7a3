"""Edit by instruction and versions: an image (plus optional references) and an instruction make a new generation
whose images are versions of that image; the lineage of any version is its parent chain and its descendants."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.generation.catalogue import model_spec, offered_models
from nanogen.generation.requests import GenerationRequest, validate_request
from nanogen.generation.service import GenerationService
from nanogen.images.references import Reference, ReferenceStore
from nanogen.images.storage import Storage
from nanogen.library.board_access import visible_image, visible_images, visible_to
from nanogen.library.queries import own_images
from nanogen.models import Image, Prompt

log = logging.getLogger(__name__)
MAX_DEPTH = 200  # a lineage longer than this is cut (ids never loop, but a bound costs nothing)


@dataclass(frozen=True)
class Version:
    image_id: int
    parent_image_id: int | None
    prompt_id: int
    instruction: str  # the prompt that made it (the instruction, for an edit)
    created_at_iso: str


@dataclass(frozen=True)
class Lineage:
    image_id: int
    root_id: int
    chain: list[int]  # root first, ending with image_id
    children: list[int]  # direct edits of image_id
    versions: list[Version]  # the whole tree under the root, oldest first


class Edits:
    def __init__(self, *, db: Database, storage: Storage, references: ReferenceStore | None,
                 generation: GenerationService, settings: Settings) -> None:
        self.db, self.storage, self.references = db, storage, references
        self.generation, self.settings = generation, settings

    async def edit(self, user_id: int, image_id: int, instruction: object, *, reference_image_ids: Sequence[int] = (),
                   uploads: Sequence[bytes] = (), model: object = None, resolution: object = None,
                   size: object = None, aspect_ratio: object = None) -> Prompt:
        """Start the edit of an image the user may see (their own, or one on a board shared with their group); the
        result is the editor's, a new version whose parent is that image, and the original is never changed.
        NotFound for an image the user may not see (the source or a reference)."""
        source, extras = await self.db.run(lambda s: (visible_image(s, user_id, image_id),
                                                      visible_images(s, user_id, list(reference_image_ids))))
        missing = [i for i in reference_image_ids if i not in extras]
        if missing:
            raise NotFound('That image does not exist.')
        prompt = await self.db.run(lambda s: s.get(Prompt, source.prompt_id))
        spec = model_spec(self.settings, model)
        ratio = aspect_ratio or ('auto' if 'auto' in spec.ratios else
                                 prompt.aspect_ratio if prompt and prompt.aspect_ratio in spec.ratios else '1:1')
        count = 1 + len(reference_image_ids) + len(uploads)
        if count > spec.max_references:
            raise InvalidInput(f'{spec.name} takes the image and at most {spec.max_references - 1} more reference '
                               'images.', field='reference_image_ids')
        # Validate everything before storing anything (with placeholder URLs), then store the references.
        fields = dict(prompt=instruction, model=spec.id, resolution=resolution if spec.by_resolution else None,
                      size=size if not spec.by_resolution else None, aspect_ratio=ratio, settings=self.settings,
                      max_prompt_length=self.settings.prompt_max_length)
        validate_request(reference_urls=tuple(f'https://x.invalid/{n}' for n in range(count)), **fields)  # type: ignore[arg-type]
        urls = [await self._reference_url(user_id, image) for image in (source, *(extras[i] for i in reference_image_ids))]
        urls += [await self._upload_url(user_id, data) for data in uploads]
        req = validate_request(reference_urls=tuple(urls), **fields)  # type: ignore[arg-type]
        created = await self.generation.create(user_id, _with_source(req, image_id))
        log.info('prompt %s edits image %s for user %s', created.id, image_id, user_id)
        return created

    async def gallery_references(self, user_id: int, image_ids: Sequence[int]) -> list[Reference]:
        """Gallery images as the generator's references (compose): each copied into the user's reference store on the
        server, nobody downloads them. NotFound when one is not the user's; at most the largest model limit."""
        wanted = list(dict.fromkeys(image_ids))
        most = max(spec.max_references for spec in offered_models(self.settings))
        if len(wanted) > most:
            raise InvalidInput(f'Use at most {most} reference images.', field='reference_image_ids')
        found = await self.db.run(lambda s: own_images(s, user_id, wanted))
        if any(i not in found for i in wanted):
            raise NotFound('That image does not exist.')
        if self.references is None or not self.references.available:
            raise InvalidInput('Reference images are not set up here.', field='reference_image_ids')
        return [await self.references.save(user_id, await self.storage.get(found[i].key)) for i in wanted]

    async def _reference_url(self, user_id: int, image: Image) -> str:
        """The image as a reference: copied into the user's reference store, served by a short-lived signed URL."""
        if self.references is None or not self.references.available:
            raise InvalidInput('Reference images are not set up, so images cannot be edited here.', field='image')
        ref = await self.references.save(user_id, await self.storage.get(image.key))
        return await self.references.url_for(user_id, ref.key)

    async def _upload_url(self, user_id: int, data: bytes) -> str:
        assert self.references is not None
        ref = await self.references.save(user_id, data)
        return await self.references.url_for(user_id, ref.key)

    async def lineage(self, user_id: int, image_id: int) -> Lineage:
        """The versions of an image the user may see, and only those: their own, and those on a board shared with
        their group. NotFound for an image they may not see. The walk stops at a version they may not see (a
        teammate's unshared edit, or anything under it), so no id of one is ever given out."""
        def work(s: Session) -> Lineage:
            image = visible_image(s, user_id, image_id)
            chain = [image]
            while chain[0].parent_image_id is not None and len(chain) < MAX_DEPTH:
                parent = visible_images(s, user_id, [chain[0].parent_image_id]).get(chain[0].parent_image_id)
                if parent is None:
                    break  # purged, deleted or not visible to this user: the lineage starts here
                chain.insert(0, parent)
            tree = [chain[0]]
            frontier = [chain[0].id]
            while frontier and len(tree) < MAX_DEPTH:
                found = list(s.exec(visible_to(select(Image).where(col(Image.parent_image_id).in_(frontier)),
                                               user_id)))
                tree += found
                frontier = [i.id for i in found]
            shown = {i.id for i in tree}
            prompts = {p.id: p for p in s.exec(select(Prompt).where(col(Prompt.id).in_({i.prompt_id for i in tree})))}
            tree.sort(key=lambda i: (i.created_at, i.id or 0))
            versions = [Version(image_id=i.id or 0,
                                parent_image_id=i.parent_image_id if i.parent_image_id in shown else None,
                                prompt_id=i.prompt_id,
                                instruction=prompts[i.prompt_id].prompt if i.prompt_id in prompts else '',
                                created_at_iso=i.created_at.isoformat()) for i in tree]
            return Lineage(image_id=image_id, root_id=chain[0].id or 0, chain=[i.id or 0 for i in chain],
                           children=[v.image_id for v in versions if v.parent_image_id == image_id],
                           versions=versions)
        return await self.db.run(work)


def _with_source(req: GenerationRequest, image_id: int) -> GenerationRequest:
    from dataclasses import replace
    return replace(req, source_image_id=image_id)
