"""Printing helpers against the shapes bpftrace 0.17 prints (checked by hand against `bpftrace -e` here)."""
from pyebpf.trace.output import MapPrinter, format_printf, hist_label


def test_printf_reads_ints_at_the_directive_width():
    assert format_printf("%u %lu %-6d| %5s| %c %%\n", [-1, 5, 3, "ab", 65]) == "4294967295 5 3     |    ab| A %%\n"


def test_hist_labels():
    assert [hist_label(b) for b in (-1, 0, 1, 2, 11, 22)] == ["(..., 0)", "[0]", "[1]", "[2, 4)", "[1K, 2K)",
                                                                 "[2M, 4M)"]


def test_count_map_sorted_by_value_and_avg_blank_line():
    assert MapPrinter("@c", "count").text({("bb",): 2, ("a",): 1}) == "@c[a]: 1\n@c[bb]: 2\n"
    assert MapPrinter("@a", "avg").text({(): (13, 2)}) == "@a: 6\n\n"
    assert MapPrinter("@s", "stats").text({(): (-7, 2)}) == "@s: count 2, average -3, total -7\n\n"
