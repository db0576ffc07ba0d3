"""The explainer page (``poolstride explain --html``): one self-contained file whose arithmetic
matches PyTorch, checked in a real headless browser (Debian's chromium driven by Playwright).

The browser tests drive the page's own controls (radio buttons, sliders, the input text, the
weight fields, the step buttons) and read what it draws, for 280 seeded random settings, and
compare output sizes, output values, input gradients and refusals with ``torch.nn.functional``.

Skips when chromium or Playwright is missing, except under CI (``CI`` set), where a missing
browser is a failure (CI installs it: ``.ci/run``). Never downloads a browser.
``POOLSTRIDE_CHROMIUM`` points at another chromium binary.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import itertools
import json
import math
import random
import re

import pytest
import torch
import torch.nn.functional as F

import poolstride
from headless_browser import WIDTH, Opened, launch_browser
from poolstride.explain import write_page
from poolstride.explain.explainer_page import DIGITS, RANGES, geometry_cases, page_html
from poolstride.geometry import ReceptiveField, conv_output_size, pool_output_size

N_CONFIGS = 280  # 210 of them valid, 70 refused by PyTorch


# ------------------------------------------------------------------------------------------
# The file itself (no browser)


def test_page_is_one_small_file_with_a_strict_csp():
    page = page_html()
    assert len(page.encode()) < 300_000
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1]
    assert "default-src 'none'" in csp and "unsafe" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 1 and len(styles) == 1

    def digest(text):
        return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert f"script-src '{digest(scripts[0])}'" in csp
    assert f"style-src '{digest(styles[0])}'" in csp
    # nothing is loaded from anywhere: no src attributes, links only to the page's own sections
    assert not re.search(r"\ssrc=", page)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        '"http://www.w3.org/2000/svg"', ""
    )
    # the data block cannot end early
    data = re.search(r'<script type="application/json" id="ps-data">(.*?)</script>', page, re.S)[1]
    assert json.loads(data)["initial"]["op"] == "max"


def test_geometry_cases_are_poolstride_geometry():
    cases = geometry_cases()
    settings = list(itertools.product(*(range(lo, hi + 1) for lo, hi in RANGES.values())))
    assert len(cases["pool"]) == 2 * len(settings) and len(cases["conv"]) == len(settings)
    for i in random.Random(0).sample(range(len(settings)), 300):
        n, f, s, p, d = settings[i]
        for ceil in (False, True):
            try:
                pool = pool_output_size(n, f, s, p, d, ceil)
            except poolstride.PoolstrideError:
                pool = 0
            assert int(cases["pool"][2 * i + ceil], 36) == pool, settings[i]
        try:
            conv = conv_output_size(n, f, s, p, d)
        except poolstride.PoolstrideError:
            conv = 0
        assert int(cases["conv"][i], 36) == conv, settings[i]


def test_write_page_errors_are_one_line(tmp_path):
    with pytest.raises(poolstride.PoolstrideError, match="does not exist"):
        write_page(tmp_path / "missing" / "page.html")
    with pytest.raises(poolstride.PoolstrideError, match="is a folder"):
        write_page(tmp_path)
    with pytest.raises(poolstride.PoolstrideError, match="unknown operator"):
        write_page(tmp_path / "p.html", op="lp")


# ------------------------------------------------------------------------------------------
# In the browser


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture(scope="module")
def opened(browser, tmp_path_factory):
    path = write_page(tmp_path_factory.mktemp("page") / "explain.html")
    o = Opened(browser, path)
    yield o
    o.context.close()


def test_opens_offline_fast_and_checks_itself(opened):
    page = opened.page
    assert opened.errors == []
    assert all(u.startswith("file:") for u in opened.requests), opened.requests
    load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    assert 0 < load_ms < 1000
    check = page.locator("#selfcheck")
    assert check.get_attribute("data-failed") == "0"
    assert int(check.get_attribute("data-checked")) == 3 * math.prod(
        hi - lo + 1 for lo, hi in RANGES.values()
    )
    assert check.inner_text().startswith("✓ All 8,640 output sizes")
    # the classic example is on screen: 2x2 max pooling of the 4x4 grid
    page.click("#fwd-stepper [data-role=last]")
    assert _cells(page, "#fwd-svg") == [9, 2, 6, 3]
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def _cells(page, svg: str) -> list[float]:
    pairs = page.eval_on_selector_all(
        f"{svg} rect[data-v]", "els => els.map(e => [+e.dataset.i, e.dataset.v])"
    )
    return [float(v) for _, v in sorted(pairs)]


# ---- 280 random settings against torch.nn.functional ------------------------------------


def _random_config(rng: random.Random) -> dict:
    op = rng.choice(["max", "max", "avg", "avg", "conv", "conv", "blur-max"])
    dim = rng.choice([1, 2])
    f = rng.randint(*RANGES["f"])
    cfg = {
        "op": op,
        "dim": dim,
        "n": rng.randint(1, RANGES["n"][1] if dim == 1 else 9),
        "f": f,
        "s": rng.randint(*RANGES["s"]),
        # mostly valid padding, sometimes more than half the kernel (PyTorch refuses pooling)
        "p": rng.randint(0, f // 2) if rng.random() < 0.8 else rng.randint(*RANGES["p"]),
        "d": 1 if op == "avg" else rng.choice([1, 1, 2, 3]),
        "ceil": op in ("max", "avg") and rng.random() < 0.5,
        "cip": op != "avg" or rng.random() < 0.5,
        "filt": rng.randint(1, 5),
    }
    count = cfg["n"] ** dim
    values = [rng.randint(-5, 9) for _ in range(count)]  # small integers: ties for max
    if rng.random() < 0.3:
        values = [v + rng.choice([0, 0.5, 0.25]) for v in values]
    cfg["values"] = values
    cfg["weights"] = [rng.choice([-2, -1, -0.5, 0, 0.5, 1, 2, 3]) for _ in range(f**dim)]
    return cfg


def _binomial(k: int) -> torch.Tensor:
    row = torch.tensor([math.comb(k - 1, i) for i in range(k)], dtype=torch.float64)
    return row / row.sum()


def _torch_reference(cfg: dict):
    """(output shape, output values, dL/dx for upstream 1, 2, 3, ...) or None if torch raises."""
    dim, n, f, s, p, d = (cfg[k] for k in ("dim", "n", "f", "s", "p", "d"))
    x = torch.tensor(cfg["values"], dtype=torch.float64).view(1, 1, *(n,) * dim)
    x.requires_grad_(True)
    pool = {1: (F.max_pool1d, F.avg_pool1d, F.conv1d), 2: (F.max_pool2d, F.avg_pool2d, F.conv2d)}
    max_pool, avg_pool, conv = pool[dim]
    try:
        if cfg["op"] == "max":
            y = max_pool(x, f, s, p, d, ceil_mode=cfg["ceil"])
        elif cfg["op"] == "avg":
            y = avg_pool(x, f, s, p, ceil_mode=cfg["ceil"], count_include_pad=cfg["cip"])
        elif cfg["op"] == "conv":
            w = torch.tensor(cfg["weights"], dtype=torch.float64).view(1, 1, *(f,) * dim)
            y = conv(x, w, stride=s, padding=p, dilation=d)
        else:  # blur-max: max at stride 1, binomial blur over reflect padding, keep every s-th
            k = cfg["filt"]
            dense = max_pool(x, f, 1, p, d)
            row = _binomial(k)
            w = (row if dim == 1 else torch.outer(row, row)).view(1, 1, *(k,) * dim)
            padded = F.pad(dense, ((k - 1) // 2, k // 2) * dim, mode="reflect")
            y = conv(padded, w, stride=s)
    except RuntimeError:
        return None
    if y.numel() == 0:
        return None
    grad = torch.arange(1, y.numel() + 1, dtype=torch.float64).view_as(y)
    y.backward(grad)
    return tuple(y.shape[2:]), y.detach().flatten().tolist(), x.grad.flatten().tolist()


DRIVE = """
(cfgs) => {
  const $ = (id) => document.getElementById(id);
  const fire = (el, type) => el.dispatchEvent(new Event(type, { bubbles: true }));
  const cells = (svg) => [...document.querySelectorAll(svg + " rect[data-v]")]
    .sort((a, b) => a.dataset.i - b.dataset.i).map((e) => e.dataset.v);
  $("grad-kind").value = "count"; fire($("grad-kind"), "change");
  const results = [];
  for (const c of cfgs) {
    document.querySelector(`input[name=op][value="${c.op}"]`).click();
    document.querySelector(`input[name=dim][value="${c.dim}"]`).click();
    for (const k of ["f", "s", "p", "d"]) $(k).value = c[k];
    $("ceil").checked = c.ceil;
    $("cip").checked = c.cip;
    $("filt").value = String(c.filt);
    const rows = c.dim === 2 ? c.n : 1;
    const lines = [];
    for (let r = 0; r < rows; r++) lines.push(c.values.slice(r * c.n, (r + 1) * c.n).join(" "));
    $("values").value = lines.join("\\n");
    fire($("values"), "input");
    const w = [...$("weights").querySelectorAll("input")];
    if (c.op === "conv") {
      w.forEach((el, i) => { el.value = String(c.weights[i]); });
      fire(w[w.length - 1], "input");
    }
    document.querySelector("#fwd-stepper [data-role=last]").click();
    document.querySelector("#bwd-stepper [data-role=last]").click();
    results.push({
      n: +$("n").value,
      weights: w.length,
      problem: $("problem").hidden ? null : $("problem").dataset.rule,
      problemText: $("problem").textContent,
      figureHidden: $("fwd-view").hidden && $("bwd-view").hidden,
      shape: $("fwd-fig").dataset.outShape,
      formula: $("formula").textContent,
      out: cells("#fwd-svg"),
      grad: cells("#bwd-svg"),
      valuesError: $("values-error").textContent,
    });
  }
  return results;
}
"""

RULES = {
    "pad": "pad should be at most half of kernel size",
    "small": "Output size is too small",
    "kernel": "Kernel size can't be greater than actual input size",
    "reflect": "Padding size should be less than the corresponding input dimension",
}


def _close(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_playground_matches_pytorch_on_random_settings(opened):
    rng = random.Random(16)
    configs = [_random_config(rng) for _ in range(N_CONFIGS)]
    results = opened.page.evaluate(DRIVE, configs)
    assert opened.errors == []
    refused = 0
    for cfg, got in zip(configs, results):
        got["out"], got["grad"] = [float(v) for v in got["out"]], [float(v) for v in got["grad"]]
        where = {k: v for k, v in cfg.items() if k not in ("values", "weights")}
        assert got["valuesError"] == "" and got["n"] == cfg["n"], where
        if cfg["op"] == "conv":
            assert got["weights"] == cfg["f"] ** cfg["dim"], where
        expected = _torch_reference(cfg)
        if expected is None:  # PyTorch refuses: the page says why instead of drawing
            refused += 1
            assert got["problem"] in RULES, (where, got)
            assert RULES[got["problem"]] in got["problemText"], where
            assert got["figureHidden"] and got["out"] == [] and got["grad"] == []
            continue
        shape, out, grad = expected
        assert got["problem"] is None, (where, got["problemText"])
        assert got["shape"] == "x".join(map(str, shape)), where
        o = shape[0]
        size_line = f"output: {o}×{o} = {o * o} positions" if cfg["dim"] == 2 else f"output: {o}"
        if cfg["op"] != "blur-max":
            assert size_line in got["formula"], (where, got["formula"])
        assert len(got["out"]) == len(out) and all(map(_close, got["out"], out)), (where, got, out)
        assert len(got["grad"]) == len(grad) and all(map(_close, got["grad"], grad)), (
            where,
            got["grad"],
            grad,
        )
    # the table exercises both sides: >= 200 valid settings and every kind of refusal
    assert N_CONFIGS - refused >= 200 and refused >= 30
    assert {g["problem"] for g in results} >= {None, "pad", "small", "kernel", "reflect"}


def test_ceil_mode_formula_shows_pytorchs_last_window_rule(opened):
    page = opened.page
    # MaxPool1d(2, 2, padding=1, ceil_mode=True) maps 5 to 3, not 4
    page.evaluate(
        """() => {
        const $ = (id) => document.getElementById(id);
        document.querySelector('input[name=op][value=max]').click();
        document.querySelector('input[name=dim][value="1"]').click();
        $('f').value = 2; $('s').value = 2; $('p').value = 1; $('d').value = 1;
        $('ceil').checked = true;
        $('values').value = '1 2 3 4 5';
        $('values').dispatchEvent(new Event('input'));
    }"""
    )
    text = page.inner_text("#formula")
    assert "⌈(5 + 2·1 − 1·(2−1) − 1) / 2⌉ + 1 = ⌈5/2⌉ + 1 = 4" in text
    assert "(out−1)·s − p = 3·2 − 1 = 5, which is ≥ n = 5" in text
    assert "out = 4 − 1 = 3" in text
    assert page.locator("#fwd-fig").get_attribute("data-out-shape") == "3"
    assert pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3


def test_keyboard_navigation(opened):
    page = opened.page
    page.evaluate(
        """() => {
        document.querySelector('input[name=op][value=max]').click();
        document.querySelector('input[name=dim][value="2"]').click();
        const $ = (id) => document.getElementById(id);
        $('f').value = 2; $('s').value = 2; $('p').value = 0; $('ceil').checked = false;
        $('values').value = '1 3 2 1\\n2 9 1 1\\n1 3 2 3\\n5 6 1 2';
        $('values').dispatchEvent(new Event('input'));
    }"""
    )
    count = page.locator("#fwd-stepper .count")
    # arrow keys on the focused picture step the window; Home/End jump; Space plays
    page.focus("#fwd-fig")
    page.keyboard.press("Home")
    assert count.inner_text() == "step 0 / 4"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert count.inner_text() == "step 2 / 4"
    assert "out[0,1] = max(2, 1, 1, 1) = 2" in page.inner_text("#fwd-text")
    page.keyboard.press("End")
    assert count.inner_text() == "step 4 / 4"
    page.keyboard.press("Home")
    assert count.inner_text() == "step 0 / 4"
    page.keyboard.press(" ")
    assert "pause" in page.inner_text("#fwd-stepper button:nth-child(3)")
    page.keyboard.press(" ")
    assert "play" in page.inner_text("#fwd-stepper button:nth-child(3)")
    # Tab reaches the step buttons after the picture; Enter presses them
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "◀ back" at step 0 stays at 0
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.role") == "next"
    page.keyboard.press("Enter")
    assert count.inner_text().startswith("step 1 /")
    # arrow keys move between operators (a radio group) and change a focused slider
    page.focus("input[name=op]:checked")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.querySelector('input[name=op]:checked').value") == "avg"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "n"
    page.keyboard.press("ArrowRight")
    assert page.input_value("#n") == "5"
    assert page.locator("#fwd-fig").get_attribute("data-out-shape") == "2x2"
    assert opened.errors == []


# ---- side by side and receptive fields ---------------------------------------------------


def _digit(name: str) -> torch.Tensor:
    return torch.tensor([[int(c) for c in row] for row in DIGITS[name]], dtype=torch.float64)


def _shift(x: torch.Tensor, px: int, direction: str) -> torch.Tensor:
    dr, dc = {"right": (0, px), "left": (0, -px), "down": (px, 0), "up": (-px, 0)}[direction]
    out = torch.zeros_like(x)
    n = x.shape[0]
    for r in range(n):
        for c in range(n):
            if 0 <= r - dr < n and 0 <= c - dc < n:
                out[r, c] = x[r - dr, c - dc]
    return out


def _five_ways(x: torch.Tensor, conv_w: torch.Tensor) -> dict[str, torch.Tensor]:
    x = x.view(1, 1, 8, 8)
    blur = torch.outer(_binomial(3), _binomial(3)).view(1, 1, 3, 3)
    dense = F.max_pool2d(x, 2, 1)
    return {
        "max": F.max_pool2d(x, 2, 2),
        "avg": F.avg_pool2d(x, 2, 2),
        "conv": F.conv2d(x, conv_w.view(1, 1, 3, 3), stride=2, padding=1),
        "subsample": x[:, :, ::2, ::2],
        "blur-max": F.conv2d(F.pad(dense, (1, 1, 1, 1), mode="reflect"), blur, stride=2),
    }


@pytest.mark.parametrize("pattern,px,direction", [("7", 1, "right"), ("1", 2, "down")])
def test_side_by_side_matches_pytorch_and_profile(opened, pattern, px, direction):
    page = opened.page
    c, h = (64, 32) if px == 1 else (3, 7)
    page.evaluate(
        """([pattern, px, dir, c, h]) => {
        const $ = (id) => document.getElementById(id);
        $('cmp-pattern').value = pattern; $('cmp-dir').value = dir;
        $('cmp-shift').value = px; $('cmp-c').value = c; $('cmp-h').value = h;
        $('cmp-h').dispatchEvent(new Event('input'));
    }""",
        [pattern, px, direction, c, h],
    )
    x = _digit(pattern)
    w = torch.tensor([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=torch.float64)  # page default
    before, after = _five_ways(x, w), _five_ways(_shift(x, px, direction), w)
    kinds = {"max": "max", "avg": "avg", "conv": "conv:k3", "subsample": "subsample"}
    kinds |= {"blur-max": "blur-max"}
    for key, kind in kinds.items():
        row = f"#cmp-table tr[data-op='{key}']"
        got = page.eval_on_selector_all(
            f"{row} td svg",
            "svgs => svgs.map(s => [...s.querySelectorAll('rect[data-v]')]"
            ".sort((a, b) => a.dataset.i - b.dataset.i).map(e => +e.dataset.v))",
        )
        assert len(got) == 2
        for values, expected in zip(got, (before[key], after[key])):
            assert all(map(_close, values, expected.flatten().tolist())), key
        y0, y1 = before[key].flatten(), after[key].flatten()
        changed = int(((y1 - y0).abs() > 1e-12).sum())
        rel = float((y1 - y0).norm() / y0.norm())
        assert page.get_attribute(row, "data-changed") == str(changed), key
        assert _close(float(page.get_attribute(row, "data-rel")), rel), key
        # params, MACs and pooling ops: poolstride.profile of the same operator
        table = poolstride.profile(poolstride.make_downsample(kind, c), (c, h, h))
        costs = page.eval_on_selector_all(f"{row} td[data-v]", "els => els.map(e => +e.dataset.v)")
        assert costs == [table.totals.params, table.totals.macs, table.totals.pool_ops], key
    assert opened.errors == []


def _spec_module():
    for name in ("poolstride.layers.spec", "poolstride.geometry.spec"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("no spec module")


SPECS = [
    ("conv3-16, max2, conv3-32/2, gap", "1x32x32"),
    ("conv5-8:p0, max3/2:p1, conv3-16:d2, avg2:ceil, flatten, fc-10", "3x29x29"),
    ("conv3-8/2:same, max2:ceil, conv1-4, blur-max, subsample, gap", "1x33x33"),
    ("conv7-64/2:p3, max3/2:p1, conv3-64, conv3-128/2, conv3-256/2:valid, gap, fc-10", "3x224x224"),
    ("conv5-16, max2:d2, conv5-32/2:valid, blur-avg/3, gmp", "1x40"),
    ("avg, max/3, none, relu, bn, drop0.5, conv-32", "2x30x30"),
    ("conv3-8, max2, conv3-8/2, gap", "3x20x12"),
]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split("x")]


@pytest.mark.parametrize("spec,shape", SPECS)
def test_receptive_field_table_matches_profile(opened, spec, shape):
    page = opened.page
    page.evaluate(
        """([spec, shape]) => {
        const $ = (id) => document.getElementById(id);
        $('rf-spec').value = spec; $('rf-shape').value = shape;
        $('rf-spec').dispatchEvent(new Event('input'));
    }""",
        [spec, shape],
    )
    assert page.inner_text("#rf-error") == ""
    rows = page.eval_on_selector_all(
        "#rf-table tbody tr",
        "trs => trs.map(t => [t.dataset.shape, t.dataset.rf, t.dataset.jump, t.dataset.start])",
    )
    dims = tuple(int(v) for v in shape.split("x"))
    net = _spec_module().build_spec(spec, dims)
    last = {}
    for r in poolstride.profile(net, dims).rows:  # the last row of each item (nested ones)
        last[int(r.name.split(".")[0])] = r
    assert len(rows) == len(last) == len(spec.split(","))
    for i, (out_shape, rf, jump, start) in enumerate(rows):
        want = last[i]
        assert out_shape == "x".join(map(str, want.output_shape[1:])), (i, want)
        field = want.receptive_field
        assert _floats(rf) == [float(v) for v in field.size], (i, field)
        assert _floats(jump) == [float(v) for v in field.jump], (i, field)
        assert _floats(start) == [float(v) for v in field.start], (i, field)
    # the region of one chosen output cell: ReceptiveField.interval
    spatial = [i for i, r in enumerate(rows) if len(r[0].split("x")) > 1]
    layer = spatial[-1]
    out_sp = [int(v) for v in rows[layer][0].split("x")[1:]]
    index = [min(2, s - 1) for s in out_sp]
    page.evaluate(
        """([layer, index]) => {
        const $ = (id) => document.getElementById(id);
        $('rf-layer').value = String(layer);
        if (index.length === 2) $('rf-i').value = index[0];
        $('rf-j').value = index[index.length - 1];
        $('rf-layer').dispatchEvent(new Event('change'));
    }""",
        [layer, index],
    )
    interval = page.get_attribute("#rf-svg .rfbox", "data-interval")
    field: ReceptiveField = last[layer].receptive_field
    got = [tuple(float(v) for v in part.split(":")) for part in interval.split(",")]
    assert got == [(float(a), float(b)) for a, b in field.interval(index)]
    assert opened.errors == []


def test_screenshot_reads_well(opened, tmp_path):
    page = opened.page
    page.evaluate(
        """() => {
        const $ = (id) => document.getElementById(id);
        document.querySelector('input[name=op][value=avg]').click();
        document.querySelector('input[name=dim][value="2"]').click();
        $('f').value = 3; $('s').value = 2; $('p').value = 1; $('ceil').checked = false;
        $('values').value = '1 3 2 1 0\\n2 9 1 1 5\\n1 3 2 3 6\\n5 6 1 2 8\\n5 5 1 3 8';
        $('values').dispatchEvent(new Event('input'));
    }"""
    )
    page.click("#fwd-stepper [data-role=first]")
    for _ in range(5):
        page.click("#fwd-stepper [data-role=next]")
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert (tmp_path / "page.png").stat().st_size > 50_000
    assert "divisor 9: 9 input" in page.inner_text("#fwd-text")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert opened.errors == []
