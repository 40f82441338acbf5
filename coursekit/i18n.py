"""The language students read: English or Chinese, chosen once per run, every text written in both side by side.

    from coursekit.i18n import say
    print(say(f"Saved in {path}.", f"已保存到 {path}。"))   # the text in this run's language

main.py chooses the language once (`--lang zh|en`; without it, Chinese under a Chinese locale, else English) with
`choose_language`, and runs inside `speaking(lang)`. Everything else only calls say(). Outside a run (a library
call, a test) the language is English unless set, so that nothing depends on the machine's locale by accident.
A console that cannot show Chinese (a Windows cp1252 console) gets English, and one line saying why.
"""

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
    """'en' or 'zh': the language of this run."""
    return _current


def set_language(lang):
    """Speak lang ('en' or 'zh') from now on; ValueError for any other value."""
    global _current
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    _current = lang


@contextlib.contextmanager
def speaking(lang):
    """Speak lang inside the block (None: keep the current language), then the language of before."""
    before = _current
    if lang is not None:
        set_language(lang)
    try:
        yield
    finally:
        set_language(before)


# ---------------------------------------------------------------------------------------------------------------
# Choosing the language of a run

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX: the first one set decides
KIT_VARIABLE = "COURSEKIT_LANG"  # zh or en: the kit's language whatever the locale (the tests set en)
WINDOWS_CHINESE = 0x04  # the primary language id of Chinese in a Windows LANGID (zh-CN 0x0804, zh-TW 0x0404, ...)


def locale_language(environ=None, windows_ui_language=None):
    """'zh' when the user's locale is Chinese, else 'en'.

    environ: the environment to read (default os.environ): COURSEKIT_LANG (zh or en) when set, then LANGUAGE (GNU's
    list of preferred languages, as gettext reads it: ignored under the C locale), then LC_ALL, LC_MESSAGES, LANG.
    When none is set and this is Windows, the user's interface language (windows_ui_language: a LANGID, default:
    asked from Windows).
    """
    environ = os.environ if environ is None else environ
    if environ.get(KIT_VARIABLE) in LANGUAGES:
        return environ[KIT_VARIABLE]
    posix = next((environ[name] for name in LOCALE_VARIABLES if environ.get(name)), "")
    preferred = environ.get("LANGUAGE", "").split(":")[0]
    if preferred and posix.split(".")[0] not in ("C", "POSIX"):
        return _language_of(preferred)
    if posix:
        return _language_of(posix)
    if windows_ui_language is None and sys.platform == "win32":
        windows_ui_language = _windows_ui_language()
    if windows_ui_language is not None and windows_ui_language & 0x3FF == WINDOWS_CHINESE:
        return "zh"
    return "en"


def _language_of(locale_name):
    """'zh' for zh, zh_CN.UTF-8, zh_TW, zh-Hans...; 'en' for anything else."""
    return "zh" if locale_name.lower().replace("-", "_").split("_")[0].split(".")[0] == "zh" else "en"


def _windows_ui_language():
    try:
        import ctypes

        return ctypes.windll.kernel32.GetUserDefaultUILanguage()
    except (ImportError, AttributeError, OSError):  # not Windows after all, or no kernel32: no answer
        return None


def can_show_chinese(encoding):
    """True when text in Chinese can be written in this encoding (utf-8, gbk, cp936 can; cp1252, ascii cannot)."""
    try:
        "检查通过：中文。".encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def choose_language(requested=None, encoding=None, environ=None, windows_ui_language=None):
    """(language, note) for a run: requested ('zh', 'en' or None: the locale's), unless Chinese is asked for and
    the console's encoding cannot show it: then English, and note says so in one line (else note is '')."""
    lang = requested or locale_language(environ, windows_ui_language)
    if lang == "zh" and encoding is not None and not can_show_chinese(encoding):
        return "en", (f"(This console ({encoding}) cannot show Chinese: the report is in English. A UTF-8 console, "
                      f"e.g. Windows Terminal, shows it in Chinese.)")
    return lang, ""


def console_encoding(stream=None):
    """The encoding text written to stream (default: sys.stdout) is encoded with."""
    stream = sys.stdout if stream is None else stream
    return getattr(stream, "encoding", None) or "utf-8"
