from hypothesis import given
from hypothesis import strategies as st

from poolstride.report.palette import COLORS, MARKERS, variant_styles


def test_default_grid_gets_distinct_colours_and_markers_in_order():
    styles = variant_styles(["max", "avg", "conv", "blur-max", "none"])
    assert [s.color for s in styles.values()] == list(COLORS[:5])
    assert len({s.marker for s in styles.values()}) == 5


@given(st.lists(st.text(min_size=1), unique=True, max_size=64))
def test_styles_are_unique_and_depend_only_on_order(names):
    styles = variant_styles(names)
    assert list(styles) == names
    assert len({(s.color, s.marker) for s in styles.values()}) == len(names)
    assert variant_styles(names) == styles
    # a variant's style does not depend on the variants after it
    assert variant_styles(names[: len(names) // 2]) == {
        k: styles[k] for k in names[: len(names) // 2]
    }


def test_duplicates_keep_their_first_style():
    styles = variant_styles(["max", "conv", "max"])
    assert list(styles) == ["max", "conv"]
    assert styles["conv"].color == COLORS[1] and styles["conv"].marker == MARKERS[1]
