from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from archive.models import Figure, Photo


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/home.html",
        {"photos": Photo.objects.filter(restricted=False)[:50], "figures": Figure.objects.filter(restricted=False)[:50]},
    )
