"""Shared fixtures: real data (scikit-learn's copy of the UCI 8×8 digits, the same
1 797 images glassbox embeds) and the glassbox command line."""

import os
import pathlib
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def digits():
    """(X_train, X_test, y_train, y_test): float32 pixels in [0, 1], stratified."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="session")
def cli():
    """The glassbox binary: $GLASSBOX_CLI, or the workspace's release build (built
    here when it is missing)."""
    path = os.environ.get("GLASSBOX_CLI")
    if path:
        return pathlib.Path(path)
    path = REPO / "target" / "release" / "glassbox"
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "--release", "-p", "glassbox-cli"], cwd=REPO, check=True
        )
    return path
