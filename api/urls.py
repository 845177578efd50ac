"""The REST API (mounted at /api/v1/ and, for convenience, /api/). See DESIGN.md, REST contract."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api.views import catalogue, jobs, lineage, not_found

app_name = "api"

router = SimpleRouter()
router.register("figures", catalogue.FigureViewSet, basename="figure")
router.register("sources", catalogue.SourceViewSet, basename="source")
router.register("citations", catalogue.CitationViewSet, basename="citation")
router.register("references", catalogue.ReferenceViewSet, basename="reference")
router.register("notes", catalogue.NoteViewSet, basename="note")
router.register("photos", catalogue.PhotoViewSet, basename="photo")
router.register("artifacts", lineage.ArtifactViewSet, basename="artifact")
router.register("steps", lineage.StepViewSet, basename="step")
router.register("jobs", jobs.JobViewSet, basename="job")
router.register("operations", jobs.OperationsView, basename="operation")
router.register("models", jobs.ModelWeightsViewSet, basename="model")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
    # Anything else under the API that ends in a slash: a JSON 404 (a path without the slash
    # still gets Django's APPEND_SLASH redirect when the slashed path exists).
    re_path(r"^.*/$", not_found),
]
