"""Browsing without a browser: links and HTML forms of one page, through lxml.html.

A `Page` is the parsed last response of a scenario. The form steps change its fields in place
(fill in, select, check, choose), the way webrat and Mechanize kept a page's form state for
cucumber-nagios, and `attach` picks a file for a file field; `press` and `submit_form` then
return a `Submission` (method, URL, fields and files as a browser would send them) that the
steps hand to the HTTP probe. A page that lacks what a step
names raises `FormError` (the site is not what the feature says: the scenario fails). Called by
`escalator.steps.http_forms`; also gives the visible text that "I should see" falls back on.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

_BUTTON_TYPES = {"submit", "image", "button"}
_NOT_TEXT = {"submit", "image", "button", "reset", "checkbox", "radio", "file", "hidden"}


class FormError(AssertionError):
    """The page has no such link, field, option or button: what the feature expects is missing."""


@dataclass(frozen=True)
class Submission:
    """A request a form would make: fields in document order, as a browser sends them; `files`
    (field, file name, content, media type) make it a multipart/form-data POST."""

    method: str
    url: str
    fields: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, str, bytes, str], ...] = ()


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _listing(names: list[str]) -> str:
    names = [n for n in dict.fromkeys(names) if n]
    shown = ", ".join(f'"{n}"' for n in names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "") or "none"


def _parse(body: bytes, charset: str) -> Any:
    """The document tree; an empty page when the body is not HTML at all. A charset Python
    decodes but libxml2 does not know (cp037, utf-8-sig) is decoded here first."""
    try:
        try:
            parser = lxml.html.HTMLParser(encoding=charset)
        except LookupError:
            body, parser = (body.decode(charset, errors="replace").encode(),
                            lxml.html.HTMLParser(encoding="utf-8"))
        return lxml.html.document_fromstring(body or b"<html></html>", parser=parser)
    except (etree.ParserError, ValueError, LookupError):
        return lxml.html.document_fromstring(b"<html></html>")


class Page:
    """One HTML page and the state of its forms; `url` is where it was fetched from, `where`
    how reasons name it (an error page says it is one)."""

    def __init__(self, body: bytes, url: str, charset: str = "utf-8", where: str | None = None
                 ) -> None:
        self.url = url
        self.where = where or url
        self.root: Any = _parse(body, charset)
        base = self.root.find(".//base[@href]")
        self.base = urljoin(url, base.get("href")) if base is not None else url
        self.attached: dict[Any, tuple[str, bytes]] = {}  # file field -> (file name, content)

    def visible_text(self) -> str:
        """The text a reader sees: no scripts, styles or markup, whitespace collapsed."""
        parts = [t for t in self.root.xpath("//body//text()[not(ancestor::script)"
                                            " and not(ancestor::style)]")]
        if not parts:
            parts = self.root.xpath("//text()[not(ancestor::script) and not(ancestor::style)]")
        return _norm(" ".join(parts))

    def has_class(self, name: str) -> bool:
        """Whether an element of CSS class `name` is on the page (an "error message")."""
        return bool(self.root.xpath(
            "//*[contains(concat(' ', normalize-space(@class), ' '), $c)]", c=f" {name} "))

    # ---- links -----------------------------------------------------------------------

    def link(self, text: str) -> str:
        """The absolute URL of the link shown as `text` (then by id, title, image alt, part)."""
        links = self.root.xpath("//a[@href]")
        wanted = _norm(text)

        def exact(a: Any) -> bool:
            return _norm(a.text_content()) == wanted

        def named(a: Any) -> bool:
            alts = [_norm(i.get("alt")) for i in a.iter("img")]
            return wanted in (a.get("id"), a.get("title")) or wanted in alts

        def partly(a: Any) -> bool:
            return wanted.lower() in _norm(a.text_content()).lower()

        for test in (exact, named, partly):
            found = next((a for a in links if test(a)), None)
            if found is not None:
                href = str(found.get("href")).strip()
                if href.lower().startswith("javascript:"):
                    raise FormError(f'the link "{text}" on {self.where} needs JavaScript')
                return urljoin(self.base, href)
        shown = _listing([_norm(a.text_content()) for a in links])
        raise FormError(f'no link "{text}" on {self.where} (links: {shown})')

    # ---- fields ----------------------------------------------------------------------

    def _controls(self) -> list[Any]:
        return list(self.root.xpath("//input|//textarea|//select|//button"))

    def _labelled(self, wanted: str) -> list[Any]:
        """Controls whose <label> reads `wanted` (label for=id, or a label around the control)."""
        found = []
        for label in self.root.xpath("//label"):
            if _norm(label.text_content()).rstrip(":* ").lower() != wanted.lower().rstrip(":* "):
                continue
            target = label.get("for")
            if target:
                found += self.root.xpath("//*[@id=$id]", id=target)
            found += label.xpath(".//input|.//textarea|.//select")
        return found

    def _field(self, locator: str, kinds: str, accept: Any) -> Any:
        """The first control matching `locator` by id, name, label or placeholder."""
        wanted = _norm(locator)
        controls = [c for c in self._controls() if accept(c)]
        candidates = ([c for c in controls if c.get("id") == wanted]
                      + [c for c in controls if c.get("name") == wanted]
                      + [c for c in self._labelled(wanted) if c in controls]
                      + [c for c in controls if wanted in (_norm(c.get("placeholder")),
                                                           _norm(c.get("aria-label")))])
        if candidates:
            return candidates[0]
        shown = _listing([self._describe(c) for c in controls])
        plural = kinds + ("es" if kinds.endswith("x") else "s")
        raise FormError(f'no {kinds} "{locator}" on {self.where} ({plural}: {shown})')

    def _describe(self, control: Any) -> str:
        ident = control.get("id")
        labels = self.root.xpath("//label[@for=$id]", id=ident) if ident else []
        if labels:
            return _norm(labels[0].text_content()).rstrip(":* ")
        return control.get("name") or control.get("id") or ""

    def fill_in(self, locator: str, value: str) -> None:
        field = self._field(locator, "text field", lambda c: c.tag == "textarea" or (
            c.tag == "input" and (c.get("type") or "text").lower() not in _NOT_TEXT))
        if field.tag == "textarea":
            field.text = value
        else:
            field.set("value", value)

    def select(self, option: str, locator: str) -> None:
        field = self._field(locator, "select box", lambda c: c.tag == "select")
        options = field.xpath(".//option")
        wanted = _norm(option)
        chosen = next((o for o in options if _norm(o.text_content()) == wanted), None)
        chosen = chosen if chosen is not None else next(
            (o for o in options if o.get("value") == option), None)
        if chosen is None:
            shown = _listing([_norm(o.text_content()) for o in options])
            raise FormError(f'no option "{option}" in "{locator}" on {self.where} '
                            f"(options: {shown})")
        if field.get("multiple") is None:
            for other in options:
                other.attrib.pop("selected", None)
        chosen.set("selected", "selected")

    def set_checked(self, locator: str, checked: bool) -> None:
        box = self._field(locator, "checkbox", lambda c: c.tag == "input"
                          and (c.get("type") or "").lower() == "checkbox")
        if checked:
            box.set("checked", "checked")
        else:
            box.attrib.pop("checked", None)

    def attach(self, locator: str, filename: str, content: bytes) -> None:
        """Pick a file for a file field (by label, name or id), as a browser's file dialog."""
        field = self._field(locator, "file field", lambda c: c.tag == "input"
                            and (c.get("type") or "").lower() == "file")
        self.attached[field] = (filename, content)

    def choose(self, locator: str) -> None:
        radios = [c for c in self._controls() if c.tag == "input"
                  and (c.get("type") or "").lower() == "radio"]
        by_value = [r for r in radios if r.get("value") == locator]
        try:
            radio = self._field(locator, "radio button", lambda c: c in radios)
        except FormError:
            if not by_value:
                raise
            radio = by_value[0]
        form = self._form_of(radio)
        for other in radios:
            if other.get("name") == radio.get("name") and self._form_of(other) is form:
                other.attrib.pop("checked", None)
        radio.set("checked", "checked")

    # ---- submitting ------------------------------------------------------------------

    def _form_of(self, control: Any) -> Any:
        owner = control.get("form")
        if owner:
            found = self.root.xpath("//form[@id=$id]", id=owner)
            if found:
                return found[0]
        return next(iter(control.iterancestors("form")), None)

    def press(self, label: str) -> Submission:
        """Press the button reading `label` (or with that id or name): its form's request."""
        buttons = [c for c in self._controls() if _is_button(c)]
        wanted = _norm(label)
        button = next((b for b in buttons if wanted in (
            _button_label(b), b.get("id"), b.get("name"), _norm(b.get("alt")),
            _norm(b.get("title")))), None)
        if button is None:
            shown = _listing([_button_label(b) for b in buttons])
            raise FormError(f'no button "{label}" on {self.where} (buttons: {shown})')
        form = self._form_of(button)
        if form is None:
            raise FormError(f'the button "{label}" on {self.where} is not in a form')
        extra = ((button.get("name"), button.get("value") or ""),) if button.get("name") else ()
        return self._submission(form, extra, button)

    def submit_form(self, name: str) -> Submission:
        forms = self.root.xpath("//form")
        form = next((f for f in forms if name in (f.get("name"), f.get("id"))), None)
        if form is None:
            shown = _listing([f.get("name") or f.get("id") or "" for f in forms])
            raise FormError(f'no form named "{name}" on {self.where} (forms: {shown})')
        return self._submission(form, (), None)

    def _submission(self, form: Any, extra: tuple[tuple[str, str], ...], button: Any
                    ) -> Submission:
        method = ((button is not None and button.get("formmethod")) or form.get("method")
                  or "GET").upper()
        action = (button is not None and button.get("formaction")) or form.get("action") or ""
        url = urljoin(self.base, action.strip()) if action.strip() else self.url
        if method == "GET":  # a browser replaces the action's query with the form's fields
            url = urlunsplit(urlsplit(url)._replace(query="", fragment=""))
        elif method != "POST":
            method = "GET"
        fields, files = tuple(_form_fields(form)) + extra, self._files(form)
        if method == "GET" or (form.get("enctype") or "").lower() != "multipart/form-data":
            # without multipart a browser sends only the chosen file's name
            return Submission(method, url, fields + tuple((f[0], f[1]) for f in files))
        return Submission(method, url, fields, files)

    def _files(self, form: Any) -> tuple[tuple[str, str, bytes, str], ...]:
        """The form's named, enabled file fields with what was attached (an empty part if
        nothing was, as a browser sends it)."""
        found = []
        for control in form.xpath(".//input"):
            name = control.get("name")
            if (control.get("type") or "").lower() == "file" and name \
                    and control.get("disabled") is None:
                filename, content = self.attached.get(control, ("", b""))
                media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                found.append((name, filename, content, media))
        return tuple(found)


def _is_button(control: Any) -> bool:
    if control.tag == "button":
        return (control.get("type") or "submit").lower() == "submit"
    return control.tag == "input" and (control.get("type") or "text").lower() in _BUTTON_TYPES


def _button_label(button: Any) -> str:
    """What a reader sees on a button: an <input>'s value, a <button>'s text."""
    return _norm(button.get("value") if button.tag == "input" else button.text_content())


def _form_fields(form: Any) -> list[tuple[str, str]]:
    """The fields a browser submits: named, enabled, checked boxes only, no buttons or files."""
    fields: list[tuple[str, str]] = []
    for control in form.xpath(".//input|.//textarea|.//select"):
        name = control.get("name")
        if not name or control.get("disabled") is not None:
            continue
        if control.tag == "textarea":
            fields.append((name, control.text or ""))
        elif control.tag == "select":
            options = control.xpath(".//option")
            chosen = [o for o in options if o.get("selected") is not None]
            if not chosen and options and control.get("multiple") is None:
                chosen = options[:1]
            fields += [(name, o.get("value", _norm(o.text_content()))) for o in chosen]
        else:
            kind = (control.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if control.get("checked") is not None:
                    fields.append((name, control.get("value", "on")))
            elif kind not in _BUTTON_TYPES | {"reset", "file"}:
                fields.append((name, control.get("value") or ""))
    return fields
