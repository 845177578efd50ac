// OpenSeadragon on every .deepzoom element: the IIIF level-0 tiles of a large image.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof OpenSeadragon === "undefined") return; // npm package not installed: preview only
  document.querySelectorAll(".deepzoom[data-info]").forEach(function (el) {
    var viewer = OpenSeadragon({
      element: el,
      tileSources: el.dataset.info,
      prefixUrl: el.dataset.images,
      showNavigator: true,
      crossOriginPolicy: false,
      maxZoomPixelRatio: 2,
    });
    el.osd = viewer;
    viewer.addHandler("tile-loaded", function () { el.dataset.tilesLoaded = String((+el.dataset.tilesLoaded || 0) + 1); });
    viewer.addHandler("open", function () {
      el.dataset.opened = "1";
      // The deep-zoom view replaces the static preview just before it (kept without JS).
      var prev = el.previousElementSibling;
      var img = prev && (prev.tagName === "IMG" ? prev : prev.querySelector("img"));
      if (img) (img.closest("a") || img).style.display = "none";
    });
  });
});
