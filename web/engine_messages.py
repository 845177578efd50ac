"""The engine's own English texts (operation descriptions, parameter help, default texts
such as animate's label), marked here so
that ``makemessages`` puts them in the catalogue: the engine cannot import Django. The
workbench translates ``op.description`` and ``spec.description`` with these msgids; a test
checks that each current engine text has a translation (an edited text shows in English
until it is translated again)."""

from django.utils.translation import gettext_noop

ENGINE_MESSAGES = (
    gettext_noop(
        "Animate a still portrait: a subtle smile, blinks, eye contact and a small nod or tilt, from dense face landmarks (MediaPipe's face mesh and iris models, no downloaded weights) and a landmark-driven deformation. Synthetic: the person did not move like this, and the clip carries a burnt-in label saying so unless `label` is false."
    ),
    gettext_noop(
        "0 = none; 1 lifts the mouth corners by 0.06 inter-ocular distances (as a face-landmark model measures them); the default is subtle"
    ),
    gettext_noop("blinks in the clip, evenly spaced"),
    gettext_noop("blink centres in seconds (overrides the even spacing; kept inside the clip)"),
    gettext_noop(
        # xgettext:no-python-format
        "seconds per blink; lengthened when needed so that no landmark moves more than 1.1 % of the face width between frames"
    ),
    gettext_noop(
        "viewer: irises to the centre of the eye opening (eye contact); keep: as in the still; left/right/up/down: towards that side (image directions)"
    ),
    gettext_noop(
        "which face: 'largest', 'all', an index (0 = largest) or a box [x0, y0, x1, y1] in pixels (the detected face that overlaps it most)"
    ),
    gettext_noop(
        "which eyes blink: both, or one (a wink): right/left are the subject's, image-left/image-right as seen"
    ),
    gettext_noop("nod amplitude, degrees"),
    gettext_noop("tilt amplitude, degrees"),
    gettext_noop("seconds"),
    gettext_noop("frames per second: a number or 'num/den' (at most 60)"),
    gettext_noop("ping-pong: every motion returns to rest, so the clip loops without a jump"),
    gettext_noop("which face: 'largest', 'all', or an index (0 = largest)"),
    gettext_noop("burn in the label (strongly recommended)"),
    gettext_noop("the label in the interface language (the caller passes it)"),
    gettext_noop("how poses become pixels"),
    gettext_noop("Animated from a still photograph: this person did not move like this"),
    gettext_noop("Contrast-limited adaptive histogram equalisation on lightness (a/b kept)."),
    gettext_noop("number of tiles along each axis"),
    gettext_noop(
        "Match the mean and spread of CIE Lab channels to a reference image (Reinhard et al. 2001). With `keep_lightness` only a/b are transferred, so tones of the scan are kept."
    ),
    gettext_noop("artifact id of the reference image (input role `reference`)"),
    gettext_noop(
        "AI colourisation (DDColor-style models). Only the model's a*/b* chroma is used: lightness is the input's own, so tones and detail are never altered."
    ),
    gettext_noop("registered model name or id (purpose colorize)"),
    gettext_noop("scale of the predicted chroma"),
    gettext_noop(
        "Colourise from colour hints (points or strokes, each optionally citing its source) by the optimisation of Levin, Lischinski & Weiss (2004). Lightness is kept from the input."
    ),
    gettext_noop("[{x, y, color '#rrggbb', radius?, citation?}] or strokes {points, color, ...}"),
    gettext_noop("largest working size of the linear system (memory and time grow with it)"),
    gettext_noop("Cut out a rectangle given in input pixel coordinates."),
    gettext_noop("{x, y, width, height}"),
    gettext_noop(
        "Non-local means denoising (Buades et al. 2005). Colour images are denoised in CIE Lab with a separate chroma strength, so film grain is removed without smearing colour edges."
    ),
    gettext_noop("filter strength h on the 0..255 scale; 0 returns the input"),
    gettext_noop("chroma strength; defaults to `strength`"),
    gettext_noop(
        "Detect scratches, creases, cracks and dust automatically (or take a given mask, input role `mask`), output the mask (role `mask`) and inpaint the damaged pixels only."
    ),
    gettext_noop("higher finds fainter damage (and risks more false alarms)"),
    gettext_noop("bright: lost emulsion on prints; dark: scratched negatives"),
    gettext_noop("widest damage to detect, in pixels per 512 px of image side"),
    gettext_noop("shortest straight stretch that counts as a scratch (per 512 px)"),
    gettext_noop("also remove small isolated specks"),
    gettext_noop("largest speck area in pixels (per 512x512)"),
    gettext_noop("grow the mask by this many pixels to cover halos"),
    gettext_noop("artifact id of a damage mask (input role `mask`; non-zero = damaged)"),
    gettext_noop("detect damage; with a given mask, detection is added to it only if true"),
    gettext_noop(
        "Detect faces and 5 landmarks (MTCNN), align each to the FFHQ 512 template, restore it with a face model (GFPGAN, CodeFormer, RestoreFormer) and paste it back with a feathered mask."
    ),
    gettext_noop("registered model name or id (purpose face_restore)"),
    gettext_noop("CodeFormer only: 0 = strongest restoration, 1 = closest to the input"),
    gettext_noop("smallest face side to detect, in pixels"),
    gettext_noop("lowest detector confidence restored: a false face would be painted over"),
    gettext_noop("blend of the restored face over the original inside the mask"),
    gettext_noop("Convert to one-channel grey."),
    gettext_noop("luma weights, or CIE L* rescaled to 0..255"),
    gettext_noop(
        "Rotate counter-clockwise by `angle` degrees. Multiples of 90 are exact (no resampling); other angles use Lanczos and, with `expand`, enlarge the canvas to keep every pixel."
    ),
    gettext_noop("Unsharp mask on lightness: out = L + amount * (L - gaussian(L, radius))."),
    gettext_noop("gaussian sigma in pixels"),
    gettext_noop("ignore differences below this (0..1 scale): keeps grain flat"),
    gettext_noop(
        "AI super-resolution with any architecture spandrel detects (ESRGAN, SwinIR, HAT, ...), tiled."
    ),
    gettext_noop("registered model name or id (purpose sr)"),
    gettext_noop("tile side in input pixels; 0 = chosen from free memory"),
    gettext_noop("Lanczos (8x8 kernel) resampling by a scale factor; no detail is invented."),
)
