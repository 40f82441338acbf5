"""What grading writes: each submission's table and a batch's summary, the CSV, Gradescope's results.json."""

import csv
import io
import json

from .. import report
from .submission import NOT_RUN

VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")  # Gradescope's
MAX_TEST_OUTPUT = 1500  # characters of one test's output in results.json
MAX_OUTPUT = 10_000  # characters of the whole report in results.json
MAX_RESULTS = 100_000  # bytes of results.json at most (Gradescope shows it to the student)


def format_table(grade, points):
    """The submission's checks with points and status, then the total and any problem."""
    full = sum(points.values())
    header = f"== {grade.label}  ({grade.seconds:.1f} s)"
    if not grade.results:  # nothing ran: the reason is all there is to say
        return "\n".join([header, f"  total 0/{full}", *(f"  ! {problem}" for problem in grade.problems)])
    width = max(len(name) for name in points)
    lines = [header, f"  {'check':<{width}}  points  status"]
    for name in points:
        result = grade.results.get(name)
        why = f"  {result.detail.splitlines()[0]}" if result and result.status == "FAIL" and result.detail else ""
        lines.append(f"  {name:<{width}}  {grade.score(name, points):>3}/{points[name]:<3} {grade.status(name)}{why}")
    lines.append(f"  {'total':<{width}}  {grade.total(points):>3}/{full}")
    lines += [f"  ! {problem}" for problem in grade.problems]
    return "\n".join(lines)


def format_summary(grades, points):
    """One line per submission: total, path, and the first problem if any."""
    lines = [f"Summary of {len(grades)} submissions:"]
    full = sum(points.values())
    for grade in grades:
        note = f"  ({one_line(grade.problems[0])})" if grade.problems else ""
        lines.append(f"  {grade.total(points):>3}/{full}  {grade.label}{note}")
    return "\n".join(lines)


def gradescope_results(grade, points, assignment, args):
    """Gradescope's results.json: the score, the student's report, one test per check with its status."""
    tests = []
    for name, worth in points.items():
        result = grade.results.get(name)
        if result and result.status != NOT_RUN:
            output = "\n".join(text for text in (result.status, result.detail, result.hint) if text)
        else:
            output = f"{NOT_RUN}: {result.detail if result else '; '.join(grade.problems)}"
        cls = next(check.cls for check in assignment.checks if check.name == name)
        tests.append({"name": name if cls in name else f"{cls}: {name}", "score": grade.score(name, points),
                      "max_score": worth, "status": "passed" if grade.status(name) == "pass" else "failed",
                      "output": cut(output, MAX_TEST_OUTPUT), "visibility": args.visibility})
    lines, ran = [f"! {problem}" for problem in grade.problems], list(grade.results.values())
    if ran:  # the report a student reads, as main.py --checks_only prints it
        lines.append(report.format_report(ran, assignment.tasks, encoding="utf-8", lang=args.lang))
    results = {"score": sum(test["score"] for test in tests), "output": cut("\n".join(lines).strip(), MAX_OUTPUT),
               "visibility": args.visibility, "tests": tests}
    while len(json.dumps(results, indent=2)) > MAX_RESULTS:  # long non-ASCII messages (6 bytes a character)
        results["output"] = cut(results["output"], len(results["output"]) // 2)
        for test in tests:
            test["output"] = cut(test["output"], len(test["output"]) // 2)
    return results


def cut(text, limit):
    return text if len(text) <= limit else text[:max(0, limit - 20)] + "\n[... cut]"


def grades_csv(grades, points, similar=None):
    """One row per submission: student, path, total, seconds, the points of each check, the problems, and with
    `similar` (similarity.Similarity) its most similar other submission, how much, and how much like the reference."""
    text = io.StringIO()
    writer = csv.writer(text)
    extra = ["most_similar", "similarity", "similarity_to_reference"] if similar else []
    writer.writerow(["student", "path", "total", "seconds", *points, "problems", *extra])
    for grade in grades:
        row = [grade.student, grade.label, grade.total(points), f"{grade.seconds:.2f}",
               *(grade.score(name, points) for name in points), "; ".join(map(one_line, grade.problems))]
        if similar:
            match = similar.matches[grade.label]
            row += [match.nearest, f"{match.score:.2f}", f"{match.reference:.2f}"]
        writer.writerow(row)
    return text.getvalue()


def one_line(text):
    return " ".join(text.split())
