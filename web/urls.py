from django.urls import path

from web.views import artifacts, catalogue, edit, films, jobs, search, workbench

app_name = "web"

urlpatterns = [
    path("", catalogue.home, name="home"),
    path("search/", search.search, name="search"),
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
    path("artifacts/<int:pk>/restore/", workbench.job_new, name="job-new"),
    path("artifacts/<int:pk>/manual/", jobs.manual_step_new, name="manual-new"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/status.json", jobs.job_status, name="job-status"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel_view, name="job-cancel"),
    # Issue 14: the workbench (cataloguing, previews, masks, batches, approval).
    path("figures/new/", edit.figure_edit, name="figure-new"),
    path("figures/<int:pk>/edit/", edit.figure_edit, name="figure-edit"),
    path("photos/upload/", edit.photo_upload, name="photo-upload"),
    path("photos/<int:pk>/edit/", edit.photo_edit, name="photo-edit"),
    path("photos/<int:pk>/approve/", workbench.photo_approve_view, name="photo-approve"),
    path("sources/new/", edit.source_edit, name="source-new"),
    path("sources/<int:pk>/", edit.source_detail, name="source"),
    path("sources/<int:pk>/edit/", edit.source_edit, name="source-edit"),
    path("citations/new/", edit.citation_new, name="citation-new"),
    path("notes/new/", edit.note_edit, name="note-new"),
    path("notes/<int:pk>/", edit.note_detail, name="note"),
    path("notes/<int:pk>/edit/", edit.note_edit, name="note-edit"),
    path("references/new/", edit.reference_edit, name="reference-new"),
    path("references/<int:pk>/edit/", edit.reference_edit, name="reference-edit"),
    path("edtf/", edit.edtf_check, name="edtf-check"),
    path("artifacts/<int:pk>/hints-preview.png", workbench.hints_preview, name="hints-preview"),
    path("artifacts/<int:pk>/auto-mask.png", workbench.auto_mask, name="auto-mask"),
    path("artifacts/<int:pk>/masks/", workbench.mask_save, name="mask-save"),
    path("batches/new/", workbench.batch_new, name="batch-new"),
    path("batches/<int:pk>/", workbench.batch_detail, name="batch"),
    path("batches/<int:pk>/status.json", workbench.batch_status, name="batch-status"),
    # Issue 13: films.
    path("films/", films.film_list, name="films"),
    path("films/<int:pk>/", films.film_detail, name="film"),
    path("films/<int:pk>/run/", films.film_job_new, name="film-job-new"),
    path("artifacts/<int:pk>/proxy.mp4", films.artifact_proxy, name="artifact-proxy"),
    path("artifacts/<int:pk>/strip.jpg", films.step_strip, name="film-strip"),
]
