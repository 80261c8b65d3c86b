"""The command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tilestream", *args], capture_output=True, text=True, timeout=300
    )


def test_overlap_prints_the_table_offline():
    result = run("overlap", "bmshj2018-hyperprior")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for transform in ("g_a", "h_a", "h_s", "g_s"):
        assert f"{transform}:" in out
    assert "module path" in out and "l_n" in out and "r_n" in out
    assert "g_a.0" in out and "conv_transpose" in out
    assert result.stderr == ""  # no warnings, no traceback


def test_overlap_json_has_the_documented_shape():
    result = run("overlap", "cheng2020-attn", "--quality", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"g_a", "h_a", "h_s", "g_s", "context"}  # serial context model
    assert report.pop("context")[0]["phase"].startswith("serial context")
    assert report["g_a"]["direction"] == "down" and report["g_a"]["factor"] == 16
    assert report["g_s"]["direction"] == "up" and report["h_s"]["factor"] == 4
    for entry in report.values():
        before, after = entry["halo"]
        assert before >= 0 and after >= 0
        assert entry["layers"]
        assert {"path", "kind", "kernel", "stride", "l", "r"} <= set(entry["layers"][0])
        # the first spatial layer reads the transform's input: its overlap is the halo
        assert [entry["layers"][0]["l"], entry["layers"][0]["r"]] == entry["halo"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("overlap", "no-such-model"), "unknown model 'no-such-model'; choose one of"),
        (("overlap", "mbt2018", "--quality", "9"), "quality 9 is not available for 'mbt2018'"),
        (("overlap", "elic2022-official", "--quality", "2"), "has no quality levels"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.stderr


def test_overlap_reports_context_halos():
    text = run("overlap", "cheng2020-anchor-checkerboard")
    assert text.returncode == 0, text.stderr
    assert "context (entropy coding phases)" in text.stdout and "non-anchors" in text.stdout
    result = run("overlap", "mbt2018", "--quality", "1", "--json")
    context = json.loads(result.stdout)["context"]
    assert context[0]["stream"] == "y" and context[0]["slope"] == 2 and context[0]["halo"] == 2
    assert "context" not in json.loads(run("overlap", "mbt2018-mean", "--quality", "1", "--json").stdout)


def test_a_closed_pipe_ends_quietly():
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader has gone, like `| head` after its lines
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tilestream", "overlap", "bmshj2018-hyperprior"],
            stdout=write, stderr=subprocess.PIPE, timeout=120,
        )
    finally:
        os.close(write)
    err = done.stderr.decode()
    assert "BrokenPipeError" not in err and "Traceback" not in err, err
