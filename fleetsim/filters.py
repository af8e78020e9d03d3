"""The ``filter`` query parameter of Compute list calls, over a resource's API JSON.

Supported: comparisons ``field OP value`` with OP one of ``= != : < <= > >=`` (``:`` is
"has" with ``*`` wildcards) or the legacy ``eq`` / ``ne`` (value is a regular expression
matched against the whole field); fields are dotted JSON paths (``name``, ``status``,
``sourceDisk``, ``creationTimestamp``, ``labels.KEY``...); values bare or quoted;
terms combined with ``AND`` (or juxtaposition), ``OR``, ``NOT`` and parentheses.
Anything else is answered with 400, as GCP does for a filter it cannot parse.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from fleetsim.errors import ApiError

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(
        \( | \)
      | "(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*'
      | != | <= | >= | = | < | > | :
      | [^\s()=!<>:"']+
    )""",
    re.VERBOSE,
)
_OPS = {"=", "!=", ":", "<", "<=", ">", ">=", "eq", "ne"}


def _invalid(text: str, why: str) -> ApiError:
    return ApiError(400, f"Invalid value for field 'filter': '{text}'. {why}", "invalid")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _invalid(text, "Unexpected character.")
        out.append(m.group(1))
        pos = m.end()
    return out


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def _lookup(resource: dict[str, Any], path: str) -> Any:
    value: Any = resource
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _compare(actual: Any, op: str, expected: str) -> bool:
    if actual is None:
        return op in {"!=", "ne"}
    text = str(actual).lower() if isinstance(actual, bool) else str(actual)
    if op == "=":
        return text == expected
    if op == "!=":
        return text != expected
    if op == ":":
        return fnmatch.fnmatchcase(text, expected) if "*" in expected else expected in text
    if op in {"eq", "ne"}:
        matched = re.fullmatch(expected, text) is not None
        return matched if op == "eq" else not matched
    try:
        left: Any = float(text)
        right: Any = float(expected)
    except ValueError:
        left, right = text, expected
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def next(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _invalid(self.text, "Unexpected end of expression.")
        self.pos += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.expr()
        if self.peek() is not None:
            raise _invalid(self.text, f"Unexpected token '{self.peek()}'.")
        return pred

    def expr(self) -> Predicate:
        terms = [self.and_expr()]
        while self.peek() == "OR":
            self.next()
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else (lambda r: any(t(r) for t in terms))

    def and_expr(self) -> Predicate:
        terms = [self.unary()]
        while (tok := self.peek()) is not None and tok not in {")", "OR"}:
            if tok == "AND":
                self.next()
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    def unary(self) -> Predicate:
        if self.peek() == "NOT":
            self.next()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == "(":
            self.next()
            inner = self.expr()
            if self.next() != ")":
                raise _invalid(self.text, "Missing ')'.")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        field = self.next()
        op = self.next()
        if op not in _OPS or field in _OPS or field in {"(", ")"}:
            raise _invalid(self.text, f"Expected 'field OPERATOR value' near '{field} {op}'.")
        value = _unquote(self.next())
        if op in {"eq", "ne"}:
            try:
                re.compile(value)
            except re.error as exc:
                raise _invalid(self.text, f"Bad regular expression: {exc}.") from exc
        return lambda r: _compare(_lookup(r, field), op, value)


def compile_filter(text: str) -> Predicate:
    """A predicate over API JSON dicts; an empty filter matches everything."""
    if not text.strip():
        return lambda _r: True
    return _Parser(text).parse()
