from __future__ import annotations

import pytest

from tests.web.support import Catalogue, build_catalogue


@pytest.fixture
def catalogue(db) -> Catalogue:
    return build_catalogue()
