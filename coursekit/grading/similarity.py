"""Copies found, for the instructor only: each file's winnowed fingerprints (as MOSS does) of its statements as
ast.unparse writes them, names made "N" and strings "S", per function (so renames, comments, layout and the order of
methods do not matter), the startup file's taken away; similarity is the Jaccard index of two sets. A lead, not a
proof: the layers are a dozen lines, and two honest students may write the same one."""

import ast
import collections
import copy
import io
import itertools
import keyword
import tokenize
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..startup import make_startup
from .submission import find_model_file

K = 8  # tokens per k-gram
WINDOW = 3  # hashes per winnowing window
MAX_BYTES = 1 << 20  # of a file read (a submission is a few kB)
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
           tokenize.ENDMARKER}
BLOCKS = ("body", "orelse", "finalbody", "handlers")


def tokens(text, line=None):
    """[(normalized token, line)] of a text: names "N" (NumPy's kept: no student chooses them), strings "S";
    `line` for all of them (a statement's), or each token's own."""
    found, last = [], ("", "")
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in SKIPPED:
                continue
            word = token.string
            if token.type == tokenize.NAME and not keyword.iskeyword(word):
                word = word if last == ("np", ".") else "N"
            elif token.type == tokenize.STRING:
                word = "S"
            last = (last[1], token.string)
            found.append((word, line or token.start[0]))
    except (tokenize.TokenError, SyntaxError):
        pass  # what was read so far counts
    return found


def collect(body, owner, found):
    """The statements of body, as ast.unparse writes them, into found ({unit: tokens}): each function is a unit of
    its own (its first line), so that the order of methods does not matter; the rest belongs to `owner`."""
    for node in body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring
        unit = node.lineno if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else owner
        head = copy.copy(node)  # a block by its head only: its statements follow
        for block in BLOCKS:
            if hasattr(head, block):
                setattr(head, block, [])
        found.setdefault(unit, []).extend(tokens(ast.unparse(head), node.lineno))  # no layout, comments, parentheses
        for block in BLOCKS:
            collect(getattr(node, block, None) or [], unit, found)


def fingerprints(text, common=()):
    """{hash: (the lines of its K tokens, where it first occurs)}: the winnowed fingerprints of a source text, but
    those in common. Per unit (function) of the file; one unit of its tokens when it does not parse."""
    units = {}
    try:
        collect(ast.parse(text).body, 0, units)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        units = {0: tokens(text)}
    kept = {}
    for found in units.values():
        grams = [(zlib.crc32(" ".join(word for word, _ in found[i:i + K]).encode()),
                  tuple(line for _, line in found[i:i + K])) for i in range(max(1, len(found) - K + 1))]
        for start in range(max(1, len(grams) - WINDOW + 1)) if found else ():
            digest, lines = min(grams[start:start + WINDOW], key=lambda gram: gram[0])
            if digest not in common:
                kept.setdefault(digest, lines)
    return kept


def jaccard(a, b):
    return len(a.keys() & b.keys()) / len(a.keys() | b.keys()) if a or b else 0.0


@dataclass
class Match:
    """One submission's nearest: the other submission most like it, how much, and how much like the reference."""

    nearest: str = ""
    score: float = 0.0
    reference: float = 0.0


@dataclass
class Similarity:
    """Every submission's Match; the pairs above the threshold: (score, label, label, [(line, its match's line)])."""

    matches: dict = field(default_factory=dict)
    pairs: list = field(default_factory=list)
    threshold: float = 0.5
    texts: dict = field(default_factory=dict)  # label -> the text compared


def read_source(path):
    try:
        with open(path, "rb") as file:
            return file.read(MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def of_submissions(assignment, labels, threshold):
    """The Similarity of the submissions at labels (files, or folders holding one), against the reference too."""
    texts = {}
    for label in labels:
        model_file, _ = find_model_file(Path(label), assignment.file_name)
        texts[label] = read_source(model_file) if model_file else ""
    reference = read_source(assignment.solution)
    return compare(texts, make_startup(reference, assignment.tasks), reference, threshold)


def compare(texts, shared="", reference="", threshold=0.5):
    """The Similarity of the submissions' texts ({label: text}), each also against the reference text, the
    fingerprints of what all share (the startup file's text) taken away."""
    common = fingerprints(shared).keys()
    prints = {label: fingerprints(text, common) for label, text in texts.items()}
    reference_prints = fingerprints(reference, common)
    result = Similarity(threshold=threshold, texts=texts)
    for label, mine in prints.items():
        others = [(jaccard(mine, theirs), other) for other, theirs in prints.items() if other != label]
        score, nearest = max(others, default=(0.0, ""))
        result.matches[label] = Match(nearest, score, jaccard(mine, reference_prints))
    for one, other in itertools.combinations(prints, 2):
        score = jaccard(prints[one], prints[other])
        if score >= threshold:
            result.pairs.append((score, one, other, matching_lines(prints[one], prints[other])))
    result.pairs.sort(key=lambda pair: -pair[0])
    return result


def matching_lines(one, other):
    """[(line in one, line in other)] of their shared fingerprints, token by token, in the order of the first file;
    a line of one is paired with the line of the other most of its tokens match."""
    votes = collections.defaultdict(collections.Counter)
    for digest in one.keys() & other.keys():
        for mine, theirs in zip(one[digest], other[digest]):
            votes[mine][theirs] += 1
    return [(mine, max(theirs, key=theirs.get)) for mine, theirs in sorted(votes.items())]


def report(result):
    """For the terminal: each submission's nearest and its similarity to the reference, then the pairs above the
    threshold, their matching lines side by side."""
    rows = ["Similarity (for the instructor: never in results.json; 1.00 = the same code, renamed or reformatted):"]
    for label, match in result.matches.items():
        rows.append(f"  {label}: nearest {match.nearest or '-'} {match.score:.2f}, reference {match.reference:.2f}")
    if not result.pairs:
        rows.append(f"No pair at or above {result.threshold:.2f}.")
        return "\n".join(rows)
    rows.append(f"Similar pairs (at or above {result.threshold:.2f}), the matching lines side by side:")
    return "\n".join(rows + [side_by_side(pair, result.texts) for pair in result.pairs])


def side_by_side(pair, texts, width=60, most=40):
    """The report of one pair: its score, then each matching line of one file beside the other's."""
    score, one, other, lines = pair
    left, right = texts[one].splitlines(), texts[other].splitlines()
    rows = [f"{score:.2f}  {one}  <->  {other}"]
    for a, b in lines[:most]:
        rows.append(f"  {a:>4} {left[a - 1].strip()[:width]:<{width}} | {b:>4} {right[b - 1].strip()[:width]}")
    if len(lines) > most:
        rows.append(f"  ... {len(lines) - most} more matching lines")
    return "\n".join(rows)
