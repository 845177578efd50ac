from django.urls import path

from interop import oai, views

app_name = "interop"

urlpatterns = [
    path("iiif/photos/<int:pk>/manifest.json", views.photo_manifest, name="photo-manifest"),
    path("iiif/films/<int:pk>/manifest.json", views.film_manifest, name="film-manifest"),
    path(
        "iiif/figures/<int:pk>/collection.json",
        views.figure_collection,
        name="figure-collection",
    ),
    path("iiif/images/<int:pk>", views.image_base, name="image"),
    path("iiif/images/<int:pk>/info.json", views.image_info, name="image-info"),
    path(
        "iiif/images/<int:pk>/<str:region>/<str:size>/<str:rotation>/<str:quality>.<str:fmt>",
        views.image_tile,
        name="image-tile",
    ),
    path("oai", oai.endpoint, name="oai"),
]
