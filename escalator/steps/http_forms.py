"""Browsing phrases: follow links and fill in and submit HTML forms, as cucumber-nagios did.

The current page (`http_client.page`) holds the form state: "fill in", "select", "check",
"uncheck" and "choose" change it; "press" and "submit the form named" send the form with the
scenario's client (cookies kept) and make the answer the new page. A link, field or button the
page lacks fails the scenario and lists what the page does have.
"""

from __future__ import annotations

import os
from typing import Any

from behave import when

from escalator.steps import http_client as web
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import StepSetupError, expand

PROBES = ("escalator.probes.http", "escalator.probes.forms")
VARIABLES = web.VARIABLES


# ---- links ------------------------------------------------------------------------------

@when('I follow "{link:Q}"')
def step_i_follow(context: Any, link: str) -> None:
    """When I follow "Sign in"

    The link whose text is this (else its id, title or image alt, else part of its text).
    """
    web.request(context, web.page(context).link(expand(context, link)), resolve=False)


# ---- fields -----------------------------------------------------------------------------

@when('I fill in "{field:Q}" with "{value:Q}"')
def step_i_fill_in_with(context: Any, field: str, value: str) -> None:
    """When I fill in "Username" with "monitor"

    The field by label, name, id or placeholder; the value may be a ${secret}.
    """
    web.page(context).fill_in(expand(context, field), expand(context, value))


@when('I select "{option:Q}" from "{field:Q}"')
def step_i_select_from(context: Any, option: str, field: str) -> None:
    """When I select "Europe" from "Region\""""
    web.page(context).select(expand(context, option), expand(context, field))


@when('I check "{field:Q}"')
def step_i_check(context: Any, field: str) -> None:
    """When I check "Remember me\""""
    web.page(context).set_checked(expand(context, field), True)


@when('I uncheck "{field:Q}"')
def step_i_uncheck(context: Any, field: str) -> None:
    """When I uncheck "Send me news\""""
    web.page(context).set_checked(expand(context, field), False)


@when('I attach the file at "{path:Q}" to "{field:Q}"')
def step_i_attach_the_file_at_to(context: Any, path: str, field: str) -> None:
    """When I attach the file at "/srv/monitor/probe.csv" to "Upload"

    A file of this machine for a file field (by label, name or id); "I press" then sends it in a
    multipart/form-data POST, as a browser would. (cucumber-nagios's phrase never matched: its
    pattern ended in a space.)
    """
    local = os.path.expanduser(expand(context, path))
    try:
        with open(local, "rb") as file:
            content = file.read()
    except OSError as exc:
        raise StepSetupError(f"cannot attach {local}: {(exc.strerror or str(exc)).lower()}"
                             ) from None
    web.page(context).attach(expand(context, field), os.path.basename(local), content)


@when('I choose "{field:Q}"')
def step_i_choose(context: Any, field: str) -> None:
    """When I choose "Express delivery"

    A radio button by label, id or value; the others of its group are cleared.
    """
    web.page(context).choose(expand(context, field))


# ---- submitting -------------------------------------------------------------------------

@when('I press "{button:Q}"')
def step_i_press(context: Any, button: str) -> None:
    """When I press "Log in"

    Submits the button's form with the fields as filled in, and the button's own name=value.
    """
    sent = web.page(context).press(expand(context, button))
    web.request(context, sent.url, sent.method, sent.fields, resolve=False, files=sent.files)


@when('I submit the form named "{name:Q}"')
def step_i_submit_the_form_named(context: Any, name: str) -> None:
    """When I submit the form named "search\""""
    sent = web.page(context).submit_form(expand(context, name))
    web.request(context, sent.url, sent.method, sent.fields, resolve=False, files=sent.files)
