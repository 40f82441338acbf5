"""The language students read, chosen once per run; every text is written in both, side by side:
print(say(f"Saved in {path}.", f"已保存到 {path}。")). Outside a run (a library call, a test) it is English."""

import contextlib
import os
import sys

LANGUAGES = ("en", "zh")
_current = "en"  # process-wide: threads of a run (e.g. a grader's) speak one language


def say(en, zh):
    """The English or the Chinese text, whichever this run speaks."""
    return zh if _current == "zh" else en


def sentences(*parts):
    """Sentences one after the other: separated by a space in English, by nothing in Chinese; empty ones left out."""
    return ("" if _current == "zh" else " ").join(part.strip() for part in parts if part and part.strip())


def language():
    return _current


def set_language(lang):  # 'en' or 'zh' (cli.py's --lang choices): main.py, once per run
    global _current
    _current = lang


@contextlib.contextmanager
def speaking(lang):
    """Speak lang inside the block (None: keep the current language), then the language of before."""
    before = _current
    set_language(lang or before)
    try:
        yield
    finally:
        set_language(before)


KIT_VARIABLE = "COURSEKIT_LANG"  # zh or en: the kit's language whatever the locale (the tests set en)
WINDOWS_CHINESE = 0x04  # the primary language id of Chinese in a Windows LANGID (zh-CN 0x0804, zh-TW 0x0404, ...)


def locale_language(environ=None, windows_ui_language=None):
    """'zh' when the user's locale is Chinese, else 'en': COURSEKIT_LANG, then LANGUAGE (as gettext reads it:
    ignored under the C locale), LC_ALL, LC_MESSAGES, LANG; with none set, on Windows, the interface language."""
    environ = os.environ if environ is None else environ
    if environ.get(KIT_VARIABLE) in LANGUAGES:
        return environ[KIT_VARIABLE]
    posix = next((environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), "")  # POSIX order
    preferred = environ.get("LANGUAGE", "").split(":")[0]
    locale_name = preferred if preferred and posix.split(".")[0] not in ("C", "POSIX") else posix
    if locale_name:  # zh, zh_CN.UTF-8, zh_TW, zh-Hans...
        return "zh" if locale_name.lower().replace("-", "_").split("_")[0].split(".")[0] == "zh" else "en"
    if windows_ui_language is None and sys.platform == "win32":
        import ctypes  # (no windll: a test that only says it is Windows)

        windows_ui_language = getattr(ctypes, "windll", None) and ctypes.windll.kernel32.GetUserDefaultUILanguage()
    if windows_ui_language is not None and windows_ui_language & 0x3FF == WINDOWS_CHINESE:
        return "zh"
    return "en"


def can_show(encoding, text="检查通过：中文。"):
    """True when text can be written in this encoding (Chinese: utf-8, gbk, cp936 can; cp1252, ascii cannot)."""
    try:
        text.encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def choose_language(requested, encoding):
    """(language, note) for a run: requested ('zh', 'en' or None: the locale's), unless Chinese is asked for and
    the console's encoding cannot show it: then English, and note says so in one line (else note is '')."""
    lang = requested or locale_language()
    if lang == "zh" and not can_show(encoding):
        return "en", (f"(This console ({encoding}) cannot show Chinese: the report is in English. A UTF-8 console, "
                      f"e.g. Windows Terminal, shows it in Chinese.)")
    return lang, ""


def console_encoding():
    return getattr(sys.stdout, "encoding", None) or "utf-8"
