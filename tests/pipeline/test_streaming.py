"""Streaming: no step reads the whole image or holds more than a few rows of chunks."""

from __future__ import annotations

import numpy as np

import tilestream
from tests.conftest import cached_model, photo
from tilestream.io.arrays import ArraySource
from tilestream.overlap import transform_overlap
from tilestream.schedule import Runner, wavefront
from tilestream.stage import Dep, Part, Stage


class CountingSource(ArraySource):
    """An array source that records every window it is asked for (threaded runs)."""

    def __init__(self, array):
        super().__init__(array)
        self.reads: list[tuple[int, int]] = []

    def _read(self, y0, y1, x0, x1):
        self.reads.append((y1 - y0, x1 - x0))
        return super()._read(y0, y1, x0, x1)


def test_encoder_reads_one_block_plus_halo_at_a_time(tmp_path):
    model = cached_model("bmshj2018-hyperprior")
    image = photo("garden_520x777.png")
    source = CountingSource(image)
    block = 128
    tilestream.encode(source, tmp_path / "c.tsz", model=model, block=block, chunk=block, progress=False)
    before, after = transform_overlap(model.g_a, "g_a")["halo"]
    largest = max(h * w for h, w in source.reads)
    assert largest <= (block + before + after) ** 2
    assert largest < image.shape[0] * image.shape[1] / 4
    # every block was read exactly once, besides the 8 x 8 windows of 64² that fingerprint
    # the source for --resume (tilestream.pipeline.resume.source_digest)
    rows, cols = -(-576 // block), -(-832 // block)
    assert source.reads.count((64, 64)) >= 64
    assert len(source.reads) == rows * cols + 64


def test_decoder_yields_blocks_never_the_whole_image(tmp_path):
    model = cached_model("mbt2018-mean")
    tilestream.encode(photo("garden_520x777.png"), tmp_path / "c.tsz", model=model, block=128, chunk=128, progress=False)
    from tilestream.container import ContainerReader
    from tilestream.pipeline import coded_context, decode_blocks

    ctx = coded_context(ContainerReader(str(tmp_path / "c.tsz")), model)
    shapes = [p.shape for _, p in decode_blocks(ctx, progress=False)]
    assert max(h * w for h, w, _ in shapes) <= 128 * 128
    assert sum(h * w for h, w, _ in shapes) == 520 * 777


def _value(ctx, i, j, *deps):
    return Part(np.zeros(10))


def test_wavefront_memory_does_not_grow_with_the_number_of_rows():
    def stages():
        below = lambda i, j: [(k, j) for k in (i - 1, i, i + 1) if 0 <= k < rows]  # noqa: E731
        return [
            Stage("a", _value),
            Stage("b", _value, (Dep("a", below, (-1, 1)),)),
            Stage("c", _value, (Dep.own("a"), Dep("b", below, (-1, 1))), emit=True),
        ]

    live = {}
    for rows in (4, 16, 64):
        stats: dict[str, int] = {}
        runner = Runner()
        runner.set_context(None)
        emitted = [r for name, r, _ in wavefront(stages(), rows, 3, runner, stats=stats) if name == "c"]
        assert emitted == list(range(rows))  # rows come out in order
        live[rows] = stats["max_live"]
    assert live[16] == live[64]  # bounded by a few rows, not by the image


def _serial(ctx, i, j, a, me):
    """A value that depends on the left neighbour and the row above-right: a serial context."""
    return Part(np.array(int(a[(i, j)].value) + sum(int(p.value) for p in me.values()) % 1000))


def _one(ctx, i, j):
    return Part(np.array(i * 10 + j))


def test_bands_of_rows_give_the_same_serial_result_and_bounded_memory():
    rows, cols = 12, 5

    def stages():
        back = lambda i, j: [(i, j - 1)] * (j > 0) + [(i - 1, k) for k in (j + 1, j + 2) if i > 0 and k < cols]  # noqa: E731
        return [
            Stage("a", _one),
            Stage("s", _serial, (Dep.own("a"), Dep("s", back, (-1, 0))), emit=True),
        ]

    outputs, live = {}, {}
    for band in (1, 2, 3):
        runner = Runner()
        runner.set_context(None)
        stats: dict[str, int] = {}
        got = [(r, row) for name, r, row in wavefront(stages(), rows, cols, runner, stats=stats, band=band) if name == "s"]
        assert [r for r, _ in got] == list(range(rows))
        outputs[band] = [[int(p.value) for p in row] for _, row in got]
        live[band] = stats["max_live"]
    assert outputs[1] == outputs[2] == outputs[3]
    assert live[3] <= 3 * live[1] and live[3] < rows * cols


def test_band_keeps_workers_busy_on_narrow_images_and_one_row_on_wide_ones():
    from tilestream.entropy import codec_for
    from tilestream.geometry import CodecLayout
    from tilestream.pipeline.runtime import wavefront_band

    codec = codec_for(cached_model("mbt2018-mean"))
    band = lambda shape, block: wavefront_band(codec, CodecLayout(shape, block), 2)  # noqa: E731
    assert band((1080, 2048), 512) == 2  # 4 blocks per row: two rows per step for 2 workers
    assert band((2160, 3840), 256) == 1  # 15 blocks per row already keep 2 workers busy
    assert band((32768, 32768), 512) == 1
    assert band((300, 300), 512) == 1  # never more rows than the image has
