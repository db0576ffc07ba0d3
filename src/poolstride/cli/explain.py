"""``poolstride explain``: walk through pooling or a strided convolution step by step.

``poolstride explain [max|avg|conv] --matrix "1 3 2 1; 2 9 1 1" --kernel 2 --stride 2``
prints each window, its values, the value chosen (max), the average or the dot product, and
the output filling in; ``--backward`` adds where the gradient goes; ``--gif FILE`` writes the
animation. ``poolstride explain shift`` shows what a one-pixel shift does after pooling.
``poolstride explain --html FILE`` writes the interactive explainer page (one HTML file).
"""

from __future__ import annotations

import sys

import click

from poolstride.errors import PoolstrideError, unknown

TOPICS = ("max", "avg", "conv", "shift")


def _emit(lines, plain: bool | None) -> None:
    from poolstride.explain.render import to_string

    if plain is None:  # colour only when a person is looking at a terminal
        plain = not sys.stdout.isatty()
    click.echo(to_string(lines, plain=plain), nl=False, color=not plain)


@click.command("explain")
@click.argument("topic", required=False, default="max", metavar="[max|avg|conv|shift]")
@click.option(
    "--matrix",
    "input_text",
    default=None,
    help='Input matrix, rows separated by ";" (e.g. "1 3 2 1; 2 9 1 1"); one row = 1-D. '
    "Default: the 4x4 example (shift: an 8x8 digit).",
)
@click.option(
    "--kernel",
    "-k",
    default=None,
    help="Kernel size: 2 or 2x3. Default: 2 (conv: the weights' shape).",
)
@click.option(
    "--stride",
    default=None,
    help="Stride: 2 or 2x1. Default: the kernel (pooling) or 2 (conv).",
)
@click.option(
    "--padding", "-p", default="0", show_default=True, help="Zero padding per side: 1 or 1x0."
)
@click.option("--dilation", default="1", show_default=True, help="Dilation (max, conv).")
# The spellings before 0.2, kept hidden for one release: across poolstride's commands -s is
# --seeds, -d --dataset and --input a shape (CxHxW), so explain no longer uses them.
@click.option("--input", "-i", "old_input", default=None, hidden=True)
@click.option("-s", "old_stride", default=None, hidden=True)
@click.option("-d", "old_dilation", default=None, hidden=True)
@click.option("--ceil-mode", is_flag=True, help="Round the output size up (max, avg).")
@click.option(
    "--count-include-pad/--no-count-include-pad",
    default=True,
    show_default=True,
    help="avg: count padding zeros in the divisor.",
)
@click.option(
    "--kernel-weights",
    "-w",
    default=None,
    help='conv kernel, e.g. "1 0; 0 -1". Default: +1 top-left, -1 bottom-right.',
)
@click.option("--backward", "-b", is_flag=True, help="Also show where the gradient goes.")
@click.option(
    "--grad", "-g", default=None, help="Upstream gradient, the output's shape. Default: all ones."
)
@click.option(
    "--gif",
    "gif_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write an animated GIF of the window sliding (with --backward: the gradient).",
)
@click.option("--pattern", default="7", show_default=True, help='shift: the 8x8 digit, "7" or "1".')
@click.option(
    "--direction", default="right", show_default=True, help="shift: right, left, down or up."
)
@click.option("--pixels", default=1, show_default=True, type=int, help="shift: how far to shift.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(),  # checked by write_page, which words the one-line error
    default=None,
    help="Write the interactive explainer page (one self-contained HTML file) and stop; "
    "TOPIC picks the operator it starts with.",
)
@click.option(
    "--plain/--color",
    default=None,
    help="Plain text (for pipes) or colour. Default: colour only on a terminal.",
)
def explain(
    topic,
    input_text,
    kernel,
    stride,
    padding,
    dilation,
    ceil_mode,
    count_include_pad,
    kernel_weights,
    backward,
    grad,
    gif_path,
    pattern,
    direction,
    pixels,
    html_path,
    plain,
    old_input,
    old_stride,
    old_dilation,
):
    """Step-by-step walkthrough of max/avg pooling or a strided convolution (numbers from PyTorch).

    \b
    poolstride explain                           # 2x2 max pooling of the 4x4 example
    poolstride explain avg --matrix "1 2 3 4 5 6" -k 3 --stride 2 -p 1 --backward
    poolstride explain conv -w "1 0; 0 -1" --gif conv.gif
    poolstride explain shift --pattern 1
    poolstride explain --html explain.html      # the interactive page, for a browser
    """
    for old, value, new in (
        ("--input/-i", old_input, "--matrix"),
        ("-s", old_stride, "--stride"),
        ("-d", old_dilation, "--dilation"),
    ):
        if value is not None:
            click.echo(f"note: explain {old} is now {new} (the old spelling goes in 0.3)", err=True)
    input_text = input_text if old_input is None else old_input
    stride = stride if old_stride is None else old_stride
    dilation = dilation if old_dilation is None else old_dilation
    if topic not in TOPICS:
        raise unknown("topic", topic, TOPICS)
    if gif_path:
        from poolstride.cli import check_output_file

        check_output_file(gif_path, "--gif")
    if html_path:
        _write_html(click.get_current_context(), topic, html_path)
        return
    if topic == "shift":
        from poolstride.explain.shift import shift_demo

        if gif_path or backward or kernel_weights or grad:
            raise PoolstrideError(
                "--gif, --backward, --kernel-weights and --grad are for max/avg/conv, not 'shift'"
            )
        demo = shift_demo(input_text, pattern=pattern, pixels=pixels, direction=direction)
        _emit(demo.lines(), plain)
        return

    from poolstride.explain.render import render_walkthrough
    from poolstride.explain.walkthrough import walkthrough

    w = walkthrough(
        input_text,
        op=topic,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        weights=kernel_weights,
        grad=grad,
    )
    _emit(render_walkthrough(w, backward=backward), plain)
    if gif_path:
        frames = w.write_gif(gif_path, backward=backward)
        click.echo(f"wrote {gif_path} ({frames} frames)", err=True)


def _write_html(ctx: click.Context, topic: str, path: str) -> None:
    """``--html FILE``: the page has its own controls, so walkthrough options are refused."""
    from click.core import ParameterSource

    from poolstride.explain.explainer_page import write_page

    given = [
        max(p.opts, key=len)
        for p in ctx.command.params
        if p.name not in ("topic", "html_path", "plain")
        and ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE
    ]
    if given or topic == "shift":
        what = ", ".join(given) if given else "'shift'"
        raise PoolstrideError(
            f"--html writes the interactive page, which has its own controls; {what} cannot be "
            "used with it (give only the operator to start with: max, avg or conv)"
        )
    written = write_page(path, op=topic)
    size_kb = written.stat().st_size / 1024
    click.echo(f"wrote {written} ({size_kb:.0f} KB): open it in a browser; it needs no network")
