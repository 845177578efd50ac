"""One settings module, driven by environment variables (see DESIGN.md, configuration contract).

With no variables set it runs the embedded mode: SQLite, in-process workers, local files under
``ARCHIVE_DATA_DIR``. Production (``DEBUG`` off) refuses to start without a real ``SECRET_KEY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
SHARED_DIR = (BASE_DIR.parent / "shared").resolve()

ARCHIVE_DATA_DIR = env_path("ARCHIVE_DATA_DIR", BASE_DIR / "var")
ARCHIVE_DATA_DIR.mkdir(parents=True, exist_ok=True)
MODELS_DIR = env_path("MODELS_DIR", ARCHIVE_DATA_DIR / "models")
# MTCNN face detector weights: MODELS_DIR/mtcnn first, then ../shared/models/mtcnn.
MTCNN_DIRS = [MODELS_DIR / "mtcnn", SHARED_DIR / "models" / "mtcnn"]

DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "dev-only-insecure-secret-key-for-the-embedded-mode"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET)
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("SECRET_KEY must be set to a real secret when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Behind TLS (waitress speaks plain HTTP: a reverse proxy terminates TLS in front of it).
# ARCHIVE_HTTPS=1 makes the cookies secure, sends HSTS and redirects plain HTTP to HTTPS;
# `manage.py check --deploy` is then clean. /healthz stays reachable over plain HTTP for the
# load balancer's probes.
ARCHIVE_HTTPS = env_bool("ARCHIVE_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = ARCHIVE_HTTPS
SECURE_SSL_REDIRECT = ARCHIVE_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("ARCHIVE_HSTS_SECONDS", 365 * 24 * 3600 if ARCHIVE_HTTPS else 0)
# Preloading needs includeSubDomains; turn both off for an archive on a subdomain of a site
# that still serves plain HTTP elsewhere (check --deploy then says so: W005, W021).
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = env_bool("ARCHIVE_HSTS_PRELOAD", True)
# The reverse proxy's address ("*": any): waitress then takes the client's address and the
# scheme from its X-Forwarded-For / X-Forwarded-Proto (the per-IP login limit and the HTTPS
# redirect need both), and drops those headers from anyone else. Django trusts the scheme
# header too, for WSGI servers other than waitress.
ARCHIVE_TRUSTED_PROXY = env_str("ARCHIVE_TRUSTED_PROXY", "")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if ARCHIVE_TRUSTED_PROXY else None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "archive",
    "restoration",
    "api",
    "web",
    "interop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost, so it sees a page view's exception first: a full disk is a 507 page.
    "config.errors.DiskFullMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{ARCHIVE_DATA_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web threads and the in-process workers share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DB_IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if DB_IS_POSTGRES:
    # Before ANALYZE, the planner overestimates the recursive lineage queries and JIT-compiles
    # them (~0.4 s each); they take ~1 ms interpreted.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = ARCHIVE_DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# The deep-zoom viewer, installed from npm by `make run` (package.json; no CDN).
_OSD = BASE_DIR / "node_modules" / "openseadragon" / "build" / "openseadragon"
if _OSD.is_dir():
    STATICFILES_DIRS.append(("vendor/openseadragon", _OSD))  # type: ignore[arg-type]

# Stored objects (content-addressed artifacts under objects/ab/cd/<sha256>, previews under
# previews/) go through Django's storage API so that S3-compatible storage can replace it.
STORAGE_ROOT = env_path("ARCHIVE_STORAGE_DIR", ARCHIVE_DATA_DIR / "storage")
STORAGES = {
    "default": {
        "BACKEND": "restoration.storage.AtomicFileSystemStorage",
        "OPTIONS": {"location": str(STORAGE_ROOT)},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# ARCHIVE_STORAGE=s3: the same keys in an S3-compatible bucket (interop/storage.py). Objects
# are written once; with ARCHIVE_S3_OBJECT_LOCK_DAYS > 0 (and a bucket created with Object Lock)
# the server refuses to delete or overwrite them for that long. Credentials: ARCHIVE_S3_ACCESS_KEY
# / ARCHIVE_S3_SECRET_KEY, else boto3's own chain (AWS_ACCESS_KEY_ID, instance roles, ...).
ARCHIVE_STORAGE = env_str("ARCHIVE_STORAGE", "local")
ARCHIVE_S3_OBJECT_LOCK_DAYS = env_int("ARCHIVE_S3_OBJECT_LOCK_DAYS", 0)
ARCHIVE_S3_OBJECT_LOCK_MODE = env_str("ARCHIVE_S3_OBJECT_LOCK_MODE", "GOVERNANCE")
if ARCHIVE_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "interop.storage.ContentAddressedS3Storage",
        "OPTIONS": {
            "bucket_name": env_str("ARCHIVE_S3_BUCKET", "archive"),
            "endpoint_url": env_str("ARCHIVE_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("ARCHIVE_S3_REGION", "us-east-1"),
            "access_key": env_str("ARCHIVE_S3_ACCESS_KEY", "") or None,
            "secret_key": env_str("ARCHIVE_S3_SECRET_KEY", "") or None,
            "location": env_str("ARCHIVE_S3_PREFIX", ""),
            "addressing_style": env_str("ARCHIVE_S3_ADDRESSING_STYLE", "path"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,  # keys are content addresses; see the storage class
        },
    }
elif ARCHIVE_STORAGE != "local":
    raise ImproperlyConfigured(f"ARCHIVE_STORAGE={ARCHIVE_STORAGE!r}: use local or s3")
# IIIF (interop/): stills whose longest side is over ARCHIVE_IIIF_MIN_SIDE get level-0 tiles,
# made in the background after ingest or restoration. The organisation and base URL name the
# archive in BagIt bags and OAI-PMH made outside a request (manage.py export_bag).
ARCHIVE_IIIF_MIN_SIDE = env_int("ARCHIVE_IIIF_MIN_SIDE", 2000)
ARCHIVE_IIIF_TILE_SIZE = env_int("ARCHIVE_IIIF_TILE_SIZE", 512)
# The tiler's child process's memory budget (RLIMIT_AS, as the engine workers); 0: the same as
# ARCHIVE_WORKER_MEMORY_MB.
ARCHIVE_TILES_MEMORY_MB = env_int("ARCHIVE_TILES_MEMORY_MB", 0)
ARCHIVE_ORGANIZATION = env_str("ARCHIVE_ORGANIZATION", "Photo restoration archive")
ARCHIVE_BASE_URL = env_str("ARCHIVE_BASE_URL", "http://127.0.0.1:8000")
# The transparency log (issue 11): the Ed25519 key that signs checkpoints (PEM, PKCS#8; made
# on first use, mode 0600) and the origin line each checkpoint names (which log it is).
# Empty: $ARCHIVE_DATA_DIR/keys/checkpoint-ed25519.pem (read when signing, so a data directory
# set later, as the tests do, keeps its own key).
ARCHIVE_CHECKPOINT_KEY = env_str("ARCHIVE_CHECKPOINT_KEY", "")
ARCHIVE_LOG_ORIGIN = env_str("ARCHIVE_LOG_ORIGIN", "photo-archive")

# Ingest limits (bad input is refused with a precise message, never a 500).
ARCHIVE_MAX_UPLOAD_BYTES = env_int("ARCHIVE_MAX_UPLOAD_MB", 1024) * 1024 * 1024
ARCHIVE_MAX_PIXELS = env_int("ARCHIVE_MAX_MEGAPIXELS", 400) * 1_000_000
ARCHIVE_PREVIEW_SIZE = env_int("ARCHIVE_PREVIEW_SIZE", 1024)
# Django's own request limits; under /api/ they answer in the JSON error shape (api/errors.py):
# non-file data over DATA_UPLOAD_MAX_MEMORY_SIZE (JSON and form bodies too: api/parsers.py)
# is a 413, too many fields or files a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ARCHIVE_MAX_BODY_MB", 10) * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("ARCHIVE_MAX_FIELDS", 1000)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("ARCHIVE_MAX_FILES", 100)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# JSON bodies nested deeper than this are a 400 (api/parsers.py); the API's deepest request
# (colour-hint strokes) nests 8 levels.
ARCHIVE_JSON_MAX_DEPTH = env_int("ARCHIVE_JSON_MAX_DEPTH", 32)

# waitress (`manage.py serve`): the most connections it holds open (more wait in the listen
# backlog), how long an idle or stalled connection is kept, how often that is checked, and the
# largest request body it reads: the upload limit plus room for the multipart envelope, so an
# upload at the limit reaches Django's own precise 413.
WAITRESS_OPTIONS: dict[str, object] = {
    "connection_limit": env_int("ARCHIVE_CONNECTION_LIMIT", 100),
    "channel_timeout": env_int("ARCHIVE_CHANNEL_TIMEOUT_S", 120),
    "cleanup_interval": env_int("ARCHIVE_CLEANUP_INTERVAL_S", 30),
    "max_request_body_size": ARCHIVE_MAX_UPLOAD_BYTES + DATA_UPLOAD_MAX_MEMORY_SIZE,
}
if ARCHIVE_TRUSTED_PROXY:
    WAITRESS_OPTIONS |= {
        "trusted_proxy": ARCHIVE_TRUSTED_PROXY,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
        "clear_untrusted_proxy_headers": True,
    }

# Model registry policy.
ARCHIVE_ALLOW_NONCOMMERCIAL_MODELS = env_bool("ARCHIVE_ALLOW_NONCOMMERCIAL_MODELS", True)
# Anonymous users see nothing unless this makes the non-restricted catalogue public.
ARCHIVE_PUBLIC_CATALOGUE = env_bool("ARCHIVE_PUBLIC_CATALOGUE", False)

# Content Credentials signing material (python manage.py c2pa_init makes a local dev CA).
C2PA_DIR = ARCHIVE_DATA_DIR / "c2pa"
C2PA_CERT_CHAIN = env_path("C2PA_CERT_CHAIN", C2PA_DIR / "chain.pem")
C2PA_PRIVATE_KEY = env_path("C2PA_PRIVATE_KEY", C2PA_DIR / "leaf.key")
C2PA_TRUST_ANCHORS = env_path("C2PA_TRUST_ANCHORS", C2PA_DIR / "ca.pem")

# Jobs (restoration/jobs.py, restoration/runner.py). BROKER_URL=memory: `manage.py serve` runs
# dramatiq worker threads in its own process on an in-memory StubBroker; nothing is lost by a
# crash because jobs are rows first and `serve` re-enqueues unfinished ones at start-up.
# redis:// or amqp://: any number of `python manage.py rundramatiq` workers.
BROKER_URL = env_str("BROKER_URL", "memory")
BROKER_IS_MEMORY = BROKER_URL == "memory"
DRAMATIQ_WORKER_THREADS = env_int("DRAMATIQ_WORKER_THREADS", 2)
JOBS_QUEUE = env_str("JOBS_QUEUE", "restoration")
# A queue of its own for jobs with an AI step (restoration.jobs.job_queue), for the GPU
# machines' workers (`rundramatiq --queues <it>`, one process per GPU); empty: one queue.
ARCHIVE_GPU_QUEUE = env_str("ARCHIVE_GPU_QUEUE", "")
# The engine's device ("cpu", "cuda", "cuda:1"); empty: the worker picks CUDA for AI operations
# when the machine has it, the CPU otherwise.
ARCHIVE_DEVICE = env_str("ARCHIVE_DEVICE", "")
# A running job's worker refreshes Job.updated_at at least every lease/4 seconds; a job not
# refreshed for JOB_LEASE_SECONDS is considered abandoned and may be taken over.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 30)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 5)  # claims of one job (crash loops end here)
JOB_MAX_RETRIES = env_int("JOB_MAX_RETRIES", 5)  # retries of one message on transient errors
JOB_RETRY_MIN_BACKOFF_MS = env_int("JOB_RETRY_MIN_BACKOFF_MS", 2000)
JOB_RETRY_MAX_BACKOFF_MS = env_int("JOB_RETRY_MAX_BACKOFF_MS", 300_000)
# Time limit of one operation, by engine kind; a job's hard limit is the sum over its pipeline.
JOB_TIME_LIMITS = {
    "classical": env_int("JOB_TIME_LIMIT_CLASSICAL_S", 900),
    "ai": env_int("JOB_TIME_LIMIT_AI_S", 3600),
    # animate (issue 12): landmarks, a calibration probe and every frame rendered and encoded
    # twice (archival + MP4); a 2048 px portrait, 3 s at 25 fps, takes minutes on a CPU
    "synthetic": env_int("JOB_TIME_LIMIT_SYNTHETIC_S", 1800),
}
JOB_MAX_STEPS = env_int("JOB_MAX_STEPS", 20)
# Films (issue 13): a film step longer than this many frames is split into chunks that any
# worker may take (restoration/film_jobs.py); limits of videos entering the archive; time given
# to a film step per frame of its input (at least the still limit above).
ARCHIVE_FILM_CHUNK_FRAMES = env_int("ARCHIVE_FILM_CHUNK_FRAMES", 1500)
ARCHIVE_MAX_VIDEO_FRAMES = env_int("ARCHIVE_MAX_VIDEO_FRAMES", 1_000_000)
ARCHIVE_MAX_VIDEO_BYTES = env_int("ARCHIVE_MAX_VIDEO_MB", 65536) * 1024 * 1024  # import_films
ARCHIVE_MAX_VIDEO_SIDE = env_int("ARCHIVE_MAX_VIDEO_SIDE", 8192)
ARCHIVE_MAX_VIDEO_FRAME_PIXELS = env_int("ARCHIVE_MAX_VIDEO_MEGAPIXELS", 40) * 1_000_000
ARCHIVE_MAX_VIDEO_SECONDS = env_int("ARCHIVE_MAX_VIDEO_SECONDS", 6 * 3600)
# The longest an ingest may spend decoding a video to check it (a bomb guard), seconds.
ARCHIVE_MAX_VIDEO_DECODE_S = env_int("ARCHIVE_MAX_VIDEO_DECODE_S", 3600)
ARCHIVE_FILM_SECONDS_PER_FRAME = env_int("ARCHIVE_FILM_SECONDS_PER_FRAME", 2)
ARCHIVE_FILM_AI_SECONDS_PER_FRAME = env_int("ARCHIVE_FILM_AI_SECONDS_PER_FRAME", 20)
# Engine operations run in worker processes (restoration.executor), never in the server's own:
# each may use this much memory on top of its libraries (enforced with RLIMIT_AS), and
# job_create refuses a pipeline whose predicted peak is over it. ARCHIVE_ENGINE_WORKERS warm
# workers are kept per process that runs jobs.
ARCHIVE_WORKER_MEMORY_MB = env_int("ARCHIVE_WORKER_MEMORY_MB", 4096)
ARCHIVE_ENGINE_WORKERS = env_int("ARCHIVE_ENGINE_WORKERS", DRAMATIQ_WORKER_THREADS)
# Memory that image decodes (uploads, job inputs) may hold at once in one process: a decode
# predicted above it is refused before decoding (413), others wait their turn, so two
# decompression bombs queue instead of adding up.
ARCHIVE_DECODE_MEMORY_MB = env_int("ARCHIVE_DECODE_MEMORY_MB", 3072)
# Faces (docs/identity.md): every step whose input shows faces records an identity check per
# face (ARCHIVE_IDENTITY_CHECK=0 records none: say why in the archive's policy); every still is
# indexed by face in the background for "faces that may be this person" (ARCHIVE_FACE_INDEX=0
# turns indexing and face search off, e.g. where biometric processing needs a legal basis).
ARCHIVE_IDENTITY_CHECK = env_bool("ARCHIVE_IDENTITY_CHECK", True)
ARCHIVE_FACE_INDEX = env_bool("ARCHIVE_FACE_INDEX", True)
# Face search answers from an exact scan up to this many faces, from an HNSW graph above it
# (restoration/faces.py says why the default is high: bench/faces.py).
ARCHIVE_FACE_HNSW_FROM = env_int("ARCHIVE_FACE_HNSW_FROM", 5_000_000)
# Frames of a video step compared with its input's faces (evenly spaced, ends included).
ARCHIVE_IDENTITY_VIDEO_SAMPLES = env_int("ARCHIVE_IDENTITY_VIDEO_SAMPLES", 6)
_DRAMATIQ_MIDDLEWARE = [
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "restoration.worker_boot.ResumeStaleJobs",
]
if BROKER_IS_MEMORY:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
elif BROKER_URL.startswith(("redis://", "rediss://")):
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {
            "url": BROKER_URL,
            # A worker that has not talked to Redis for this long is presumed dead and its
            # unacknowledged messages are re-delivered (the job lease keeps that harmless).
            "heartbeat_timeout": env_int("DRAMATIQ_REDIS_HEARTBEAT_TIMEOUT_MS", 60_000),
            "maintenance_chance": env_int("DRAMATIQ_REDIS_MAINTENANCE_CHANCE", 10_000),
        },
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
elif BROKER_URL.startswith(("amqp://", "amqps://")):
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
        "OPTIONS": {"url": BROKER_URL, "confirm_delivery": True},
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
else:
    raise ImproperlyConfigured(f"BROKER_URL={BROKER_URL!r}: use memory, redis://... or amqp://...")
DRAMATIQ_TASKS_DATABASE = "default"
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.base.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "api.schema.ArchiveAutoSchema",
    # One JSON error shape with the right 4xx (api/errors.py).
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # DRF's parsers with Django's body size limit and a JSON nesting limit (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "api.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Job submissions per user (POST /api/v1/jobs/); empty disables the throttle.
ARCHIVE_JOB_SUBMIT_RATE = env_str("ARCHIVE_JOB_SUBMIT_RATE", "30/min")

# The cache holds the throttle's and the login limit's counters, so every process that serves
# requests must share it: Redis when CACHE_URL says so (use a database of its own, not the
# broker's: Django's cache.clear() empties the whole database), otherwise files under
# ARCHIVE_DATA_DIR, shared by the processes of one machine. A per-process cache would let each
# process grant the whole allowance again.
CACHE_URL = env_str("CACHE_URL", f"file://{ARCHIVE_DATA_DIR / 'cache'}")
CACHES: dict[str, dict[str, Any]]  # the two backends take different OPTIONS
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "archive",
        }
    }
elif CACHE_URL.startswith("file://"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": CACHE_URL.removeprefix("file://"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
else:
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r}: use redis://... or file:///a/directory")

# Failed logins (the login page, the admin's, any authenticate() call) per user name and
# client address: more than ARCHIVE_LOGIN_MAX_FAILURES within ARCHIVE_LOGIN_WINDOW_S locks
# that pair out until the window has passed (config/auth.py).
AUTHENTICATION_BACKENDS = ["config.auth.RateLimitedModelBackend"]
ARCHIVE_LOGIN_MAX_FAILURES = env_int("ARCHIVE_LOGIN_MAX_FAILURES", 10)
ARCHIVE_LOGIN_WINDOW_S = env_int("ARCHIVE_LOGIN_WINDOW_S", 15 * 60)

SPECTACULAR_SETTINGS = {
    "TITLE": "Photo restoration archive API",
    "DESCRIPTION": "Catalogue, restoration jobs and verifiable lineage of historical photographs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["api.schema.only_v1"],
    # Photos and films each have their own carriers (a glass plate is not a film gauge).
    "ENUM_NAME_OVERRIDES": {
        "PhotoCarrierEnum": "archive.models.Photo.Carrier",
        "FilmCarrierEnum": "archive.models.Film.Carrier",
    },
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # exifread reports "no EXIF" as a warning for every PNG; ingest collects its messages
        # itself (restoration.imagefile), so they need not reach the console.
        "exifread": {"handlers": [], "propagate": False, "level": "WARNING"},
    },
}
