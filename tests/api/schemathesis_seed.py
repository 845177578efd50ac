"""Seed a fresh database for the schemathesis run in .ci/run (``manage.py shell < this``):
a superuser and a cataloguer+restorer (who cannot see restricted records), their tokens
printed on the last line, and a few records of each kind so that generated ids 1..3 reach
real objects, restricted ones included."""

import io

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from PIL import Image
from rest_framework.authtoken.models import Token

from archive.models import Citation, Note, ReferenceImage, Source
from archive.services import figure_create, photo_ingest


def png(seed: int) -> io.BytesIO:
    pixels = np.random.default_rng(seed).integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    buf.seek(0)
    return buf


user = get_user_model().objects.create_superuser("fuzz", password="fuzz-pw-1")
for i, restricted in enumerate((False, False, True), start=1):
    figure = figure_create(
        name=f"Figure {i}",
        names=[{"name": f"人物{i}", "language": "zh-Hans"}],
        restricted=restricted,
    )
    source = Source.objects.create(title=f"Source {i}", restricted=restricted)
    photo = photo_ingest(
        stream=png(i),
        filename=f"scan{i}.png",
        title=f"Photo {i}",
        user=user,
        figure_ids=[figure.pk],
        metadata={"restricted": restricted},
    ).photo
    citation = Citation.objects.create(source=source, locator=f"p. {i}", target=photo)
    Note.objects.create(title=f"Note {i}", body="text", figure=figure, restricted=restricted)
    ReferenceImage.objects.create(artifact=photo.master, figure=figure, title=f"Ref {i}")
writer = get_user_model().objects.create_user("fuzz-writer", password="fuzz-pw-2")
writer.groups.add(*Group.objects.filter(name__in=["cataloguer", "restorer"]))
print(Token.objects.create(user=user).key, Token.objects.create(user=writer).key)
