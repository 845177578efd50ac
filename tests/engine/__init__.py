import os

# Before anything imports torch (see restoration/engine/__init__.py for why).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
