"""The REST API (mounted at /api/v1/ and, for convenience, /api/). See DESIGN.md, REST contract."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api.views import catalogue, evidence, faces, films, jobs, lineage, not_found
from api.views import search as search_views
from interop.api import PhotoBagView

app_name = "api"

router = SimpleRouter()
router.register("figures", catalogue.FigureViewSet, basename="figure")
router.register("sources", catalogue.SourceViewSet, basename="source")
router.register("citations", catalogue.CitationViewSet, basename="citation")
router.register("references", catalogue.ReferenceViewSet, basename="reference")
router.register("notes", catalogue.NoteViewSet, basename="note")
router.register("photos", catalogue.PhotoViewSet, basename="photo")
router.register("films", films.FilmViewSet, basename="film")
router.register("artifacts", lineage.ArtifactViewSet, basename="artifact")
router.register("steps", lineage.StepViewSet, basename="step")
router.register("jobs", jobs.JobViewSet, basename="job")
router.register("operations", jobs.OperationsView, basename="operation")
router.register("models", jobs.ModelWeightsViewSet, basename="model")
router.register("faces", faces.FaceViewSet, basename="face")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Issue 11: revisions, evidence as used, the transparency log.
    *[
        path(
            f"{route}/<int:pk>/revisions/", evidence.revisions_view(kind), name=f"{kind}-revisions"
        )
        for route, kind in evidence.ROUTES.items()
    ],
    path("steps/<int:pk>/evidence/", evidence.StepEvidenceView.as_view(), name="step-evidence"),
    path("steps/<int:pk>/proof/", evidence.StepProofView.as_view(), name="step-proof"),
    path("revisions/<int:pk>/proof/", evidence.RevisionProofView.as_view(), name="revision-proof"),
    path("audits/<int:pk>/proof/", evidence.AuditProofView.as_view(), name="audit-proof"),
    path("checkpoints/latest/", evidence.LatestCheckpointView.as_view(), name="checkpoint-latest"),
    path(
        "checkpoints/consistency/",
        evidence.ConsistencyView.as_view(),
        name="checkpoint-consistency",
    ),
    # Issue 15: a photo's lineage as a zipped BagIt bag.
    path("photos/<int:pk>/bag/", PhotoBagView.as_view(), name="photo-bag"),
    path("prov/context.jsonld", evidence.ProvContextView.as_view(), name="prov-context"),
    path("search/", search_views.SearchView.as_view(), name="search"),
    path(
        "artifacts/<int:pk>/bundle/", evidence.ArtifactBundleView.as_view(), name="artifact-bundle"
    ),
    path("figures/<int:pk>/faces/", faces.FigureFacesView.as_view(), name="figure-faces"),
    *router.urls,
    # Anything else under the API that ends in a slash: a JSON 404 (a path without the slash
    # still gets Django's APPEND_SLASH redirect when the slashed path exists).
    re_path(r"^.*/$", not_found),
]
