"""The kit's translation catalogues (proxy/locale/): extract, compile and compare them.

    python scripts/messages.py           # make messages: refresh every proxy/locale/<lang>/LC_MESSAGES/django.po
                                         # from the sources, then compile each to its django.mo
    python scripts/messages.py --check   # exit 1, saying why, if a catalogue is out of date (what the tests check)

Extraction is Django's own (``makemessages``, GNU xgettext underneath: ``scripts/ensure-gettext.sh`` installs it),
over ``proxy/`` without its test helpers (``proxy/testing/``: the fake Cyclr is not the kit's to translate).
A refreshed catalogue keeps its translations (msgmerge); a new sentence arrives untranslated, a changed one fuzzy:
translate it, drop the ``fuzzy`` flag, and run this again to compile. ``tests/test_translations.py`` fails until
every catalogue holds exactly the sentences in the sources, each translated and not fuzzy, and its ``.mo`` says
what its ``.po`` says.
"""
import ast
import gettext
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROXY_DIR = ROOT / "proxy"
# makemessages' options, one place for `make messages` and the test: no file:line comments (they churn with every
# edit), the test helpers left out.
MAKEMESSAGES_OPTIONS = ("--no-location", "--ignore=testing/*")


def languages(proxy_dir=PROXY_DIR):
    """The languages ``proxy/locale/`` ships, e.g. ``["fr"]``."""
    return sorted(path.parent.parent.name for path in (proxy_dir / "locale").glob("*/LC_MESSAGES/django.po"))


def django_admin(command, *args, cwd):
    """Run ``django-admin <command>`` in ``cwd`` (no project settings needed: Django's defaults do)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "-m", "django", command, *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"django-admin {command} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def make_messages(proxy_dir=PROXY_DIR):
    """Refresh each language's ``django.po`` under ``proxy_dir`` from the sources there."""
    for language in languages(proxy_dir):
        django_admin("makemessages", "--locale", language, *MAKEMESSAGES_OPTIONS, cwd=proxy_dir)


def compile_messages(proxy_dir=PROXY_DIR):
    django_admin("compilemessages", cwd=proxy_dir)


def read_po(path):
    """``{msgid: entry}`` of a ``.po`` file, header left out; an entry is ``{"msgstr": [...], "flags": set, "plural"}``.

    Enough of the format for Django's catalogues (no msgctxt is used by the kit; a context is kept in the key).
    """
    entries, entry, field = {}, None, None

    def close():
        if entry is not None and entry.get("msgid"):
            key = (entry.get("msgctxt"), entry["msgid"])
            entries[key if key[0] else key[1]] = entry

    for line in Path(path).read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            close()
            entry, field = None, None
            continue
        if entry is None:
            entry = {"flags": set(), "msgstr": [], "plural": None, "obsolete": False}
        if line.startswith("#~"):
            entry["obsolete"] = True
            continue
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            value = ast.literal_eval(line)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += value
            else:
                entry[field[0]] += value
            continue
        value = ast.literal_eval(rest)
        if keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword != "msgstr" else 0
            entry["msgstr"].append(value)
            field = ("msgstr", index)
        else:
            name = "plural" if keyword == "msgid_plural" else keyword
            entry[name] = value
            field = (name, None)
    return {key: entry for key, entry in entries.items() if not entry["obsolete"]}


def problems(proxy_dir=PROXY_DIR):
    """Why the catalogues in ``proxy_dir/locale/`` are out of date: one sentence each (empty: they are current)."""
    found = []
    if not languages(proxy_dir):
        return ["proxy/locale/ holds no catalogue"]
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "proxy"
        shutil.copytree(proxy_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
        make_messages(copy)
        for language in languages(proxy_dir):
            po = proxy_dir / "locale" / language / "LC_MESSAGES" / "django.po"
            shipped, fresh = read_po(po), read_po(copy / "locale" / language / "LC_MESSAGES" / "django.po")
            name = f"proxy/locale/{language}/LC_MESSAGES/django.po"
            for msgid in sorted(set(fresh) - set(shipped), key=str):
                found.append(f"{name} lacks a sentence the sources have: {msgid!r} (run: make messages)")
            for msgid in sorted(set(shipped) - set(fresh), key=str):
                found.append(f"{name} holds a sentence the sources no longer have: {msgid!r} (run: make messages)")
            for msgid, entry in shipped.items():
                if "fuzzy" in entry["flags"]:
                    found.append(f"{name}: the translation of {msgid!r} is marked fuzzy: check it, drop the flag")
                elif not entry["msgstr"] or not all(entry["msgstr"]):
                    found.append(f"{name}: {msgid!r} is not translated")
            found += mo_problems(po.with_suffix(".mo"), shipped)
    return found


def mo_problems(mo, shipped):
    """Where ``django.mo`` does not say what its ``django.po`` (read as ``shipped``) says: not compiled after an edit."""
    name = f"proxy/locale/{mo.parent.parent.name}/LC_MESSAGES/django.mo"
    if not mo.exists():
        return [f"{name} is missing (run: make messages)"]
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for msgid, entry in shipped.items():
        if "fuzzy" in entry["flags"] or not isinstance(msgid, str):
            continue
        if entry["plural"] is None:
            said = [compiled.gettext(msgid)]
        else:
            said = [compiled.ngettext(msgid, entry["plural"], n) for n in (1, 2)]
        if said != entry["msgstr"][:len(said)]:
            stale.append(msgid)
    if stale:
        return [f"{name} is older than its .po ({len(stale)} sentences differ, e.g. {stale[0]!r}): run make messages"]
    return []


def main(argv):
    if "--check" in argv:
        found = problems()
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    make_messages()
    compile_messages()
    print(f"refreshed and compiled: {', '.join(languages())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
