"use strict";
// poolstride's explainer page: pooling and strided convolution, step by step.
//
// Part 1 is the arithmetic, written to match PyTorch exactly (output sizes, which cells a
// window reads, max tie-breaking, the average's divisor, where gradients go); the test suite
// drives this page in headless Chromium and compares it with torch.nn.functional. Parts 2-6
// draw it. No network, no innerHTML: every string reaches the page through textContent.
(() => {
  const DATA = JSON.parse(document.getElementById("ps-data").textContent);
  const RANGES = DATA.ranges;
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";

  // ==========================================================================================
  // 1. Arithmetic (PyTorch's rules), one axis at a time
  // ==========================================================================================
  const floorDiv = (a, b) => Math.floor(a / b);
  const ceilDiv = (a, b) => -Math.floor(-a / b);
  const effKernel = (f, d) => d * (f - 1) + 1;

  // Output length of max/avg pooling along one axis, and everything needed to explain it.
  // floor: floor((n + 2p - d(f-1) - 1)/s) + 1; ceil: ceil(...) + 1, minus one when the last
  // window would start at or after n, i.e. in the right padding (PyTorch drops that window).
  function poolAxis(n, f, s, p, d, ceil) {
    const e = effKernel(f, d);
    const g = { kind: "pool", n, f, s, p, d, ceil, e, padded: n + 2 * p, num: n + 2 * p - e };
    g.floorOut = floorDiv(g.num, s) + 1;
    if (p > Math.floor(f / 2)) {
      g.problem = "pad";
      return g;
    }
    if (ceil) {
      g.ceilOut = ceilDiv(g.num, s) + 1;
      g.lastStart = (g.ceilOut - 1) * s - p;
      g.dropped = g.lastStart >= n;
      g.out = g.ceilOut - (g.dropped ? 1 : 0);
    } else {
      g.out = g.floorOut;
    }
    if (g.out < 1) g.problem = "small";
    return g;
  }

  // Output length of a convolution along one axis (no ceil mode, any padding).
  function convAxis(n, f, s, p, d) {
    const e = effKernel(f, d);
    const g = { kind: "conv", n, f, s, p, d, ceil: false, e, padded: n + 2 * p, num: n + 2 * p - e };
    g.floorOut = floorDiv(g.num, s) + 1;
    g.out = g.floorOut;
    if (e > n + 2 * p) g.problem = "kernel";
    return g;
  }

  // blur-max: max over f (stride 1, padding p, dilation d), then a binomial blur of size
  // `filt` over reflect padding ((filt-1)//2 left, filt//2 right), keeping every s-th value.
  function blurAxis(n, f, s, p, d, filt) {
    const dense = poolAxis(n, f, 1, p, d, false);
    const g = { kind: "blur", n, f, s, p, d, filt, dense, e: dense.e, padded: dense.padded };
    g.left = (filt - 1) >> 1;
    g.right = filt >> 1;
    if (dense.problem) {
      g.problem = dense.problem;
      return g;
    }
    g.L1 = dense.out;
    if (g.left >= g.L1 || g.right >= g.L1) {
      g.problem = "reflect";
      return g;
    }
    g.out = floorDiv(g.L1 + g.left + g.right - filt, s) + 1;
    return g;
  }

  // Binomial row C(k-1, i) / 2^(k-1): exact in floating point.
  function binomial(k) {
    const row = [1];
    for (let i = 1; i < k; i++) row.push((row[i - 1] * (k - i)) / i);
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => v / total);
  }

  // The taps of output o along one axis: position (may be in padding) and where it falls.
  function taps(o, g, stride = g.s) {
    const start = o * stride - g.p;
    const out = [];
    for (let a = 0; a < g.f; a++) {
      const pos = start + a * g.d;
      let where = "in";
      if (pos < 0 || pos >= g.n) where = pos >= -g.p && pos < g.n + g.p ? "pad" : "outside";
      out.push({ a, pos, where });
    }
    return out;
  }

  // Every multi-index of a shape, row-major (PyTorch's order).
  function indices(shape) {
    const out = [];
    if (shape.length === 1) for (let i = 0; i < shape[0]; i++) out.push([i]);
    else for (let i = 0; i < shape[0]; i++) for (let j = 0; j < shape[1]; j++) out.push([i, j]);
    return out;
  }

  // Cartesian product of per-axis taps (row-major: the last axis varies fastest).
  function product(axes) {
    if (axes.length === 1) return axes[0].map((t) => ({ pos: [t.pos], a: [t.a], where: t.where }));
    const out = [];
    for (const r of axes[0])
      for (const c of axes[1]) {
        const where = r.where === "outside" || c.where === "outside" ? "outside" : r.where === "in" && c.where === "in" ? "in" : "pad";
        out.push({ pos: [r.pos, c.pos], a: [r.a, c.a], where });
      }
    return out;
  }

  // A square n (1D) or n x n (2D) input stored flat, row-major.
  const flat = (pos, n) => (pos.length === 1 ? pos[0] : pos[0] * n + pos[1]);

  // Forward and backward of one configuration. Returns {problem} or the output with one
  // step per output position: the cells read, the value, and `routes` = where the gradient of
  // that output goes ([flat input index, coefficient]); `dropped` = the part on padding.
  function compute(cfg) {
    const { op, dim, n, f, s, p, filt } = cfg;
    const d = op === "avg" ? 1 : cfg.d;
    const ceil = (op === "max" || op === "avg") && cfg.ceil;
    const g =
      op === "conv" ? convAxis(n, f, s, p, d) : op === "blur-max" ? blurAxis(n, f, s, p, d, filt) : poolAxis(n, f, s, p, d, ceil);
    const res = { cfg: { ...cfg, d, ceil }, op, dim, n, g };
    if (g.problem) {
      res.problem = g.problem;
      return res;
    }
    res.outShape = dim === 2 ? [g.out, g.out] : [g.out];
    if (op === "blur-max") return blurForward(res);
    const x = cfg.input;
    res.steps = indices(res.outShape).map((index) => {
      const cells = product(index.map((o) => taps(o, g)));
      for (const c of cells) c.value = c.where === "in" ? x[flat(c.pos, n)] : null;
      const step = { index, cells, routes: [], dropped: 0 };
      if (op === "max") {
        let best = -Infinity;
        let chosen = null;
        cells.forEach((c, i) => {
          if (c.where === "in" && (chosen === null || c.value > best)) {
            best = c.value;
            chosen = i;
          }
        });
        step.value = best;
        step.chosen = chosen;
        if (chosen !== null) step.routes.push([flat(cells[chosen].pos, n), 1]);
      } else if (op === "avg") {
        // PyTorch: window [start, min(start + f, n + p)) per axis; its length (padding
        // included) is the divisor with count_include_pad, the part inside the input without.
        let poolSize = 1;
        let inside = 1;
        for (const o of index) {
          const start = o * s - p;
          const end = Math.min(start + f, n + p);
          poolSize *= end - start;
          inside *= Math.max(0, Math.min(end, n) - Math.max(start, 0));
        }
        const divisor = cfg.cip ? poolSize : inside;
        let sum = 0;
        for (const c of cells) if (c.where === "in") sum += c.value;
        step.divisor = divisor;
        step.value = inside === 0 ? 0 : sum / divisor;
        step.sum = sum;
        for (const c of cells) {
          if (c.where === "in") step.routes.push([flat(c.pos, n), 1 / divisor]);
          else if (c.where === "pad" && cfg.cip) step.dropped += 1 / divisor;
        }
      } else {
        const w = cfg.weights;
        let sum = 0;
        for (const c of cells) {
          c.weight = w[flat(c.a, f)];
          if (c.where === "in") {
            sum += c.value * c.weight;
            step.routes.push([flat(c.pos, n), c.weight]);
          } else step.dropped += c.weight;
        }
        step.value = sum;
      }
      return step;
    });
    res.output = res.steps.map((st) => st.value);
    return res;
  }

  function blurForward(res) {
    const { dim, n, g, cfg } = res;
    const x = cfg.input;
    const L1 = g.L1;
    const dense = { ...g.dense, s: 1 };
    // the max map (stride 1), with the arg-max of each window
    const mapShape = dim === 2 ? [L1, L1] : [L1];
    res.mapShape = mapShape;
    res.map = indices(mapShape).map((index) => {
      const cells = product(index.map((o) => taps(o, dense, 1)));
      let best = -Infinity;
      let chosen = null;
      cells.forEach((c, i) => {
        if (c.where === "in") {
          c.value = x[flat(c.pos, n)];
          if (chosen === null || c.value > best) {
            best = c.value;
            chosen = i;
          }
        } else c.value = null;
      });
      return { index, cells, value: best, chosen, from: chosen === null ? null : flat(cells[chosen].pos, n) };
    });
    const w1 = binomial(g.filt);
    const reflect = (j) => (j < 0 ? -j : j >= L1 ? 2 * (L1 - 1) - j : j);
    res.steps = indices(res.outShape).map((index) => {
      const axes = index.map((o) => {
        const out = [];
        for (let t = 0; t < g.filt; t++) {
          const j = o * g.s - g.left + t;
          out.push({ t, j, src: reflect(j) });
        }
        return out;
      });
      const terms = [];
      if (dim === 1) for (const a of axes[0]) terms.push({ t: [a.t], j: [a.j], src: [a.src], w: w1[a.t] });
      else for (const a of axes[0]) for (const b of axes[1]) terms.push({ t: [a.t, b.t], j: [a.j, b.j], src: [a.src, b.src], w: w1[a.t] * w1[b.t] });
      let sum = 0;
      const routes = new Map();
      for (const term of terms) {
        const m = res.map[flat(term.src, L1)];
        term.value = m.value;
        sum += term.w * m.value;
        if (m.from !== null) routes.set(m.from, (routes.get(m.from) || 0) + term.w);
      }
      return { index, terms, value: sum, routes: [...routes.entries()], dropped: 0 };
    });
    res.output = res.steps.map((st) => st.value);
    return res;
  }

  // dL/dx: each output's gradient g sent along its routes, summed over overlapping windows.
  function backward(res, grad, upTo = res.steps.length) {
    const gx = new Array(res.n ** res.dim).fill(0);
    const hits = new Array(gx.length).fill(0);
    for (let k = 0; k < upTo; k++) {
      for (const [i, coef] of res.steps[k].routes) {
        gx[i] += grad[k] * coef;
        hits[i] += 1;
      }
    }
    return { gx, hits };
  }

  // ==========================================================================================
  // 2. Words and numbers
  // ==========================================================================================
  function fmt(v) {
    if (v === null || v === undefined) return "·";
    if (v === -Infinity) return "−∞";
    if (v === Infinity) return "∞";
    if (Object.is(v, -0)) v = 0;
    if (Number.isInteger(v)) return String(v).replace("-", "−");
    const a = Math.abs(v);
    let t = a >= 1000 ? v.toFixed(1) : a >= 1 ? String(+v.toPrecision(4)) : String(+v.toFixed(4));
    if (t === "0" || t === "-0") t = v.toExponential(2);
    return t.replace("-", "−");
  }
  // Binomial weights are k / 2^m: show them as fractions (1/16), not 0.0625.
  function dyadic(w) {
    for (let den = 1; den <= 1 << 16; den *= 2) if (Number.isInteger(w * den)) return den === 1 ? fmt(w) : `${w * den}/${den}`;
    return fmt(w);
  }
  // Two significant digits for the small grids of the side-by-side table (exact value on hover).
  const short = (v) => (Number.isInteger(v) ? fmt(v) : fmt(+v.toPrecision(2)));
  const paren = (v) => (v < 0 ? `(${fmt(v)})` : fmt(v));
  const idx = (name, pos) => `${name}[${pos.join(",")}]`;
  const OP_NAMES = { max: "max pooling", avg: "average pooling", conv: "strided convolution", "blur-max": "blur-max" };

  function line(parent, text, cls) {
    const el = document.createElement("div");
    if (cls) el.className = cls;
    el.textContent = text.replace(/-(?=\d)/g, "−"); // a real minus sign before numbers
    parent.appendChild(el);
    return el;
  }

  function spans(parent, parts) {
    // parts: [text, className?]
    for (const [text, cls] of parts) {
      const s = document.createElement("span");
      if (cls) s.className = cls;
      s.textContent = text;
      parent.appendChild(s);
    }
  }

  // The output-size formula with the user's numbers substituted.
  function formulaLines(res) {
    const { g, op, dim } = res;
    const box = $("formula");
    box.textContent = "";
    const both = dim === 2 ? " (both axes: the same n, f, s, p, d)" : "";
    if (op === "blur-max") {
      line(box, "Output size" + both, "hd");
      const dn = g.dense;
      line(box, "1. max over f×f at stride 1:  L₁ = n + 2p − d(f−1)");
      line(box, `                                 = ${dn.n} + 2·${dn.p} − ${dn.d}·(${dn.f}−1) = ${dn.num + 1}` + (dn.problem ? "" : ""));
      if (g.problem === "pad" || g.problem === "small") return;
      line(box, `2. blur (filter ${g.filt}, reflect padding ${g.left}+${g.right}), keep every s-th:`);
      line(box, "   out = ⌊(L₁ + " + `${g.left} + ${g.right} − ${g.filt})/s⌋ + 1 = ⌊(L₁ − 1)/s⌋ + 1 = ⌈L₁/s⌉`);
      if (g.problem) return;
      line(box, `       = ⌊(${g.L1} − 1)/${g.s}⌋ + 1 = ${g.out}`, "good");
      return;
    }
    line(box, "Output size" + both, "hd");
    if (g.d > 1) line(box, `effective window  d(f−1) + 1 = ${g.d}·(${g.f}−1) + 1 = ${g.e}`);
    const sub = `(${g.n} + 2·${g.p} − ${g.d}·(${g.f}−1) − 1) / ${g.s}`;
    const num = g.num;
    if (g.kind === "pool" && g.ceil) {
      line(box, "ceil_mode:  out = ⌈(n + 2p − d(f−1) − 1) / s⌉ + 1");
      line(box, `                 = ⌈${sub}⌉ + 1 = ⌈${num}/${g.s}⌉ + 1 = ${g.ceilOut ?? ceilDiv(num, g.s) + 1}`);
      if (g.problem === "pad") return;
      line(box, "PyTorch's rule: the last window must start inside the input (or the left padding).");
      const last = g.ceilOut - 1;
      const el = line(box, `  it starts at (out−1)·s − p = ${last}·${g.s} − ${g.p} = ${g.lastStart}`);
      if (g.dropped) {
        el.textContent += `, which is ≥ n = ${g.n}: in the right padding, so PyTorch drops it:`.replace(/-(?=\d)/g, "−");
        line(box, `  out = ${g.ceilOut} − 1 = ${g.out}`, g.out < 1 ? "badn" : "good");
      } else {
        el.textContent += ` < n = ${g.n}: inside, so it stays:  out = ${g.out}`.replace(/-(?=\d)/g, "−");
        el.className = g.out < 1 ? "badn" : "good";
      }
      if (g.out !== g.floorOut && g.out >= 1) line(box, `(floor mode would give ${g.floorOut}: ceil mode adds a partial window at the end)`);
    } else {
      line(box, "out = ⌊(n + 2p − d(f−1) − 1) / s⌋ + 1");
      if (g.problem === "pad") {
        line(box, `    = ⌊${sub}⌋ + 1`);
        line(box, "(not computed: PyTorch checks the padding first)");
        return;
      }
      line(box, `    = ⌊${sub}⌋ + 1 = ⌊${num}/${g.s}⌋ + 1 = ${g.out}`, g.problem ? "badn" : "good");
    }
    if (!g.problem) {
      const total = dim === 2 ? `${g.out}×${g.out}` : `${g.out}`;
      line(box, `output: ${total}` + (dim === 2 ? ` = ${g.out * g.out} positions` : " positions"));
    }
  }

  // Invalid settings: PyTorch's rule, and why, instead of a broken picture.
  function problemBox(res) {
    const box = $("problem");
    box.textContent = "";
    if (!res.problem) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const g = res.g.dense && ["pad", "small"].includes(res.problem) ? res.g.dense : res.g;
    const h = document.createElement("h3");
    h.textContent = "PyTorch refuses these settings";
    box.appendChild(h);
    const say = (t) => {
      const p = document.createElement("p");
      p.textContent = t;
      box.appendChild(p);
    };
    const half = Math.floor(g.f / 2);
    if (res.problem === "pad") {
      say(`Padding p = ${g.p} is more than half the window: pooling needs p ≤ ⌊f/2⌋ = ⌊${g.f}/2⌋ = ${half}. ` +
        `PyTorch: “pad should be at most half of kernel size”.`);
      say("Why: padding is there so that a window can be centred on a border cell. With more than half a " +
        "window of padding, windows would reach into cells that hold no data at all (for max pooling, −∞), " +
        "so PyTorch refuses instead of producing outputs made of padding.");
      say(`Try p ≤ ${half}` + (g.p <= RANGES.f[1] / 2 ? ` or a window f ≥ ${2 * g.p}.` : "."));
    } else if (res.problem === "small") {
      say(`The output would have ${g.out ?? g.floorOut} positions: the window spans d(f−1)+1 = ${g.e} cells but the ` +
        `padded input has only n + 2p = ${g.padded}. PyTorch: “Output size is too small”.`);
      say("Why: every output needs one whole window inside the (padded) input. Use a smaller window or dilation, " +
        "more padding, or a larger input.");
    } else if (res.problem === "kernel") {
      const need = Math.ceil((g.e - g.n) / 2);
      say(`The kernel spans d(f−1)+1 = ${g.e} cells but the padded input has only n + 2p = ${g.padded}. ` +
        "PyTorch: “Kernel size can't be greater than actual input size”.");
      say(`Why: a convolution output is one whole kernel placed on the input. Convolutions accept any padding, ` +
        `so p ≥ ${need} would work here (or a smaller kernel or dilation).`);
    } else if (res.problem === "reflect") {
      say(`The max stage leaves only L₁ = ${res.g.L1} value(s) per axis, but the blur's reflect padding ` +
        `(${res.g.left} left, ${res.g.right} right) needs more than ${Math.max(res.g.left, res.g.right)}. ` +
        "PyTorch, F.pad(mode=\"reflect\"): “Padding size should be less than the corresponding input dimension”.");
      say("Why: reflection mirrors the values next to the border; it needs at least that many values. " +
        "Use a larger input, a smaller window or a smaller blur filter.");
    }
  }

  function stepWords(res, k) {
    const el = $("fwd-text");
    el.textContent = "";
    if (res.problem) return;
    const N = res.steps.length;
    if (k === 0) {
      spans(el, [[`${OP_NAMES[res.op]}: ${N} output position${N === 1 ? "" : "s"}. ` +
        "Press ▶ (or → on the picture) to move the window one step.", null]]);
      return;
    }
    const st = res.steps[k - 1];
    const head = `Step ${k}/${N}: ${idx("out", st.index)} `;
    if (res.op === "max") {
      const vals = st.cells.filter((c) => c.where === "in").map((c) => fmt(c.value));
      const pads = st.cells.filter((c) => c.where !== "in").length;
      if (st.chosen === null) {
        spans(el, [[head, null], [`= max(∅) = −∞`, "sum"], [": every cell of this window is padding.", null]]);
        return;
      }
      spans(el, [[head, null], [`= max(${vals.join(", ")}) = ${fmt(st.value)}`, "sum"],
        [` ← taken from ${idx("input", st.cells[st.chosen].pos)}` +
          (pads ? `; ${pads} padding cell${pads > 1 ? "s" : ""} (−∞) never win.` : "."), null]]);
    } else if (res.op === "avg") {
      const terms = st.cells.filter((c) => c.where === "in" || (c.where === "pad" && res.cfg.cip));
      const vals = terms.map((c) => (c.where === "in" ? paren(c.value) : "0"));
      const nIn = st.cells.filter((c) => c.where === "in").length;
      const nPad = terms.length - nIn;
      const out = st.cells.filter((c) => c.where === "outside").length;
      const ignoredPad = st.cells.filter((c) => c.where === "pad").length - (res.cfg.cip ? st.cells.filter((c) => c.where === "pad").length : 0);
      let why = `divisor ${st.divisor}: ${nIn} input`;
      if (nPad) why += ` + ${nPad} padding zero${nPad > 1 ? "s" : ""}`;
      if (ignoredPad) why += ` (${ignoredPad} padding cell${ignoredPad > 1 ? "s" : ""} not counted: count_include_pad is off)`;
      if (out) why += `; ${out} cell${out > 1 ? "s" : ""} past the padding (ceil mode) never count`;
      spans(el, [[head, null], [`= (${vals.join(" + ")}) / ${st.divisor} = ${fmt(st.value)}`, "sum"], [` — ${why}.`, null]]);
    } else if (res.op === "conv") {
      const terms = st.cells.map((c) => `${c.where === "in" ? paren(c.value) : "0"}·${paren(c.weight)}`);
      const pads = st.cells.filter((c) => c.where !== "in").length;
      spans(el, [[head, null], [`= ${terms.join(" + ")} = ${fmt(st.value)}`, "sum"],
        [pads ? ` — ${pads} padding zero${pads > 1 ? "s" : ""}.` : " — each input cell times the weight on top of it (no flip: PyTorch's convolution is a cross-correlation).", null]]);
    } else {
      const terms = st.terms.map((t) => `${dyadic(t.w)}·${paren(t.value)}`);
      spans(el, [[head, null], [`= ${terms.join(" + ")} = ${fmt(st.value)}`, "sum"],
        [" — blur weights times values of the max map; each max-map value is the max of one window at stride 1.", null]]);
    }
  }

  function backWords(res, grad, k) {
    const el = $("bwd-text");
    el.textContent = "";
    if (res.problem) {
      el.textContent = "These settings are invalid (see the playground), so there is nothing to send back.";
      return;
    }
    const N = res.steps.length;
    if (k === 0) {
      el.textContent = `Each of the ${N} outputs sends its gradient back through its window. Step through to watch dL/dx add up.`;
      return;
    }
    const st = res.steps[k - 1];
    const gk = grad[k - 1];
    const pos = (i) => (res.dim === 2 ? [Math.floor(i / res.n), i % res.n] : [i]);
    const head = `Step ${k}/${N}: ${idx("out", st.index)} has g = ${fmt(gk)}: `;
    let body;
    if (res.op === "max") {
      body = st.routes.length ? `all of it goes to ${idx("input", pos(st.routes[0][0]))}, the cell max picked; the others get 0.`
        : "the window is all padding, so the gradient is dropped.";
    } else if (res.op === "avg") {
      const share = fmt(gk / st.divisor);
      body = `${fmt(gk)}/${st.divisor} = ${share} to each of ` + st.routes.map(([i]) => idx("input", pos(i))).join(", ") +
        (st.dropped ? `; ${fmt(gk * st.dropped)} lands on padding and is dropped.` : ".");
    } else if (res.op === "conv") {
      body = st.routes.map(([i, c]) => `${idx("input", pos(i))} += ${fmt(gk)}·${paren(c)}`).join(", ") +
        (st.dropped ? "; the rest lands on padding and is dropped." : ".") + " (g times each weight.)";
    } else {
      body = "through the blur weights to the max map, then to each window's arg-max: " +
        st.routes.map(([i, c]) => `${idx("input", pos(i))} += ${fmt(gk * c)}`).join(", ") + ".";
    }
    el.textContent = head + body;
    if (k === N) {
      const { hits } = backward(res, grad);
      const never = hits.filter((h) => h === 0).length;
      el.textContent += `  Done: dL/dx is complete` + (never ? `; ${never} input cell${never > 1 ? "s" : ""} got no gradient at all.` : ".");
    }
  }

  // ==========================================================================================
  // 3. SVG grids
  // ==========================================================================================
  function el(name, attrs = {}, parent = null) {
    const e = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function txt(parent, x, y, text, cls) {
    const t = el("text", { x, y, class: cls }, parent);
    t.textContent = text;
    return t;
  }

  // A grid of cells. spec: {x, y, size, rows: [lo, hi), cols: [lo, hi) (positions, may be
  // negative), title, labels, cell(pos) -> {cls, text, dim, weight, data}}; 1D grids have rows null.
  function drawGrid(svg, spec) {
    const g = el("g", { class: "grid" }, svg);
    const { x, y, size } = spec;
    const rows = spec.rows || [0, 1];
    const cols = spec.cols;
    const top = y + (spec.title ? 20 : 0) + (spec.labels ? 14 : 0);
    const left = x + (spec.labels && spec.rows ? 22 : 0);
    if (spec.title) txt(g, x, y + 13, spec.title, "title");
    const font = Math.max(9, Math.min(17, size * 0.36));
    for (let c = cols[0]; c < cols[1]; c++) {
      if (spec.labels) txt(g, left + (c - cols[0] + 0.5) * size, top - 8, String(c).replace("-", "−"), "lab");
    }
    for (let r = rows[0]; r < rows[1]; r++) {
      const ry = top + (r - rows[0]) * size;
      if (spec.labels && spec.rows) txt(g, left - 12, ry + size / 2, String(r).replace("-", "−"), "lab");
      for (let c = cols[0]; c < cols[1]; c++) {
        const pos = spec.rows ? [r, c] : [c];
        const info = spec.cell(pos) || {};
        const cx = left + (c - cols[0]) * size;
        const rect = el("rect", { x: cx + 0.5, y: ry + 0.5, width: size - 1, height: size - 1, class: "c " + (info.cls || "") }, g);
        if (info.data) for (const [k, v] of Object.entries(info.data)) rect.setAttribute("data-" + k, v);
        if (info.title) {
          const t = el("title", {}, rect);
          t.textContent = info.title;
        }
        if (info.onclick) {
          rect.classList.add("clickable");
          rect.addEventListener("click", info.onclick);
        }
        if (info.text !== undefined && info.text !== "") {
          const t = txt(g, cx + size / 2, ry + size / 2 + (info.weight !== undefined ? 3 : 0), info.text, "v" + (info.dim ? " dim" : ""));
          // monospace digits are about 0.6 em wide: shrink long numbers to fit the cell
          t.setAttribute("font-size", Math.min(font, (size - 5) / (0.62 * info.text.length)).toFixed(1));
        }
        if (info.weight !== undefined) txt(g, cx + size - 2, ry + 9, "×" + fmt(info.weight), "wt");
      }
    }
    const gridWidth = left - x + (cols[1] - cols[0]) * size;
    const titleWidth = spec.title ? spec.title.length * 7.4 : 0;
    const box = { left, top, size, rows, cols, width: Math.max(gridWidth, titleWidth), height: top - y + (rows[1] - rows[0]) * size };
    box.rect = (r0, r1, c0, c1, cls) =>
      el("rect", {
        x: left + (c0 - cols[0]) * size, y: top + (r0 - rows[0]) * size,
        width: (c1 - c0) * size, height: (r1 - r0) * size, class: cls,
      }, svg);
    return box;
  }

  function finish(svg, width, height) {
    svg.setAttribute("viewBox", `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`);
    svg.setAttribute("width", Math.ceil(width));
    svg.setAttribute("height", Math.ceil(height));
  }

  // Range of positions drawn along one axis: the padding, and in ceil mode the cells past it.
  function drawnRange(res, g) {
    let hi = g.n + g.p;
    if (res.steps && g.kind !== "blur") for (const st of res.steps) for (const c of st.cells) hi = Math.max(hi, c.pos[c.pos.length - 1] + 1);
    return [-g.p, hi];
  }

  function cellSizeFor(total) {
    return Math.max(20, Math.min(52, Math.floor(820 / Math.max(total, 1))));
  }

  // A picture's svg, emptied; null (and a 1x1 picture) when the settings have a problem.
  function startPicture(id, res) {
    const svg = $(id);
    svg.textContent = "";
    if (res.problem) {
      finish(svg, 1, 1);
      return null;
    }
    return svg;
  }

  // ---- forward picture --------------------------------------------------------------------
  function drawForward(res, k) {
    const svg = startPicture("fwd-svg", res);
    if (!svg) return;
    const { g, dim, n } = res;
    const x = res.cfg.input;
    const st = k > 0 ? res.steps[k - 1] : null;
    const range = res.op === "blur-max" ? [-g.p, g.n + g.p] : drawnRange(res, g);
    const out = g.out;
    const mapW = res.op === "blur-max" ? g.L1 + g.left + g.right + 2 : 0;
    const size = cellSizeFor(range[1] - range[0] + out + mapW + 3);
    const inCells = new Map();
    let hull = null;
    if (st && res.op !== "blur-max") {
      st.cells.forEach((c, i) => inCells.set(c.pos.join(","), { c, chosen: i === st.chosen }));
      const ps = st.cells.map((c) => c.pos);
      hull = ps[0].map((_, ax) => [Math.min(...ps.map((q) => q[ax])), Math.max(...ps.map((q) => q[ax])) + 1]);
    }
    if (st && res.op === "blur-max") {
      for (const t of st.terms) {
        const m = res.map[flat(t.src, g.L1)];
        m.cells.forEach((c, i) => {
          const key = c.pos.join(",");
          const prev = inCells.get(key);
          inCells.set(key, { c, chosen: (prev && prev.chosen) || i === m.chosen });
        });
      }
    }
    const where = (q) => (q < 0 || q >= n ? (q >= -g.p && q < n + g.p ? "pad" : "outside") : "in");
    const inBox = drawGrid(svg, {
      x: 0, y: 0, size, labels: true, title: dim === 2 ? `input ${n}×${n}` + (g.p ? `, padding ${g.p}` : "") : `input (n = ${n})` + (g.p ? `, padding ${g.p}` : ""),
      rows: dim === 2 ? range : null, cols: range,
      cell: (pos) => {
        const w = pos.map(where);
        const kind = w.includes("outside") ? "outside" : w.every((v) => v === "in") ? "in" : "pad";
        const hit = inCells.get(pos.join(","));
        let cls = kind === "in" ? "" : kind;
        if (hit) cls += hit.chosen && res.op !== "conv" && res.op !== "avg" ? " chosen" : " win";
        const info = { cls };
        if (kind === "in") info.text = fmt(x[flat(pos, n)]);
        else if (hit) info.text = res.op === "max" || res.op === "blur-max" ? "−∞" : "0";
        if (kind !== "in") info.dim = true;
        if (hit && res.op === "conv") info.weight = hit.c.weight;
        info.title = `${idx("input", pos)}` + (kind === "in" ? ` = ${fmt(x[flat(pos, n)])}` : ` (${kind === "pad" ? "padding" : "past the padding"})`);
        return info;
      },
    });
    if (hull) {
      const r = dim === 2 ? hull[0] : [0, 1];
      const c = hull[hull.length - 1];
      inBox.rect(r[0], r[1], c[0], c[1], "winbox");
    }
    let xoff = inBox.width + size * 1.4;
    let height = inBox.height;
    const midY = inBox.top + ((inBox.rows[1] - inBox.rows[0]) * size) / 2;
    if (res.op === "blur-max") {
      txt(svg, xoff - size * 0.7, midY, "max→", "arrow");
      const st2 = st;
      const hitMap = new Map();
      if (st2) for (const t of st2.terms) hitMap.set(t.j.join(","), t);
      const mr = [-g.left, g.L1 + g.right];
      const mapBox = drawGrid(svg, {
        x: xoff, y: 0, size, labels: true, title: `max map (f=${g.f}, stride 1)`,
        rows: dim === 2 ? mr : null, cols: mr,
        cell: (pos) => {
          const src = pos.map((j) => (j < 0 ? -j : j >= g.L1 ? 2 * (g.L1 - 1) - j : j));
          const reflected = pos.some((j, a) => j !== src[a]);
          const hit = hitMap.get(pos.join(","));
          const v = res.map[flat(src, g.L1)].value;
          return { cls: (reflected ? "reflect" : "") + (hit ? " win" : ""), text: fmt(v), dim: reflected,
            title: reflected ? `reflect padding: a copy of ${idx("map", src)}` : `${idx("map", pos)} = ${fmt(v)}` };
        },
      });
      xoff += mapBox.width + size * 1.4;
      height = Math.max(height, mapBox.height);
      txt(svg, xoff - size * 0.7, midY, "blur→", "arrow");
    } else {
      txt(svg, xoff - size * 0.7, midY, res.op === "conv" ? "conv→" : res.op + "→", "arrow");
    }
    const outBox = drawGrid(svg, {
      x: xoff, y: 0, size, labels: true, title: dim === 2 ? `output ${out}×${out}` : `output (${out})`,
      rows: dim === 2 ? [0, out] : null, cols: [0, out],
      cell: (pos) => {
        const i = flat(pos, out);
        if (i < k) {
          const v = res.output[i];
          return { cls: i === k - 1 ? "current" : "done", text: fmt(v), data: { v: String(v), i }, title: `${idx("out", pos)} = ${fmt(v)}` };
        }
        return { cls: "empty", text: "", title: `${idx("out", pos)}: not computed yet` };
      },
    });
    finish(svg, outBox.left + out * size + 4, Math.max(height, outBox.height) + 4);
  }

  // ---- backward picture -------------------------------------------------------------------
  function drawBackward(res, grad, k) {
    const svg = startPicture("bwd-svg", res);
    if (!svg) return;
    const { dim, n, g } = res;
    const out = g.out;
    const size = cellSizeFor(out + n + 2 * g.p + 3);
    const gBox = drawGrid(svg, {
      x: 0, y: 0, size, labels: true, title: "dL/dout (upstream)",
      rows: dim === 2 ? [0, out] : null, cols: [0, out],
      cell: (pos) => {
        const i = flat(pos, out);
        return { cls: i === k - 1 ? "current" : i < k ? "done" : "", text: fmt(grad[i]) };
      },
    });
    const { gx, hits } = backward(res, grad, k);
    const now = new Set(k > 0 ? res.steps[k - 1].routes.map(([i]) => i) : []);
    const xoff = gBox.width + size * 1.6;
    txt(svg, xoff - size * 0.8, gBox.top + ((gBox.rows[1] - gBox.rows[0]) * size) / 2, "→", "arrow");
    const range = [-g.p, n + g.p];
    const inBox = drawGrid(svg, {
      x: xoff, y: 0, size, labels: true, title: k === res.steps.length ? "dL/dx (complete)" : `dL/dx after ${k} of ${res.steps.length}`,
      rows: dim === 2 ? range : null, cols: range,
      cell: (pos) => {
        if (pos.some((q) => q < 0 || q >= n)) return { cls: "pad" };
        const i = flat(pos, n);
        const cls = (now.has(i) ? "hit" : "") + (hits[i] > 1 ? " multi" : "");
        const info = { cls, text: fmt(gx[i]), dim: hits[i] === 0, title: `dL/d${idx("input", pos)} = ${fmt(gx[i])} (from ${hits[i]} window${hits[i] === 1 ? "" : "s"})` };
        if (k === res.steps.length) info.data = { v: String(gx[i]), i };
        return info;
      },
    });
    finish(svg, inBox.left + (range[1] - range[0]) * size + 4, Math.max(gBox.height, inBox.height) + 4);
  }

  // ==========================================================================================
  // 4. Steppers (buttons, slider, keyboard, animation)
  // ==========================================================================================
  function makeStepper(root, figure, onStep) {
    const st = { k: 0, N: 0, timer: null };
    const mk = (label, title, fn) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.title = title;
      b.setAttribute("aria-label", title);
      b.addEventListener("click", fn);
      root.appendChild(b);
      return b;
    };
    const set = (k) => {
      st.k = Math.max(0, Math.min(st.N, k));
      range.value = st.k;
      count.textContent = `step ${st.k} / ${st.N}`;
      onStep(st.k);
    };
    const stop = () => {
      if (st.timer) clearInterval(st.timer);
      st.timer = null;
      play.textContent = "▶ play";
    };
    const toggle = () => {
      if (st.timer) return stop();
      if (st.k >= st.N) set(0);
      play.textContent = "❚❚ pause";
      st.timer = setInterval(() => (st.k >= st.N ? stop() : set(st.k + 1)), 750);
    };
    const first = mk("|◀", "first step", () => (stop(), set(0)));
    const prev = mk("◀ back", "previous step", () => (stop(), set(st.k - 1)));
    const play = mk("▶ play", "play or pause the animation", toggle);
    const next = mk("next ▶", "next step", () => (stop(), set(st.k + 1)));
    const last = mk("▶|", "last step (everything computed)", () => (stop(), set(st.N)));
    first.dataset.role = "first";
    prev.dataset.role = "prev";
    next.dataset.role = "next";
    last.dataset.role = "last";
    const range = document.createElement("input");
    range.type = "range";
    range.min = 0;
    range.setAttribute("aria-label", "step");
    range.addEventListener("input", () => (stop(), set(+range.value)));
    root.appendChild(range);
    const count = document.createElement("span");
    count.className = "count";
    root.appendChild(count);
    figure.addEventListener("keydown", (e) => {
      const moves = { ArrowRight: st.k + 1, ArrowLeft: st.k - 1, Home: 0, End: st.N };
      if (e.key in moves) {
        stop();
        set(moves[e.key]);
        e.preventDefault();
      } else if (e.key === " ") {
        toggle();
        e.preventDefault();
      }
    });
    return {
      reset(N, k) {
        stop();
        st.N = N;
        range.max = N;
        set(Math.min(k, N));
      },
      get k() {
        return st.k;
      },
    };
  }

  // ==========================================================================================
  // 5. The playground: controls -> configuration -> pictures
  // ==========================================================================================
  const SLIDERS = ["n", "f", "s", "p", "d"];
  const state = { input: [], weights: [], res: null, seed: 16 };

  function lcg(seed) {
    let s = seed >>> 0;
    return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  }
  function randomInput(count, seed) {
    const r = lcg(seed);
    return Array.from({ length: count }, () => Math.floor(r() * 10));
  }
  const radio = (name) => document.querySelector(`input[name="${name}"]:checked`).value;

  function readConfig() {
    return {
      op: radio("op"), dim: +radio("dim"),
      n: +$("n").value, f: +$("f").value, s: +$("s").value, p: +$("p").value, d: +$("d").value,
      ceil: $("ceil").checked, cip: $("cip").checked, filt: +$("filt").value,
    };
  }

  function defaultWeight(i, count) {
    return i === 0 ? 1 : i === count - 1 ? -1 : 0;
  }

  // Keep the weights grid f x f (2D) or f (1D); keep values that still fit.
  function syncWeights(cfg) {
    const box = $("weights");
    const rows = cfg.dim === 2 ? cfg.f : 1;
    const cols = cfg.f;
    if (box.dataset.shape === `${rows}x${cols}`) return;
    const old = box.dataset.shape ? box.dataset.shape.split("x").map(Number) : null;
    const prev = [...box.querySelectorAll("input")].map((i) => i.value);
    box.textContent = "";
    box.dataset.shape = `${rows}x${cols}`;
    box.style.gridTemplateColumns = `repeat(${cols}, auto)`;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const input = document.createElement("input");
        input.type = "number";
        input.step = "any";
        input.setAttribute("aria-label", cfg.dim === 2 ? `weight row ${r} column ${c}` : `weight ${c}`);
        let v = String(defaultWeight(r * cols + c, rows * cols));
        if (old && r < old[0] && c < old[1]) v = prev[r * old[1] + c];
        input.value = v;
        input.addEventListener("input", update);
        box.appendChild(input);
      }
  }

  function readWeights() {
    return [...$("weights").querySelectorAll("input")].map((i) => (i.value.trim() === "" || !isFinite(+i.value) ? 0 : +i.value));
  }

  function showValues(cfg) {
    const n = cfg.n;
    const rows = cfg.dim === 2 ? n : 1;
    const lines = [];
    for (let r = 0; r < rows; r++) lines.push(state.input.slice(r * n, (r + 1) * n).map(fmtPlain).join(" "));
    $("values").value = lines.join("\n");
    $("values").rows = Math.min(Math.max(rows, 2), 12);
    $("values-error").textContent = "";
  }
  const fmtPlain = (v) => String(v);

  // Resize the input to the slider's n, keeping the values that still fit.
  function resizeInput(cfg, oldN, oldDim) {
    const n = cfg.n;
    const fresh = randomInput(n ** cfg.dim, state.seed);
    const old = state.input;
    state.input = fresh.map((v, i) => {
      const pos = cfg.dim === 2 ? [Math.floor(i / n), i % n] : [i];
      if (oldDim === cfg.dim && pos.every((q) => q < oldN)) return old[flat(pos, oldN)];
      if (oldDim !== cfg.dim && cfg.dim === 1 && oldDim === 2 && i < oldN) return old[i];
      return v;
    });
  }

  function parseValues(text, dim) {
    const rows = text.split(/[\n;]+/).map((r) => r.trim()).filter((r) => r.length);
    if (!rows.length) return { error: "type some numbers" };
    const parsed = rows.map((r) => r.split(/[\s,]+/).map(Number));
    for (let i = 0; i < parsed.length; i++)
      if (parsed[i].some((v) => !Number.isFinite(v))) return { error: `row ${i + 1}: “${rows[i]}” is not all numbers` };
    const [lo, hi] = RANGES.n;
    if (dim === 1) {
      if (parsed.length !== 1) return { error: "1D input: put the numbers on one line" };
      const m = parsed[0].length;
      if (m < lo || m > hi) return { error: `1D input: ${m} numbers; this page shows ${lo} to ${hi}` };
      return { n: m, values: parsed[0] };
    }
    const m = parsed.length;
    if (m < lo || m > hi) return { error: `2D input: ${m} rows; this page shows ${lo} to ${hi}` };
    for (let i = 0; i < m; i++)
      if (parsed[i].length !== m) return { error: `2D input must be square: row ${i + 1} has ${parsed[i].length} numbers, expected ${m}` };
    return { n: m, values: parsed.flat() };
  }

  function setDisabled(rowId, whyId, off, why) {
    const row = $(rowId);
    row.classList.toggle("off", off);
    for (const i of row.querySelectorAll("input")) i.disabled = off;
    const w = $(whyId);
    w.hidden = !off;
    if (why) w.textContent = why;
  }

  let fwd;
  let bwd;
  function update() {
    const cfg = readConfig();
    for (const k of SLIDERS) $(`${k}-out`).textContent = $(k).value;
    setDisabled("d-row", "d-why", cfg.op === "avg");
    setDisabled("ceil-row", "ceil-why", cfg.op === "conv" || cfg.op === "blur-max",
      cfg.op === "conv" ? "Convolutions have no ceil_mode in PyTorch." : "blur-max's max stage has stride 1 (rounding changes nothing).");
    setDisabled("cip-row", "cip-why", cfg.op !== "avg");
    $("weights-row").hidden = cfg.op !== "conv";
    $("filt-row").hidden = cfg.op !== "blur-max";
    $("legend-chosen").hidden = cfg.op !== "max" && cfg.op !== "blur-max";
    syncWeights(cfg);
    cfg.input = state.input;
    cfg.weights = readWeights();
    const res = compute(cfg);
    state.res = res;
    state.cfg = cfg;
    $("fwd-view").hidden = !!res.problem;
    $("bwd-view").hidden = !!res.problem;
    $("fwd-fig").dataset.outShape = res.problem ? "" : res.outShape.join("x");
    $("problem").dataset.rule = res.problem || "";
    formulaLines(res);
    problemBox(res);
    const N = res.problem ? 0 : res.steps.length;
    fwd.reset(N, N === 0 ? 0 : fwd.k === 0 ? 0 : N);
    bwd.reset(N, N === 0 ? 0 : bwd.k === 0 ? 0 : N);
  }

  function gradFor(res) {
    const N = res.steps ? res.steps.length : 0;
    return $("grad-kind").value === "count" ? Array.from({ length: N }, (_, i) => i + 1) : new Array(N).fill(1);
  }

  function initPlayground() {
    for (const k of SLIDERS) {
      const r = $(k);
      r.min = RANGES[k][0];
      r.max = RANGES[k][1];
      r.step = 1;
    }
    const init = DATA.initial;
    document.querySelector(`input[name="op"][value="${init.op}"]`).checked = true;
    document.querySelector(`input[name="dim"][value="${init.dim}"]`).checked = true;
    for (const k of SLIDERS) $(k).value = init[k];
    $("ceil").checked = init.ceil;
    $("cip").checked = init.cip;
    state.input = init.input.flat();
    fwd = makeStepper($("fwd-stepper"), $("fwd-fig"), (k) => {
      if (!state.res) return;
      drawForward(state.res, k);
      stepWords(state.res, k);
    });
    bwd = makeStepper($("bwd-stepper"), $("bwd-fig"), (k) => {
      if (!state.res) return;
      const grad = gradFor(state.res);
      drawBackward(state.res, grad, k);
      backWords(state.res, grad, k);
    });
    $("controls").addEventListener("submit", (e) => e.preventDefault());
    let last = readConfig();
    const onControl = () => {
      const cfg = readConfig();
      if (cfg.n !== last.n || cfg.dim !== last.dim) {
        resizeInput(cfg, last.n, last.dim);
        showValues(cfg);
      }
      last = cfg;
      update();
    };
    for (const k of SLIDERS) $(k).addEventListener("input", onControl);
    for (const r of document.querySelectorAll('input[name="op"], input[name="dim"]')) r.addEventListener("change", onControl);
    for (const id of ["ceil", "cip", "filt"]) $(id).addEventListener("change", onControl);
    $("values").addEventListener("input", () => {
      const cfg = readConfig();
      const parsed = parseValues($("values").value, cfg.dim);
      if (parsed.error) {
        $("values-error").textContent = parsed.error;
        return;
      }
      $("values-error").textContent = "";
      state.input = parsed.values;
      $("n").value = parsed.n;
      last = readConfig();
      update();
    });
    $("shuffle").addEventListener("click", () => {
      state.seed += 1;
      const cfg = readConfig();
      state.input = randomInput(cfg.n ** cfg.dim, state.seed);
      showValues(cfg);
      update();
    });
    $("ramp").addEventListener("click", () => {
      const cfg = readConfig();
      state.input = Array.from({ length: cfg.n ** cfg.dim }, (_, i) => i + 1);
      showValues(cfg);
      update();
    });
    $("grad-kind").addEventListener("change", () => bwd.reset(state.res.problem ? 0 : state.res.steps.length, bwd.k));
    showValues(readConfig());
    update();
  }

  // ==========================================================================================
  // 6. Side by side: max, avg, stride-2 conv, subsample, blur-max on one digit
  // ==========================================================================================
  const DIGITS = DATA.digits;

  function shiftImage(img, n, px, dir) {
    const [dr, dc] = { right: [0, px], left: [0, -px], down: [px, 0], up: [-px, 0] }[dir];
    const out = new Array(n * n).fill(0);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        const rr = r - dr;
        const cc = c - dc;
        if (rr >= 0 && rr < n && cc >= 0 && cc < n) out[r * n + c] = img[rr * n + cc];
      }
    return out;
  }

  function parseWeights(text, k) {
    const rows = text.split(";").map((r) => r.trim()).filter((r) => r);
    const val = (t) => {
      const m = t.split("/");
      const v = m.length === 2 ? +m[0] / +m[1] : +t;
      return m.length > 2 ? NaN : v;
    };
    const vals = rows.map((r) => r.split(/[\s,]+/).map(val));
    if (vals.length !== k || vals.some((r) => r.length !== k)) return { error: `${k} rows of ${k} numbers, separated by “;”` };
    if (vals.flat().some((v) => !Number.isFinite(v))) return { error: "weights must be numbers (or fractions like 1/16)" };
    return { w: vals.flat() };
  }

  // The five operators, each through compute() so the numbers are the playground's.
  function cmpOps(weights) {
    return [
      { key: "max", name: "max 2×2, stride 2", cfg: { op: "max", f: 2, s: 2, p: 0, d: 1 }, rf: 2, keeps: "the largest value of each 2×2 block" },
      { key: "avg", name: "average 2×2, stride 2", cfg: { op: "avg", f: 2, s: 2, p: 0, d: 1, cip: true }, rf: 2, keeps: "the mean of each 2×2 block" },
      { key: "conv", name: "conv 3×3, stride 2, padding 1", cfg: { op: "conv", f: 3, s: 2, p: 1, d: 1, weights }, rf: 3, keeps: "a learned weighted sum of each 3×3 block" },
      { key: "subsample", name: "subsample (every other pixel)", cfg: { op: "conv", f: 1, s: 2, p: 0, d: 1, weights: [1] }, rf: 1, keeps: "one pixel of every four" },
      { key: "blur-max", name: "blur-max (max 2×2 s1, blur 3×3 s2)", cfg: { op: "blur-max", f: 2, s: 2, p: 0, d: 1, filt: 3 }, rf: 4, keeps: "a blurred max: smooth under shifts" },
    ];
  }

  function cost(key, C, H) {
    // per example, C channels in and out, H x H input (poolstride's cost convention)
    if (key === "max" || key === "avg") {
      const o = poolAxis(H, 2, 2, 0, 1, false).out;
      return { params: 0, macs: 0, pool: C * o * o * 4, out: o };
    }
    if (key === "conv") {
      const o = convAxis(H, 3, 2, 1, 1).out;
      return { params: C * C * 9 + C, macs: C * C * 9 * o * o, pool: 0, out: o };
    }
    if (key === "subsample") {
      const o = convAxis(H, 1, 2, 0, 1).out;
      return { params: 0, macs: 0, pool: 0, out: o };
    }
    const b = blurAxis(H, 2, 2, 0, 1, 3);
    return { params: 0, macs: C * b.out * b.out * 9, pool: C * b.L1 * b.L1 * 4, out: b.out };
  }

  const cmpState = { sel: null };
  function updateCompare() {
    $("cmp-shift-out").textContent = $("cmp-shift").value;
    const n = 8;
    const pattern = $("cmp-pattern").value;
    const img = pattern === "random" ? randomInput(64, 7).map((v) => (v > 5 ? 1 : 0)) : DIGITS[pattern].flat();
    const px = +$("cmp-shift").value;
    const dir = $("cmp-dir").value;
    const moved = shiftImage(img, n, px, dir);
    const parsed = parseWeights($("cmp-weights").value, 3);
    $("cmp-weights-error").textContent = parsed.error ? "conv weights: " + parsed.error : "";
    const weights = parsed.error ? cmpState.weights || binomial(3).flatMap((a) => binomial(3).map((b) => a * b)) : parsed.w;
    cmpState.weights = weights;
    const C = Math.max(1, Math.floor(+$("cmp-c").value) || 1);
    const H = Math.max(2, Math.floor(+$("cmp-h").value) || 2);
    // the input, before and after
    const svg = $("cmp-input");
    svg.textContent = "";
    const size = 22;
    const sel = cmpState.sel;
    let rfCells = new Set();
    if (sel) {
      const st = sel.res.steps[sel.i];
      const cells = sel.res.op === "blur-max" ? st.terms.flatMap((t) => sel.res.map[flat(t.src, sel.res.g.L1)].cells) : st.cells;
      rfCells = new Set(cells.filter((c) => c.where === "in").map((c) => c.pos.join(",")));
    }
    const grid = (x, data, title, other) =>
      drawGrid(svg, {
        x, y: 0, size, title, rows: [0, n], cols: [0, n],
        cell: (pos) => {
          const v = data[flat(pos, n)];
          const changed = other && v !== other[flat(pos, n)];
          const inRf = sel && sel.after === (data === moved) && rfCells.has(pos.join(","));
          return { cls: (inRf ? "rf" : "") + (changed && !inRf ? " changed" : ""), text: fmt(v), dim: v === 0 };
        },
      });
    const changedIn = img.filter((v, i) => v !== moved[i]).length;
    const b1 = grid(0, img, "input", null);
    const b2 = grid(b1.width + 30, moved, px ? `shifted ${px} px ${dir} (${changedIn} values change)` : "not shifted", img);
    finish(svg, b1.width + 30 + b2.width + 4, b1.height + 4);
    // the table
    const body = $("cmp-table").querySelector("tbody");
    body.textContent = "";
    const results = [];
    for (const op of cmpOps(weights)) {
      const base = { dim: 2, n, ceil: false, cip: true, filt: 3, weights: [], ...op.cfg };
      const r0 = compute({ ...base, input: img });
      const r1 = compute({ ...base, input: moved });
      const y0 = r0.output;
      const y1 = r1.output;
      const o = r0.g.out;
      let diff = 0;
      let norm = 0;
      let changed = 0;
      for (let i = 0; i < y0.length; i++) {
        diff += (y1[i] - y0[i]) ** 2;
        norm += y0[i] ** 2;
        if (Math.abs(y1[i] - y0[i]) > 1e-12) changed += 1;
      }
      const rel = norm > 0 ? Math.sqrt(diff) / Math.sqrt(norm) : diff > 0 ? Infinity : 0;
      results.push({ op, changed, rel, total: y0.length });
      const tr = document.createElement("tr");
      tr.dataset.op = op.key;
      tr.dataset.changed = changed;
      tr.dataset.rel = String(rel);
      if (sel && sel.key === op.key) tr.className = "sel";
      const td = (text, cls) => {
        const c = document.createElement("td");
        if (cls) c.className = cls;
        if (text !== null) c.textContent = text;
        tr.appendChild(c);
        return c;
      };
      const nameCell = td(op.name);
      nameCell.title = "keeps " + op.keeps;
      for (const [ys, other, after] of [[y0, null, false], [y1, y0, true]]) {
        const c = td(null);
        const s = el("svg", { role: "img", "aria-label": `${op.name} output ${after ? "after" : "before"} the shift` }, c);
        const res = after ? r1 : r0;
        const b = drawGrid(s, {
          x: 0, y: 0, size: 38, rows: [0, o], cols: [0, o],
          cell: (pos) => {
            const i = flat(pos, o);
            const picked = sel && sel.key === op.key && sel.i === i && sel.after === after;
            const ch = other && Math.abs(ys[i] - other[i]) > 1e-12;
            return {
              cls: picked ? "pick" : ch ? "changed" : "", text: short(ys[i]), dim: ys[i] === 0,
              data: { v: String(ys[i]), i }, title: `${idx("out", pos)} = ${fmt(ys[i])}; click to see the input cells it reads`,
              onclick: () => {
                cmpState.sel = picked ? null : { key: op.key, i, after, res };
                updateCompare();
              },
            };
          },
        });
        finish(s, b.width + 2, b.height + 2);
      }
      const k = cost(op.key, C, H);
      td(px ? `${changed} of ${y0.length}` : "—", "num");
      td(px ? rel.toFixed(2) : "—", "num");
      const cells = [k.params, k.macs, k.pool].map((v) => td(v.toLocaleString("en-US"), "num"));
      cells[0].dataset.v = k.params;
      cells[1].dataset.v = k.macs;
      cells[2].dataset.v = k.pool;
      td(`${op.rf}×${op.rf}` + (op.key === "blur-max" ? " (2×2 max, then 3×3 blur)" : ""));
      body.appendChild(tr);
    }
    const v = $("cmp-verdict");
    v.textContent = "";
    if (!px) {
      v.textContent = "Move the shift slider: with no shift, nothing changes.";
      return;
    }
    const by = Object.fromEntries(results.map((r) => [r.op.key, r]));
    const order = [...results].sort((a, b) => a.rel - b.rel);
    const inRel = Math.sqrt(img.reduce((a, x, i) => a + (moved[i] - x) ** 2, 0)) / Math.sqrt(img.reduce((a, x) => a + x * x, 0) || 1);
    const p1 = document.createElement("p");
    p1.textContent = `The shift changed ${changedIn} of 64 input values (relative change ${inRel.toFixed(2)}). ` +
      `After halving, the outputs changed least with ${order[0].op.name} (${order[0].rel.toFixed(2)}) and most with ` +
      `${order[order.length - 1].op.name} (${order[order.length - 1].rel.toFixed(2)}).`;
    v.appendChild(p1);
    const p2 = document.createElement("p");
    p2.textContent = px % 2
      ? "An odd shift lands between two positions of a stride-2 output grid, so the outputs cannot simply move along: " +
        `they change (aliasing). Subsampling keeps one pixel in four and throws the rest away (here ${by.subsample.changed} of ${by.subsample.total} outputs changed, ` +
        `relative ${by.subsample.rel.toFixed(2)}); max and average pooling still look at every pixel of each window, so a stroke that moves inside its window is kept; ` +
        "blurring before subsampling spreads the change over more cells, each by less."
      : "An even shift moves the stride-2 grid by whole output cells: away from the borders the outputs just move along with the input.";
    v.appendChild(p2);
  }

  function initCompare() {
    for (const id of ["cmp-pattern", "cmp-dir"]) $(id).addEventListener("change", () => ((cmpState.sel = null), updateCompare()));
    for (const id of ["cmp-shift", "cmp-weights", "cmp-c", "cmp-h"]) $(id).addEventListener("input", () => ((cmpState.sel = null), updateCompare()));
    updateCompare();
  }

  // ==========================================================================================
  // 7. Receptive field growth from a spec
  // ==========================================================================================
  const KIND_GEOM = {
    // kernel, left padding and output length of poolstride's downsampling kinds (factor F)
    max: (F) => ({ k: F, p: 0, d: 1, out: (L) => poolAxis(L, F, F, 0, 1, false) }),
    avg: (F) => ({ k: F, p: 0, d: 1, out: (L) => poolAxis(L, F, F, 0, 1, false) }),
    conv: (F) => ({ k: F, p: 0, d: 1, out: (L) => convAxis(L, F, F, 0, 1) }),
    subsample: (F) => ({ k: 1, p: 0, d: 1, out: (L) => convAxis(L, 1, F, 0, 1) }),
    "blur-max": (F) => ({ k: 4, p: 1, d: 1, out: (L) => blurAxis(L, 2, F, 0, 1, 3) }),
    "blur-avg": (F) => ({ k: 3, p: 1, d: 1, out: (L) => blurAxis(L, 1, F, 0, 1, 3) }),
  };
  const HEADS = ["gap", "gmp", "avgmax", "catavgmax", "flatten"];
  const ACTS = ["relu", "gelu", "silu", "tanh", "sigmoid", "bn"];

  function parseShape(text) {
    const parts = text.toLowerCase().replace(/×/g, "x").split(/[x,]/).map((t) => t.trim());
    if (parts.some((t) => !/^\d+$/.test(t))) return null;
    const v = parts.map(Number);
    if (v.length === 2 || v.length === 3) return v.every((x) => x >= 1) ? v : null;
    return null;
  }

  // One item -> {name, k, s, p (per axis, left), pr (right), d, ceil, pool, out channels} or error
  function parseItem(text, number, position) {
    const where = `item ${number} “${text}” at character ${position}`;
    let m;
    if ((m = /^conv(\d+)-(\d+)(?:\/(\d+))?((?::[a-z0-9]+)*)$/.exec(text))) {
      const it = { text, type: "conv", k: +m[1], out: +m[2], s: m[3] ? +m[3] : 1, d: 1, pad: null };
      for (const o of m[4].split(":").filter(Boolean)) {
        let q;
        if ((q = /^p(\d+)$/.exec(o))) it.pad = +q[1];
        else if (o === "same" || o === "valid") it.pad = o;
        else if ((q = /^d(\d+)$/.exec(o))) it.d = +q[1];
        else if (/^g(\d+)$/.test(o) || o === "dw" || o === "nobias") it.note = "groups/bias do not change the geometry";
        else return { error: `${where}: unknown option “${o}”` };
      }
      if (it.k < 1 || it.out < 1 || it.s < 1 || it.d < 1) return { error: `${where}: kernel, channels, stride and dilation must be ≥ 1` };
      if (it.pad === null) it.pad = Math.floor((it.d * (it.k - 1)) / 2);
      return it;
    }
    if ((m = /^(max|avg)(\d+)(?:\/(\d+))?((?::[a-z0-9]+)*)$/.exec(text))) {
      const it = { text, type: "pool", op: m[1], k: +m[2], s: m[3] ? +m[3] : +m[2], d: 1, pad: 0, ceil: false };
      for (const o of m[4].split(":").filter(Boolean)) {
        let q;
        if ((q = /^p(\d+)$/.exec(o))) it.pad = +q[1];
        else if (m[1] === "max" && (q = /^d(\d+)$/.exec(o)) && +q[1] >= 1) it.d = +q[1];
        else if (o === "ceil") it.ceil = true;
        else return { error: `${where}: unknown option “${o}”` };
      }
      if (it.k < 1 || it.s < 1) return { error: `${where}: kernel and stride must be ≥ 1` };
      return it;
    }
    if ((m = /^fc-?(\d+)$/.exec(text))) return +m[1] >= 1 ? { text, type: "fc", out: +m[1] } : { error: `${where}: fc-<n> needs n ≥ 1` };
    if (HEADS.includes(text)) return { text, type: "head" };
    if (ACTS.includes(text) || /^drop(0?\.\d+|0)?$/.test(text)) return { text, type: "same" };
    if ((m = /^(blur-max|blur-avg|subsample|max|avg|conv|none)(?:-(\d+))?(?:\/(\d+))?$/.exec(text))) {
      return { text, type: "kind", kind: m[1], out: m[2] ? +m[2] : null, F: m[3] ? +m[3] : 2 };
    }
    if (/^[a-z-]+:/.test(text)) return { error: `${where}: kind options (“:…”) are not supported on this page; run poolstride shape for it` };
    return { error: `${where}: not supported on this page (see the list below the picture)` };
  }

  // Receptive field bookkeeping per axis: size r, jump j, centre of unit 0 c (input pixels).
  function through(rf, k, s, p, d) {
    const e = effKernel(k, d);
    return rf.map(({ r, j, c }) => ({ r: r + (e - 1) * j, j: j * s, c: c + ((e - 1) / 2 - p) * j }));
  }

  function rfTable(spec, shapeText) {
    const shape = parseShape(shapeText);
    if (!shape) return { error: `input “${shapeText}” is not a shape; expected CxL (1D) or CxHxW (2D), e.g. 1x32x32` };
    if (!spec.trim()) return { error: "type a spec, e.g. conv3-16, max2, gap" };
    let C = shape[0];
    let sp = shape.slice(1);
    let rf = sp.map(() => ({ r: 1, j: 1, c: 0 }));
    let flatFeatures = null;
    const rows = [];
    let offset = 0;
    const items = spec.split(",");
    for (let i = 0; i < items.length; i++) {
      const raw = items[i];
      const position = offset + (raw.length - raw.trimStart().length);
      offset += raw.length + 1;
      const text = raw.replace(/\s+/g, "").toLowerCase();
      if (!text) return { error: `item ${i + 1} at character ${position} is empty`, rows };
      const it = parseItem(text, i + 1, position);
      if (it.error) return { error: it.error, rows };
      const fail = (msg) => ({ error: `item ${i + 1} “${text}” at character ${position}: ${msg}`, rows });
      if (flatFeatures !== null && it.type !== "fc" && it.type !== "same") return fail("needs a spatial input; put it before gap/flatten/fc");
      if (it.type === "conv" || it.type === "pool") {
        const outs = [];
        const lefts = [];
        for (const L of sp) {
          let left = it.pad;
          let right = it.pad;
          if (it.pad === "valid") left = right = 0;
          if (it.pad === "same") {
            const o = ceilDiv(L, it.s);
            const total = Math.max((o - 1) * it.s + effKernel(it.k, it.d) - L, 0);
            left = total >> 1;
            right = total - left;
          }
          let g;
          if (it.type === "conv") {
            g = convAxis(L + left + right, it.k, it.s, 0, it.d);
            if (g.problem) return fail(`output size < 1: the kernel spans ${g.e} but the padded input is ${L + left + right}`);
          } else {
            g = poolAxis(L, it.k, it.s, it.pad, it.d, it.ceil);
            if (g.problem === "pad") return fail(`padding ${it.pad} is more than half the kernel ${it.k} (PyTorch: padding ≤ ${Math.floor(it.k / 2)})`);
            if (g.problem) return fail(`output size ${g.out} < 1 for input ${L}`);
          }
          outs.push(g.out);
          lefts.push(left);
        }
        rf = rf.map((a, ax) => through([a], it.k, it.s, lefts[ax], it.d)[0]);
        sp = outs;
        if (it.type === "conv") C = it.out;
      } else if (it.type === "kind") {
        if (it.kind !== "none") {
          const gm = KIND_GEOM[it.kind](it.F);
          const outs = [];
          for (const L of sp) {
            const g = gm.out(L);
            if (g.problem || g.out < 1) return fail(`output size < 1 for input ${L}; use a larger input or fewer downsampling steps`);
            outs.push(g.out);
          }
          rf = rf.map((a) => through([a], gm.k, it.F, gm.p, gm.d)[0]);
          sp = outs;
        }
        if (it.out) C = it.out;
      } else if (it.type === "head" || it.type === "fc") {
        if (flatFeatures === null) {
          // everything collapses: one output sees the whole map (adaptive pooling to 1)
          rf = rf.map((a, ax) => ({ r: a.r + (sp[ax] - 1) * a.j, j: a.j * sp[ax], c: a.c + ((sp[ax] - 1) / 2) * a.j }));
          flatFeatures = it.text === "flatten" ? C * sp.reduce((x, y) => x * y, 1) : it.text === "catavgmax" ? 2 * C : C;
        }
        if (it.type === "fc") flatFeatures = it.out;
        sp = [];
      }
      const shapeOut = flatFeatures !== null && !sp.length ? [flatFeatures] : [C, ...sp];
      rows.push({ text, shape: shapeOut, rf: rf.map((a) => ({ ...a })), spatial: sp.length > 0 });
    }
    return { rows, input: shape };
  }

  const axisText = (vals) => (vals.every((v) => v === vals[0]) ? fmt(vals[0]) : vals.map(fmt).join("×"));

  function updateRF() {
    const t = rfTable($("rf-spec").value, $("rf-shape").value);
    $("rf-error").textContent = t.error || "";
    const body = $("rf-table").querySelector("tbody");
    body.textContent = "";
    const sel = $("rf-layer");
    const keep = sel.value;
    sel.textContent = "";
    const rows = t.rows || [];
    rows.forEach((r, i) => {
      const tr = document.createElement("tr");
      tr.dataset.shape = r.shape.join("x");
      tr.dataset.rf = r.rf.map((a) => a.r).join("x");
      tr.dataset.jump = r.rf.map((a) => a.j).join("x");
      tr.dataset.start = r.rf.map((a) => a.c).join("x");
      for (const [text, num] of [[String(i + 1), false], [r.text, false], [r.shape.join("×"), false],
        [axisText(r.rf.map((a) => a.j)), true], [r.rf.map((a) => fmt(a.r)).join("×"), true], [axisText(r.rf.map((a) => a.c)), true]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (num) td.className = "num";
        tr.appendChild(td);
      }
      body.appendChild(tr);
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = `${i + 1}: ${r.text}`;
      sel.appendChild(o);
    });
    if (!rows.length) {
      $("rf-svg").textContent = "";
      $("rf-text").textContent = "";
      return;
    }
    sel.value = keep !== "" && +keep < rows.length ? keep : String(rows.length - 1);
    const layer = +sel.value;
    body.children[layer].classList.add("sel");
    drawRF(t, layer);
  }

  function drawRF(t, layer) {
    const row = t.rows[layer];
    const sp = t.input.slice(1);
    const dim = sp.length;
    const outSp = row.spatial ? row.shape.slice(1) : sp.map(() => 1);
    const iIn = $("rf-i");
    const jIn = $("rf-j");
    iIn.max = dim === 2 ? outSp[0] - 1 : 0;
    jIn.max = outSp[dim - 1] - 1;
    iIn.disabled = dim === 1 || !row.spatial;
    jIn.disabled = !row.spatial;
    const index = dim === 2 ? [Math.min(+iIn.value || 0, outSp[0] - 1), Math.min(+jIn.value || 0, outSp[1] - 1)] : [Math.min(+jIn.value || 0, outSp[0] - 1)];
    const iv = row.rf.map((a, ax) => {
      const centre = a.c + index[ax] * a.j;
      return [centre - (a.r - 1) / 2, centre + (a.r - 1) / 2];
    });
    const svg = $("rf-svg");
    svg.textContent = "";
    const H = dim === 2 ? sp[0] : 1;
    const W = sp[dim - 1];
    const lo = iv.map((v) => Math.min(0, Math.floor(v[0])));
    const hi = iv.map((v, ax) => Math.max(sp[ax] - 1, Math.ceil(v[1])));
    const spanW = hi[dim - 1] - lo[dim - 1] + 1;
    const spanH = dim === 2 ? hi[0] - lo[0] + 1 : 1;
    const cell = Math.max(2, Math.min(22, Math.floor(Math.min(760 / spanW, 360 / spanH))));
    const ox = 8 + (0 - lo[dim - 1]) * cell;
    const oy = 8 + (dim === 2 ? (0 - lo[0]) * cell : 0);
    el("rect", { x: 8, y: 8, width: spanW * cell, height: spanH * cell, class: "frame" }, svg);
    el("rect", { x: ox, y: oy, width: W * cell, height: H * cell, class: "c" }, svg);
    el("title", {}, svg.lastChild).textContent = `the input, ${sp.join("×")}`;
    if (cell >= 6) {
      for (let c = 1; c < W; c++) el("line", { x1: ox + c * cell, y1: oy, x2: ox + c * cell, y2: oy + H * cell, stroke: "#e1e4e8" }, svg);
      for (let r = 1; r < H; r++) el("line", { x1: ox, y1: oy + r * cell, x2: ox + W * cell, y2: oy + r * cell, stroke: "#e1e4e8" }, svg);
    }
    const [r0, r1] = dim === 2 ? iv[0] : [0, 0];
    const [c0, c1] = iv[dim - 1];
    const box = el("rect", { x: ox + c0 * cell, y: oy + r0 * cell, width: (c1 - c0 + 1) * cell, height: (r1 - r0 + 1) * cell, class: "rfbox" }, svg);
    box.dataset.interval = iv.map((v) => v.join(":")).join(",");
    finish(svg, spanW * cell + 16, spanH * cell + 16);
    const name = row.spatial ? `output ${dim === 2 ? `(${index.join(", ")})` : index[0]} of layer ${layer + 1} (${row.text})` : `each output of layer ${layer + 1} (${row.text})`;
    const parts = iv.map((v, ax) => `${dim === 2 ? (ax === 0 ? "rows" : "columns") : "positions"} ${fmt(v[0])}…${fmt(v[1])}`);
    const outside = iv.some((v, ax) => v[0] < 0 || v[1] > sp[ax] - 1);
    $("rf-text").textContent = `${name} sees input ${parts.join(", ")}: ${row.rf.map((a) => fmt(a.r)).join("×")} pixels` +
      (outside ? " — part of it hangs over the border (padding, drawn outside the input)." : ".") +
      ` Its neighbours are ${axisText(row.rf.map((a) => a.j))} input pixels apart (the jump).`;
  }

  function initRF() {
    for (const id of ["rf-spec", "rf-shape", "rf-i", "rf-j"]) $(id).addEventListener("input", updateRF);
    $("rf-layer").addEventListener("change", updateRF);
    updateRF();
  }

  // ==========================================================================================
  // 8. Self-check against poolstride.geometry (computed when the page was written)
  // ==========================================================================================
  function selfCheck() {
    const [n0, n1] = RANGES.n;
    const [f0, f1] = RANGES.f;
    const [s0, s1] = RANGES.s;
    const [p0, p1] = RANGES.p;
    const [d0, d1] = RANGES.d;
    const pool = DATA.cases.pool;
    const conv = DATA.cases.conv;
    let i = 0;
    let j = 0;
    let bad = 0;
    let first = null;
    const dec = (ch) => parseInt(ch, 36);
    for (let n = n0; n <= n1; n++)
      for (let f = f0; f <= f1; f++)
        for (let s = s0; s <= s1; s++)
          for (let p = p0; p <= p1; p++)
            for (let d = d0; d <= d1; d++) {
              for (const ceil of [false, true]) {
                const g = poolAxis(n, f, s, p, d, ceil);
                const mine = g.problem ? 0 : g.out;
                if (mine !== dec(pool[i++])) {
                  bad += 1;
                  first = first || `pool n=${n} f=${f} s=${s} p=${p} d=${d} ceil=${ceil}`;
                }
              }
              const g = convAxis(n, f, s, p, d);
              if ((g.problem ? 0 : g.out) !== dec(conv[j++])) {
                bad += 1;
                first = first || `conv n=${n} f=${f} s=${s} p=${p} d=${d}`;
              }
            }
    const total = i + j;
    const out = $("selfcheck");
    out.dataset.checked = total;
    out.dataset.failed = bad;
    if (total !== pool.length + conv.length) bad += 1;
    out.className = "selfcheck " + (bad ? "fail" : "pass");
    out.textContent = bad
      ? `✗ ${bad} of ${total} output sizes disagree with poolstride.geometry (first: ${first}). Please report this.`
      : `✓ All ${total.toLocaleString("en-US")} output sizes the sliders can produce (pooling with and without ceil_mode, convolution; valid or refused) agree with poolstride.geometry ${DATA.version}.`;
  }

  initPlayground();
  initCompare();
  initRF();
  selfCheck();
  window.poolstridePage = { compute, poolAxis, convAxis, blurAxis, backward, rfTable };
})();
