"""The report a student reads: one line per check, by class; every failure explained (a detail said once); the notes;
"Next:" (the earliest unwritten or failing method, in task order); last "N/M checks passed"."""

import re

from .files import shown_path
from .gradcheck import width
from .i18n import can_show, console_encoding, language, say, speaking
from .tasks import EXAMPLE, INTEGRATION

MARKS = {"pass": "✓", "FAIL": "✗", "TODO": "○", "not run": "·"}
ASCII_MARKS = {"pass": "+", "FAIL": "x", "TODO": "-", "not run": "."}
STATUS_ZH = {"pass": "通过", "FAIL": "失败", "TODO": "待完成", "not run": "未运行"}
BLOCKERS_SHOWN = 2  # checks named in "(waits for ...)"; more are named by their classes
# The Chinese of the check names (the English names are the identifiers: --explain, the grader's results.json).
TITLES_ZH = [(r"^(\S+) shapes? and dtype$", r"\1 的形状和数据类型"), (r"^(\S+) values?$", r"\1 的值"),
             (r"^(\S+) stability at (.+)$", r"\1 在 \2 时的稳定性"),
             (r"^(\S+) stability with probabilities of 0$", r"\1 在概率为 0 时的稳定性"),
             (r"^(\S+) leaves (\S+) and (\S+) unchanged$", r"\1 不改动 \2 和 \3"),
             (r"^(\S+) leaves its inputs unchanged$", r"\1 不改动它的输入"),
             (r"^(\S+) twice gives the same result$", r"\1 两次的结果相同"),
             (r"^(\S+) training lowers the loss$", r"\1 训练能让损失下降")]
CJK = "\u2e80-\u9fff\uff00-\uffef"
STRAY_SPACE = re.compile(f"(?<=[{CJK}]) +(?=[{CJK}])")


def title(name):
    """A check's name as the report shows it: in Chinese, its Chinese name (the class and arrays stay code)."""
    if language() != "zh":
        return name
    for pattern, zh in TITLES_ZH:
        if re.match(pattern, name):
            return re.sub(pattern, zh, name).replace(" and ", " 和 ")
    return name


def status(name):
    return say(name, STATUS_ZH.get(name, name))


def chinese_typography(text):
    """In Chinese, no space between two Chinese characters or full-width punctuation ('梯度 应该' -> '梯度应该')."""
    return STRAY_SPACE.sub("", text) if language() == "zh" else text


def indent(text):
    return "\n".join("    " + line for line in text.split("\n"))


def reread(task, tasks):
    """Where to look when a check of this row fails."""
    if task.kind == EXAMPLE:
        return say(f"{task.cls} came complete with the kit, as the worked example: if you changed it, put it back.",
                   f"{task.cls} 是随作业给出的示例，已经写好：如果你改过它，请改回去。")
    if task.kind == INTEGRATION:
        sections = sorted(t.section for t in tasks if t.kind not in (EXAMPLE, INTEGRATION) and t.section)
        span = f"{sections[0]}-{sections[-1]}" if len(sections) > 1 else f"{sections[0]}" if sections else "?"
        return say(f"{task.cls} runs your layers: fix the failures of the other classes first, then reread "
                   f"{task.handout} sections {span}.",
                   f"{task.cls} 把你写的各层串起来运行：先修好其它类的错误，再重读讲义 {task.handout} 第 {span} 节。")
    return say(f"Reread {task.handout} section {task.section} ({task.cls}).",
               f"重读讲义 {task.handout} 第 {task.section} 节（{task.cls}）。")


def todo_detail(task, method, message, model_file, line):
    """What a TODO reached: the stub's own message (in Chinese: from the task table), and where the stub is."""
    path = shown_path(model_file)
    if language() == "zh" and task.number is not None:
        where = f"；{path} 第 {line} 行" if line else ""
        return f"任务 {task.number}：{task.cls}.{method}（见讲义 {task.handout} 第 {task.section} 节{where}）"
    text = message or (task.where(method) if task.number is not None else f"{task.cls}.{method}")
    return text + (f" ({path}, line {line})" if line else "")


def format_report(results, tasks, encoding=None, lang=None, explain_command=None):
    """The report. encoding: the console's (Chinese where it cannot show it: English, with a note). explain_command:
    e.g. 'python chapter03/startup/main.py --explain "{name}"', shown under each failure (the grader gives none)."""
    encoding = encoding or console_encoding()
    lang, note = lang or language(), []
    if lang == "zh" and not can_show(encoding):
        lang, note = "en", [f"(This console ({encoding}) cannot show Chinese: the report is in English.)"]
    with speaking(lang):
        marks = MARKS if can_show(encoding, "".join(MARKS.values())) else ASCII_MARKS  # not on cp1252, cp936
        lines = note + check_list(results, tasks, marks)
        rows = {task.cls: task for task in tasks}
        for cls in dict.fromkeys(r.cls for r in results):
            block = failures_of([r for r in results if r.cls == cls], reread(rows[cls], tasks), explain_command)
            lines += [""] + block if block else []
        for result in results:
            if result.status == "pass" and result.hint:
                lines += ["", say(f"{result.name}: passed, with a note", f"{title(result.name)}：通过，但有提示"),
                          indent(result.hint)]
        report = chinese_typography("\n".join([*lines, "", *summary(results, tasks)]))
    # The student's own text (an exception message, a line of code) may hold characters the console cannot print.
    return report.encode(encoding, errors="replace").decode(encoding)


def check_list(results, tasks, marks):
    examples, lines = {task.cls for task in tasks if task.kind == EXAMPLE}, []
    example = say(" (the worked example, already complete)", "（示例，已经写好）")
    for cls in dict.fromkeys(r.cls for r in results):
        lines.append(cls + (example if cls in examples else ""))
        for r in (r for r in results if r.cls == cls):
            shown = status(r.status)
            line = f"  {marks[r.status]} {shown}{' ' * (7 - width(shown))}  {title(r.name)}"
            names = r.blocked_by.split(", ") if r.status == "not run" and r.blocked_by else []
            classes = ", ".join(dict.fromkeys(name.split(".")[0].split(" ")[0] for name in names))
            waited = (say(r.blocked_by, "、".join(title(name) for name in names)) if len(names) <= BLOCKERS_SHOWN
                      else say(f"checks of {classes}", f"{classes.replace(', ', '、')} 的检查"))
            lines.append(line + (say(f"  (waits for {waited})", f"（等待 {waited}）") if names else ""))
    return lines


def failures_of(results, reread_text, explain_command):
    """The explanations of the failing checks of one class: each detail once, reread_text only with the first."""
    lines, said = [], {}
    for r in (r for r in results if r.status == "FAIL"):
        if r.detail in said:
            lines.append(say(f"{r.name}: FAIL, for the same reason as {said[r.detail]}.",
                             f"{title(r.name)}：失败，原因同 {title(said[r.detail])}。"))
            continue
        lines += [say(f"{r.name}: FAIL", f"{title(r.name)}：失败"), indent(r.detail)]
        hint = r.hint[:-len(reread_text)].strip() if said and reread_text and r.hint.endswith(reread_text) else r.hint
        said[r.detail] = r.name
        if hint:
            lines.append(indent(say("Hint: ", "提示：") + hint))
        if explain_command:
            lines.append(indent(say("Inputs and wrong entries: ", "输入和出错的位置：")
                                + explain_command.format(name=r.name)))
    return lines


def summary(results, tasks):
    """The last lines: what is left (the methods to write, task by task), what to do next, 'N/M checks passed'."""
    passed, todo, blocked = (sum(r.status == status for r in results) for status in ("pass", "TODO", "not run"))
    last = say(f"{passed}/{len(results)} checks passed", f"通过 {passed}/{len(results)} 项检查")
    if passed == len(results):
        return [say("Every check passed: your layers agree with the math. Time to train.",
                    "全部检查通过：你写的各层和数学推导一致。可以开始训练了。"), last]
    lines = [say(f"{blocked} {'check' if blocked == 1 else 'checks'} did not run: each waits for what is named "
                 f"beside it.", f"{blocked} 项检查没有运行：每项都在等旁边写出的东西。")] if blocked else []
    if todo:
        lines.append(say(f"{todo} checks wait for code you have not written yet:",
                         f"{todo} 项检查在等你还没写的代码："))
    for task in tasks:  # '  Task 1: Linear.forward, Linear.backward (section 1)'
        names = ", ".join(f"{task.cls}.{m}" for m in task.methods
                          if any(r.cls == task.cls and r.status == "TODO" and r.method == m for r in results))
        if names and task.number is None:
            lines.append(f"  {names}")
        elif names:
            lines.append(say(f"  Task {task.number}: {names} ({task.handout} section {task.section})",
                             f"  任务 {task.number}：{names.replace(', ', '、')}"
                             f"（讲义 {task.handout} 第 {task.section} 节）"))
    first = next((r for r in results if r.status in ("FAIL", "TODO")), None)  # Next: the earliest to fix or write
    if first is None:
        first = next(r for r in results if r.status != "pass")
        upcoming = say(f"Next: {first.name} did not run; see what it waits for above.",
                       f"下一步：{title(first.name)} 没有运行，看上面它在等什么。")
    elif first.status == "TODO":
        upcoming = say("Next: ", "下一步：") + first.detail
    else:
        upcoming = say(f"Next: fix {first.name} (explained above).",
                       f"下一步：修好 {title(first.name)}（见上面的解释）。")
    return lines + [upcoming, last]
