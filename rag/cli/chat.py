"""`rag chat`: a conversation in the terminal, follow-ups resolved through `Pipeline.chat`.

Interactive: a prompt, the answer, its numbered sources; `/sources N` shows source N inside
its paragraph, `/new` starts over, `/help`, `/quit` (or Ctrl-D). Colour only on a terminal
and never with NO_COLOR set. `--json`: questions from stdin, one per line, one answer object
per line on stdout (for scripts).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, TextIO

import click

from rag.chat import Turn
from rag.citations import paragraph_around
from rag.cli.common import EXIT_USAGE, load_pipeline, load_settings
from rag.errors import InvalidQuestionError
from rag.ingest import describe_date
from rag.pipeline import Pipeline
from rag.types import Answer, Citation

WIDTH = 88
PROMPT = "you> "
HIGHLIGHT, RESET = "\x1b[1;33m", "\x1b[0m"
HELP = """\
Ask a question about the articles; follow-ups ("how many personnel will staff it?") are
understood from the conversation so far.
  /sources N   show source N of the last answer inside its paragraph
  /new         start a new conversation
  /help        this help
  /quit        leave (or Ctrl-D)"""


def use_colour(stream: TextIO) -> bool:
    """ANSI styles only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return not os.environ.get("NO_COLOR") and stream.isatty()


@dataclass
class Session:
    pipeline: Pipeline
    top_k: int | None = None
    history: list[Turn] = field(default_factory=list)
    last: Answer | None = None

    def ask(self, question: str) -> tuple[Answer, str]:
        if self.pipeline.store.shared:  # a server may have changed the articles meanwhile
            self.pipeline = self.pipeline.refreshed()
        reply = self.pipeline.chat(self.history, question, self.top_k)
        self.history += [Turn("user", question), Turn("assistant", reply.answer.answer)]
        self.last = reply.answer
        return reply.answer, reply.resolved_question

    def reset(self) -> None:
        self.history, self.last = [], None


class Screen:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def out(self, text: str = "", **style: Any) -> None:
        click.echo(click.style(text, **style) if self.colour and style else text, color=None)

    def wrap(self, text: str, indent: str = "") -> str:
        return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)

    def answer(self, session: Session, answer: Answer, question: str, resolved: str) -> None:
        self.out()
        if resolved != question:
            self.out(self.wrap(f"(searched for: {resolved})"), dim=True)
        self.out(self.wrap(answer.answer), fg="yellow" if answer.abstained else None)
        if answer.citations:
            self.out()
            self.out("Sources", bold=True)
            for citation in answer.citations:
                self.source_line(session, citation)
            self.out("(/sources N shows one in context; /help for commands)", dim=True)
        self.out()

    def source_line(self, session: Session, c: Citation) -> None:
        doc = session.pipeline.index.documents[c.doc_id]
        where = ", ".join(x for x in (doc.outlet, describe_date(doc)) if x)
        self.out(f" [{c.marker}] {c.title}" + (f" — {where}" if where else ""), bold=True)
        self.out(self.wrap(f"“{c.quote}”", "     "))

    def in_context(self, session: Session, c: Citation) -> None:
        text = session.pipeline.index.documents[c.doc_id].text
        lo, hi = paragraph_around(text, c.start, c.end)
        before, quote, after = text[lo : c.start], text[c.start : c.end], text[c.end : hi]
        self.out()
        self.out(f"[{c.marker}] {c.title}", bold=True)
        self.out(f"{c.doc_id}, characters {c.start}-{c.end}", dim=True)
        self.out()
        if self.colour:  # wrap the plain text, then style the quote line by line
            wrapped = self.wrap(f"{before}\x00{quote}\x01{after}".replace("\n", " "), "  ")
            lines, inside = [], False
            for line in wrapped.split("\n"):
                prefix = HIGHLIGHT if inside else ""
                inside = ("\x00" in line or inside) and "\x01" not in line
                line = line.replace("\x00", HIGHLIGHT).replace("\x01", RESET)
                lines.append(prefix + line + (RESET if inside else ""))
            click.echo("\n".join(lines), color=True)
        else:
            self.out(self.wrap(f"{before}»{quote}«{after}".replace("\n", " "), "  "))
        self.out()


def run_interactive(session: Session, screen: Screen) -> None:
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    screen.out("Ask about NATO's arrangements for aid to Ukraine. /help for commands.", dim=True)
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            screen.out()
            return
        except KeyboardInterrupt:
            screen.out()
            continue
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not command(session, screen, line):
                return
            continue
        try:
            answer, resolved = session.ask(line)
        except InvalidQuestionError as exc:
            screen.out(f"error: {exc}", fg="red")
            continue
        screen.answer(session, answer, line, resolved)


def command(session: Session, screen: Screen, line: str) -> bool:
    """Runs a /command; False to leave."""
    name, _, arg = line.partition(" ")
    name = name.lower()
    if name in ("/quit", "/exit", "/q"):
        return False
    if name in ("/help", "/?"):
        screen.out(HELP)
    elif name == "/new":
        session.reset()
        screen.out("New conversation: earlier questions are forgotten.", dim=True)
    elif name in ("/sources", "/source", "/s"):
        show_source(session, screen, arg.strip())
    else:
        screen.out(f"Unknown command {name}: /help lists the commands.", fg="red")
    return True


def show_source(session: Session, screen: Screen, arg: str) -> None:
    citations = session.last.citations if session.last else []
    if not citations:
        screen.out("No sources to show: the last answer has none (ask a question first).")
        return
    markers = [c.marker for c in citations]
    if not arg:
        for citation in citations:
            screen.in_context(session, citation)
        return
    if not arg.isdigit() or int(arg) not in markers:
        screen.out(
            f"There is no source {arg!r}: the last answer has "
            f"{', '.join(str(m) for m in markers)} (type /sources N).",
            fg="red",
        )
        return
    screen.in_context(session, next(c for c in citations if c.marker == int(arg)))


def run_json(session: Session, stdin: TextIO) -> int:
    """One question per input line, one JSON object per output line; "/new" starts over.
    A bad line gets an error object (and the exit status 2 at the end), the rest go on."""
    status = 0
    for raw in stdin:
        line = raw.strip()
        if not line:
            continue
        if line.lower() == "/new":
            session.reset()
            continue
        try:
            answer, resolved = session.ask(line)
        except InvalidQuestionError as exc:
            status = EXIT_USAGE
            click.secho(f"error: {exc}", fg="red", err=True)
            error = {
                "message": str(exc),
                "type": "invalid_request_error",
                "code": "invalid_question",
            }
            out: dict[str, Any] = {"question": line, "error": error}
        else:
            out = {**answer.model_dump(), "question": line, "resolved_question": resolved}
        click.echo(json.dumps(out, ensure_ascii=False))
        sys.stdout.flush()
    return status


@click.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Read questions from stdin, one per line; write one JSON answer per line.",
)
@click.option("--top-k", type=click.IntRange(1, 50), default=None, help="Passages to retrieve.")
def chat(as_json: bool, top_k: int | None) -> None:
    """Chat with the articles in the terminal (follow-up questions understood)."""
    settings = load_settings()
    session = Session(load_pipeline(settings), top_k)
    if as_json:
        sys.exit(run_json(session, sys.stdin))
    run_interactive(session, Screen(use_colour(sys.stdout)))
