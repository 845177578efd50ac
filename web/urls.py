from django.urls import path

from web.views import artifacts, catalogue, jobs

app_name = "web"

urlpatterns = [
    path("", catalogue.home, name="home"),
    path("search/", catalogue.search, name="search"),
    path("figures/<int:pk>/", catalogue.figure_detail, name="figure"),
    path("photos/<int:pk>/", catalogue.photo_detail, name="photo"),
    path("references/<int:pk>/", catalogue.reference_detail, name="reference"),
    path("artifacts/<int:pk>/", artifacts.artifact_detail, name="artifact"),
    path("artifacts/<int:pk>/file/", artifacts.artifact_file, name="artifact-file"),
    path("artifacts/<int:pk>/preview.jpg", artifacts.artifact_preview, name="artifact-preview"),
    path("artifacts/<int:pk>/heatmap.png", artifacts.artifact_heatmap, name="artifact-heatmap"),
    path("artifacts/<int:pk>/verify/", artifacts.artifact_verify, name="artifact-verify"),
    path("artifacts/<int:pk>/export/", artifacts.artifact_export, name="artifact-export"),
    path("artifacts/<int:pk>/prov/", artifacts.artifact_prov, name="artifact-prov"),
    path("artifacts/<int:pk>/restore/", jobs.job_new, name="job-new"),
    path("artifacts/<int:pk>/manual/", jobs.manual_step_new, name="manual-new"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/status.json", jobs.job_status, name="job-status"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel_view, name="job-cancel"),
]
