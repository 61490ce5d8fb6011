"""Tests for the YAML layer of the strategy loader (signalops.strategy._yaml).

Every later error (schema, compiler, expression) points into the file through the positions kept
here, so the positions themselves are pinned down first: values, keys, offsets inside scalars.
Then the deliberate departures from PyYAML's defaults (duplicate keys, YAML 1.2 booleans, dates as
strings, no merge keys) and every way a file can fail to be YAML at all.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from signalops.errors import StrategyError
from signalops.strategy import load, loads
from signalops.strategy._yaml import MAX_DEPTH, Mark, format_path, load_yaml

VALID = textwrap.dedent(
    """\
    strategy:
      name: "Loader_Test"
      assets: [BTC]
      rules:
        - id: oversold
          source: technical
          conditions:
            - when: "rsi(14) < 30"
    """
)


def yaml_error(text: str, file: str = "s.yaml") -> StrategyError:
    with pytest.raises(StrategyError) as info:
        load_yaml(text, file)
    return info.value


def loads_error(text: str, file: str = "s.yaml") -> StrategyError:
    with pytest.raises(StrategyError) as info:
        loads(text, file)
    return info.value


def where(error: StrategyError) -> tuple[int, int]:
    return error.line, error.column


# --- positions -----------------------------------------------------------------------------------


POSITIONED = textwrap.dedent(
    """\
    strategy:
      name: "Quoted"
      assets: [BTC, ETH]
      rules:
        - id: r1
          conditions:
            - when: |
                rsi(14) < 30
                and close > 1
    """
)


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        ((), 1, 1),
        (("strategy",), 2, 3),
        (("strategy", "name"), 2, 9),  # the opening quote
        (("strategy", "assets"), 3, 11),  # the '['
        (("strategy", "assets", 0), 3, 12),
        (("strategy", "assets", 1), 3, 17),
        (("strategy", "rules"), 5, 5),  # the first '-'
        (("strategy", "rules", 0), 5, 7),  # the mapping starts at its first key
        (("strategy", "rules", 0, "id"), 5, 11),
        (("strategy", "rules", 0, "conditions", 0, "when"), 7, 17),  # the '|'
    ],
)
def test_each_value_keeps_the_line_and_column_where_it_starts(path, line, column):
    doc = load_yaml(POSITIONED, "f.yaml")

    mark = doc.mark(path)

    assert (mark.line, mark.column) == (line, column)


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        (("strategy",), 1, 1),
        (("strategy", "name"), 2, 3),
        (("strategy", "assets"), 3, 3),
        (("strategy", "rules", 0, "id"), 5, 7),
        (("strategy", "rules", 0, "conditions"), 6, 7),
        (("strategy", "rules", 0, "conditions", 0, "when"), 7, 11),
    ],
)
def test_each_mapping_key_keeps_the_line_and_column_where_it_starts(path, line, column):
    doc = load_yaml(POSITIONED, "f.yaml")

    mark = doc.key_mark(path)

    assert (mark.line, mark.column) == (line, column)


def test_mark_index_is_the_zero_based_character_offset_of_the_value():
    doc = load_yaml(POSITIONED, "f.yaml")

    mark = doc.mark(("strategy", "rules", 0, "id"))

    assert POSITIONED[mark.index : mark.index + 2] == "r1"


def test_mark_of_a_missing_path_falls_back_to_the_nearest_enclosing_value():
    doc = load_yaml(POSITIONED, "f.yaml")

    assert doc.mark(("strategy", "rules", 0, "nope", 3)) == doc.mark(("strategy", "rules", 0))


def test_key_mark_of_a_list_item_falls_back_to_the_value_mark():
    doc = load_yaml(POSITIONED, "f.yaml")

    assert doc.key_mark(("strategy", "assets", 1)) == Mark(3, 17, 43)


def test_scalar_styles_are_recorded_per_path():
    doc = load_yaml(POSITIONED, "f.yaml")

    assert doc.styles[("strategy", "name")] == '"'
    assert doc.styles[("strategy", "assets", 0)] is None
    assert doc.styles[("strategy", "rules", 0, "conditions", 0, "when")] == "|"


def test_line_text_returns_the_source_line_or_none_outside_the_file():
    doc = load_yaml(POSITIONED, "f.yaml")

    assert doc.line_text(3) == "  assets: [BTC, ETH]"
    assert doc.line_text(0) is None
    assert doc.line_text(99) is None


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("strategy", "rules", 1, "conditions", 0), "rules[1].conditions[0]"),
        (("strategy", "execution", "position_size"), "execution.position_size"),
        (("strategy",), ""),
        ((), ""),
        (("other", 0), "other[0]"),
    ],
)
def test_paths_are_shown_relative_to_the_strategy_mapping(path, text):
    assert format_path(path) == text


def test_format_path_can_keep_the_strategy_prefix():
    assert format_path(("strategy", "rules", 0), strategy_relative=False) == "strategy.rules[0]"


def test_crlf_line_endings_keep_the_same_lines_and_columns():
    doc = load_yaml(POSITIONED.replace("\n", "\r\n"), "f.yaml")

    mark = doc.mark(("strategy", "rules", 0, "id"))

    assert (mark.line, mark.column) == (5, 11)


# --- offsets inside string scalars ---------------------------------------------------------------


def _when_doc(when_block: str):
    """A document whose only condition is ``when_block`` (already indented for line 7)."""
    text = (
        "strategy:\n"
        "  name: x\n"
        "  assets: [BTC]\n"
        "  rules:\n"
        "    - id: r\n"
        "      conditions:\n"
        f"        - when: {when_block}\n"
    )
    doc = load_yaml(text, "f.yaml")
    path = ("strategy", "rules", 0, "conditions", 0, "when")
    return doc, path, doc.data["strategy"]["rules"][0]["conditions"][0]["when"]


@pytest.mark.parametrize(
    ("when_block", "target", "line", "column"),
    [
        # line 7 is "        - when: ", so the scalar starts at column 17; block lines are
        # indented by 12 spaces, so their text starts at column 13
        ('"rsi(14) < 30"', "30", 7, 28),
        ("'rsi(14) < 30'", "30", 7, 28),
        ("rsi(14) < 30", "30", 7, 27),
        ("|\n            rsi(14) < 30\n            and close > 1", "close", 9, 17),
        ("|-\n            rsi(14) < 30\n            and close > 1", "close", 9, 17),
        ("|+\n            rsi(14) < 30\n\n            and close > 1\n", "close", 10, 17),
        # an explicit indentation indicator (relative to the key's 10) keeps the extra spaces
        ("|2\n              rsi(14) < 30", "rsi", 8, 15),
    ],
)
def test_offset_inside_a_scalar_maps_to_its_exact_file_position(when_block, target, line, column):
    doc, path, value = _when_doc(when_block)

    mark = doc.offset_mark(path, value.index(target))

    assert (mark.line, mark.column) == (line, column)
    assert doc.text[mark.index : mark.index + len(target)] == target


def test_offset_at_the_end_of_a_literal_block_maps_to_the_end_of_its_last_line():
    doc, path, value = _when_doc("|\n            rsi(14) <")

    mark = doc.offset_mark(path, len(value))

    assert value == "rsi(14) <\n"
    assert (mark.line, mark.column) == (8, 22)


@pytest.mark.parametrize(
    "when_block",
    [
        ">\n            rsi(14) < 30\n            and close > 1",  # folded: lines re-joined
        '"rsi(14) < 30 and \\"x\\" > 1"',  # escapes shift every later character
        "'it''s < 30'",  # doubled single quote
        '"rsi(14) <\n          30"',  # a quoted scalar folded over two lines
    ],
)
def test_offset_that_cannot_be_mapped_back_falls_back_to_the_scalar_start(when_block):
    doc, path, value = _when_doc(when_block)

    mark = doc.offset_mark(path, len(value) - 1)

    assert (mark.line, mark.column) == (7, 17)


def test_unicode_line_separator_counts_as_a_line_break_like_pyyaml_does():
    # PyYAML breaks lines at U+2028 (and NEL, PS, lone CR); offsets must agree with its marks.
    text = (
        "strategy:\n"
        '  description: "a\u2028b"\n'
        "  name: x\n"
        "  assets: [BTC]\n"
        "  rules: [{id: r, conditions: [{when: 'rsi < < 3'}]}]\n"
    )
    doc = load_yaml(text, "f.yaml")
    path = ("strategy", "rules", 0, "conditions", 0, "when")

    mark = doc.offset_mark(path, 6)

    assert mark.line == doc.mark(path).line == 6
    assert doc.line_text(mark.line)[mark.column - 1 :].startswith("< 3'")


def test_expression_error_inside_a_literal_block_points_at_its_file_line():
    text = textwrap.dedent(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: r
              conditions:
                - when: |
                    rsi(14) < 30 and
                    sma(20) > > 3
        """
    )

    error = loads_error(text)

    assert str(error) == "s.yaml:9:23: rules[0].conditions[0].when: unexpected '>'"
    assert error.excerpt == (
        "  " + " " * 12 + "sma(20) > > 3\n"
        "  " + " " * 22 + "^\n"
        "  expected one of: '$param', '(', '-', duration, name, number, string"
    )


# --- duplicate keys ------------------------------------------------------------------------------


def test_duplicate_top_level_key_is_an_error_at_the_second_key():
    error = yaml_error("strategy: {}\nstrategy: {}\n")

    assert str(error) == "s.yaml:2:1: duplicate key 'strategy' (first defined at line 1)"


def test_duplicate_key_in_a_rule_names_the_rule_path():
    text = textwrap.dedent(
        """\
        strategy:
          name: x
          rules:
            - id: a
              source: technical
              id: b
        """
    )

    error = yaml_error(text)

    assert str(error) == "s.yaml:6:7: rules[0]: duplicate key 'id' (first defined at line 4)"
    assert error.excerpt == "        id: b\n        ^"


def test_quoted_and_plain_spellings_of_a_key_are_the_same_key():
    error = yaml_error("a: 1\n'a': 2\n")

    assert str(error) == "s.yaml:2:1: duplicate key 'a' (first defined at line 1)"


def test_number_and_string_spellings_of_a_key_are_the_same_key():
    error = yaml_error("1: x\n'1': y\n")

    assert str(error) == "s.yaml:2:1: duplicate key '1' (first defined at line 1)"


def test_same_key_in_two_different_mappings_is_not_a_duplicate():
    doc = load_yaml("a: {x: 1}\nb: {x: 2}\n", "f")

    assert doc.data == {"a": {"x": 1}, "b": {"x": 2}}


# --- YAML 1.2 scalars ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["yes", "no", "Yes", "NO", "on", "off", "On", "OFF", "y", "n", "Y", "N"]
)
def test_yaml_1_1_boolean_words_stay_strings(word):
    doc = load_yaml(f"a: {word}\n", "f")

    assert doc.data == {"a": word}


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False)],
)
def test_only_true_and_false_are_booleans(word, value):
    doc = load_yaml(f"a: {word}\n", "f")

    assert doc.data["a"] is value


@pytest.mark.parametrize(
    "text",
    ["2024-11-06", "2024-11-06T12:30:00Z", "2024-11-06 12:30:00", "2001-12-14t21:59:43.10-05:00"],
)
def test_dates_and_timestamps_stay_strings(text):
    doc = load_yaml(f"a: {text}\n", "f")

    assert doc.data == {"a": text}


def test_norway_and_on_as_asset_symbols_load_as_strings():
    strategy = loads(VALID.replace("assets: [BTC]", "assets: [NO, ON, YES]"), "s.yaml")

    assert strategy.assets == ("NO", "ON", "YES")


def test_date_in_a_description_loads_as_the_text_written():
    strategy = loads(
        VALID.replace('  name: "Loader_Test"\n', "  name: x\n  description: 2024-11-06\n")
    )

    assert strategy.description == "2024-11-06"


def test_numbers_and_nulls_still_resolve_as_in_pyyaml():
    doc = load_yaml("a: [1, -2, 0.5, ~, null, '3']\n", "f")

    assert doc.data == {"a": [1, -2, 0.5, None, None, "3"]}


def test_non_string_keys_become_their_source_text():
    doc = load_yaml("1: a\ntrue: b\n1.50: c\nnull: d\n", "f")

    assert doc.data == {"1": "a", "true": "b", "1.50": "c", "null": "d"}


def test_complex_mapping_key_is_an_error():
    error = yaml_error("? [a, b]\n: 1\n")

    assert str(error) == "s.yaml:1:3: a mapping key must be a plain string"


# --- empty and invalid files ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# only a comment\n", "# a\n# b\n"])
def test_empty_file_is_an_error_at_line_1(text):
    error = loads_error(text)

    assert str(error) == "s.yaml:1:1: the file is empty"
    assert error.errors == (error,)


def test_document_that_is_only_a_marker_is_not_a_mapping():
    error = loads_error("---\n")

    assert str(error) == "s.yaml:2:1: expected a mapping, got nothing"


def test_top_level_list_is_not_a_mapping():
    error = loads_error("[1, 2]\n")

    assert str(error) == "s.yaml:1:1: expected a mapping, got a list"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: b: c\n",
            "s.yaml:1:5: invalid YAML: mapping values are not allowed here (check the "
            "indentation of this line against the one above; a value that holds ': ' goes in "
            "quotes)",
        ),
        (
            "strategy: [\n",
            "s.yaml:2:1: invalid YAML: expected the node content, but found '<stream end>'",
        ),
        (
            "a:\n  - b\n  c: d\n",
            "s.yaml:3:3: invalid YAML: expected <block end>, but found '?' (check the "
            "indentation of this line against the one above)",
        ),
        (
            "a: 'unterminated\n",
            "s.yaml:2:1: invalid YAML: found unexpected end of stream",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "s.yaml:2:1: invalid YAML: but found another document",
        ),
        (
            "a:\t1\n",
            "s.yaml:1:3: invalid YAML: found character '\\t' that cannot start any token",
        ),
        ("a: *missing\n", "s.yaml:1:4: invalid YAML: found undefined alias 'missing'"),
        (
            "a: !custom x\n",
            "s.yaml:1:4: invalid YAML: could not determine a constructor for the tag '!custom'",
        ),
        (
            "a: !!python/object:os.system x\n",
            "s.yaml:1:4: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
        ),
    ],
)
def test_invalid_yaml_is_reported_with_its_position(text, expected):
    error = loads_error(text)

    assert str(error) == expected


def test_invalid_yaml_excerpt_shows_the_line_and_a_caret():
    error = loads_error("strategy:\n  name: a: b\n")

    assert where(error) == (2, 10)
    assert error.excerpt == "    name: a: b\n           ^"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!int abc\n", "s.yaml:1:4: a: invalid YAML: 'abc' is not a valid !!int"),
        ("a: !!float abc\n", "s.yaml:1:4: a: invalid YAML: 'abc' is not a valid !!float"),
        ("a: !!bool maybe\n", "s.yaml:1:4: a: invalid YAML: 'maybe' is not a valid !!bool"),
        ("a: !!timestamp x\n", "s.yaml:1:4: a: invalid YAML: 'x' is not a valid !!timestamp"),
        ("!!int abc: 1\n", "s.yaml:1:1: invalid YAML: 'abc' is not a valid !!int"),
        (
            "a: " + "1" * 5000 + "\n",
            "s.yaml:1:4: a: invalid YAML: '" + "1" * 5000 + "' is not a valid !!int",
        ),
    ],
)
def test_explicit_tag_that_does_not_fit_its_value_is_a_strategy_error(text, expected):
    error = loads_error(text)

    assert str(error) == expected


@pytest.mark.parametrize(
    ("text", "line", "column", "code"),
    [
        ("a: 1\nb: \x00\n", 2, 4, "0x0000"),
        ("a: 1\nb: x\x07y\n", 2, 5, "0x0007"),
        ("\x1b[31mstrategy: x\n", 1, 1, "0x001b"),
    ],
)
def test_control_character_is_a_strategy_error_at_its_position(text, line, column, code):
    error = loads_error(text)

    assert where(error) == (line, column)
    assert error.message == f"invalid YAML: the character {code} is not allowed in a YAML file"


def test_tab_indentation_is_reported_at_the_tab():
    error = loads_error("strategy:\n\tname: x\n")

    assert where(error) == (2, 1)
    assert error.message.startswith("invalid YAML: found character '\\t'")


# --- aliases and merge keys ----------------------------------------------------------------------


def test_alias_repeats_the_anchored_value():
    doc = load_yaml("a: &shared {b: 1, c: [x]}\nd: *shared\n", "f")

    assert doc.data == {"a": {"b": 1, "c": ["x"]}, "d": {"b": 1, "c": ["x"]}}
    assert doc.data["a"] is not doc.data["d"]  # copies: nothing downstream can alias-mutate


def test_values_reached_through_an_alias_point_at_the_anchored_text():
    doc = load_yaml("a: &shared {b: 1}\nd: *shared\n", "f")

    assert doc.mark(("d", "b")) == doc.mark(("a", "b")) == Mark(1, 16, 15)


def test_anchored_condition_can_be_reused_in_another_rule():
    text = textwrap.dedent(
        """\
        strategy:
          name: x
          assets: [BTC]
          rules:
            - id: a
              conditions:
                - &oversold {when: "rsi(14) < 30"}
            - id: b
              conditions:
                - *oversold
        """
    )

    strategy = loads(text, "s.yaml")

    assert [leaf.text for leaf in strategy.tree.leaves()] == ["rsi(14) < 30", "rsi(14) < 30"]


def test_alias_that_contains_itself_is_an_error():
    error = yaml_error("a: &loop [1, *loop]\n")

    assert str(error) == "s.yaml:1:4: a[1]: a YAML alias refers to itself"


def test_aliases_expanding_into_too_many_values_are_refused_quickly():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]

    error = yaml_error("\n".join(lines) + "\n")  # 10**9 values if expanded

    assert error.message == "the document has more than 100000 values (YAML aliases expanding?)"
    assert error.line >= 1


def test_merge_key_is_refused_with_a_pointer_to_params_and_defaults():
    text = textwrap.dedent(
        """\
        base: &base {source: technical}
        rule:
          <<: *base
          id: r
        """
    )

    error = yaml_error(text)

    assert str(error) == (
        "s.yaml:3:3: rule: YAML merge keys ('<<') are not supported; use params and defaults"
    )


def test_quoted_double_angle_key_is_an_ordinary_key():
    doc = load_yaml("'<<': 1\n", "f")

    assert doc.data == {"<<": 1}


# --- nesting -------------------------------------------------------------------------------------


def test_document_nested_deeper_than_the_limit_is_refused_at_the_first_too_deep_value():
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"

    error = yaml_error(text)

    assert error.message == f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
    assert where(error) == (1, 4 + MAX_DEPTH)


def test_document_nested_deep_enough_to_exhaust_the_parser_stack_is_a_strategy_error():
    error = yaml_error("a: " + "[" * 5000 + "]" * 5000 + "\n")

    assert error.message == f"the document is nested too deeply (more than {MAX_DEPTH} levels)"
    assert error.line == 1


def test_deeply_nested_conditions_are_refused_before_validation():
    condition = '{when: "rsi(14) < 30"}'
    for _ in range(300):
        condition = "{not: " + condition + "}"
    text = VALID.replace('- when: "rsi(14) < 30"', "- " + condition)

    error = loads_error(text)

    assert error.message.startswith("the document is nested too deeply")


# --- load(path) ----------------------------------------------------------------------------------


def test_load_reads_a_file_and_cites_its_path(tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text(VALID, encoding="utf-8")

    strategy = load(path)

    assert strategy.file == str(path)
    assert strategy.tree.leaves()[0].span.file == str(path)


def test_load_error_starts_with_the_file_path(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("strategy: [\n", encoding="utf-8")

    with pytest.raises(StrategyError) as info:
        load(path)

    assert str(info.value).startswith(f"{path}:2:1: invalid YAML")


def test_missing_file_is_a_strategy_error_without_a_line(tmp_path: Path):
    path = tmp_path / "missing.yaml"

    with pytest.raises(StrategyError) as info:
        load(path)

    assert str(info.value) == f"{path}: no such file"
    assert info.value.line == 0
    assert info.value.excerpt == ""


def test_directory_is_a_strategy_error(tmp_path: Path):
    with pytest.raises(StrategyError) as info:
        load(tmp_path)

    assert str(info.value) == f"{tmp_path}: is a directory, not a strategy file"


def test_file_that_is_not_utf8_is_a_strategy_error(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("Loader_Test", "Caf\xe9").encode("latin-1"))

    with pytest.raises(StrategyError) as info:
        load(path)

    assert str(info.value) == f"{path}: not UTF-8 text (invalid continuation byte at byte 22)"


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode("utf-8"))

    strategy = load(path)

    assert strategy.name == "Loader_Test"
