"""scripts/setup.sh explains itself when it cannot do its job."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lab import ROOT


def test_no_daemon_and_not_root_gets_one_clear_message():
    tmp_path = Path(tempfile.mkdtemp(prefix="fragments-setup-"))
    tmp_path.chmod(0o777)
    # A copy the other user can read, wherever this clone is (a 0700 home, for one).
    script = tmp_path / "scripts" / "setup.sh"
    script.parent.mkdir()
    shutil.copy(ROOT / "scripts/setup.sh", script)
    script.parent.chmod(0o755)
    script.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "FRAGMENTS_STATE_DIR": str(tmp_path / "state"),
           "DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"}
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash",
                           str(script)], env=env, capture_output=True, text=True, timeout=60)
    shutil.rmtree(tmp_path)
    assert proc.returncode == 1
    assert "no Docker daemon answers and you are not root" in proc.stderr
    assert "systemctl start docker" in proc.stderr
